"""Admin for provider templates, providers, proxies, API keys and management tokens."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from core.admin import (
    ReadOnlyRecordAdmin,
    ServiceAdmin,
    admin_link,
    admin_url,
    changelist_url,
    render_issue_page,
    tool,
    user_may,
)
from core.errors import DomainError
from deployments.models import CURRENT_STATUSES, Deployment
from deployments.selectors import is_out_of_date, proxy_routing_state
from gateways.selectors import gateways_with_status
from guardrails.admin import GuardrailsTabMixin
from guardrails.admin_limits import RateLimitsTabMixin, concrete_resources, recent_keys
from guardrails.admin_routing import RoutingTabMixin, inherited_routing
from proxies import services
from proxies.forms import (
    AWS_CREDENTIAL_FIELDS,
    GenerateAPIKeyForm,
    IssueManagementTokenForm,
    ProviderForm,
    ProviderTemplateForm,
    ProxyForm,
    ThrottledAdminAuthenticationForm,
)
from proxies.models import (
    Adapter,
    APIKey,
    APIKeyStatus,
    ManagementToken,
    Provider,
    ProviderTemplate,
    Proxy,
)
from proxies.selectors import api_key_list, effective_inbound_key, invoke_url

# Too many failed sign-ins for a username or from an address lock them out for a while.
admin.site.login_form = ThrottledAdminAuthenticationForm

# --- templates -------------------------------------------------------------------------------


@admin.register(ProviderTemplate)
class ProviderTemplateAdmin(ServiceAdmin):
    form = ProviderTemplateForm
    list_display = ("display_name", "slug", "builtin", "adapter", "upstream_url", "updated_at")
    list_filter = ("builtin", "adapter")
    search_fields = ("display_name", "slug")
    fieldsets = (
        (None, {"fields": ("slug", "display_name", "description", "adapter", "builtin")}),
        (
            "Upstream",
            {
                "fields": (
                    "upstream_url",
                    "upstream_url_editable",
                    "stream_usage",
                    "upstream_auth_header",
                    "upstream_auth_prefix",
                )
            },
        ),
        ("Inbound key", {"fields": ("inbound_key_header", "inbound_key_prefix")}),
        ("Requests and usage", {"fields": ("model_location", "usage_paths", "resources")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return ("builtin",) if obj is None else ("slug", "builtin")

    def has_change_permission(self, request, obj=None) -> bool:
        return not (obj is not None and obj.builtin) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not (obj is not None and obj.builtin) and super().has_delete_permission(request, obj)

    def service_delete(self, obj: ProviderTemplate) -> None:
        services.template_delete(template=obj)


# --- providers -------------------------------------------------------------------------------

TIMEOUT_FIELDS = ("connect_timeout", "read_timeout", "first_byte_timeout", "total_timeout")


def aws_credentials_fieldset(*classes: str) -> tuple[str, dict[str, Any]]:
    """AWS Bedrock's credential field by field, for those who do not use a Bedrock API key."""
    return (
        "AWS credentials (AWS Bedrock)",
        {
            "classes": classes,
            "description": "Instead of a Bedrock API key: AWS keys (or a role to assume) that "
            "sign every upstream call. Leave these and the credential empty to use the gateway "
            "host's own AWS credentials (environment, shared config, instance or task role).",
            "fields": tuple(AWS_CREDENTIAL_FIELDS),
        },
    )


@admin.register(Provider)
class ProviderAdmin(RoutingTabMixin, RateLimitsTabMixin, GuardrailsTabMixin, ServiceAdmin):
    """Providers with tabs: Connection, Access Control, Security, Rate Limiting, Guardrails,
    Models. Their settings apply to every proxy on the provider."""

    form = ProviderForm
    change_form_template = "admin/proxies/provider/change_form.html"
    list_display = ("name", "slug", "template", "upstream_url", "credential_set", "updated_at")
    list_select_related = ("template",)
    list_filter = ("template",)
    search_fields = ("name", "slug", "description")
    ordering = ("-updated_at",)
    guardrail_owner_field = "provider"

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            general = [
                "template",
                "name",
                "version",
                "description",
                "upstream_url",
                "credential",
                "credential_pool",
            ]
            return (
                (None, {"fields": general}),
                (
                    "Access control",
                    {"fields": ("access_mode", "access_exceptions", "allowed_models")},
                ),
                (
                    "Inbound key",
                    {
                        "description": "Where callers put their API key; by default the header "
                        "the provider's own SDK sends.",
                        "fields": ("inbound_key_in", "inbound_key_name", "inbound_key_prefix"),
                    },
                ),
                ("Timeouts (seconds)", {"fields": TIMEOUT_FIELDS}),
                ("Streams", {"fields": ("stream_usage",)}),
                aws_credentials_fieldset("collapse"),
            )
        connection = ["name", "slug", "template", "version", "description", "upstream_url"]
        connection.append("credential_status")
        if self.has_change_permission(request, obj):
            connection.extend(("credential", "credential_pool"))
        aws = ()
        if obj.template.adapter == Adapter.AWS_BEDROCK and self.has_change_permission(request, obj):
            aws = (aws_credentials_fieldset("gh-tab-connection"),)
        return (
            ("Connection", {"classes": ("gh-tab-connection",), "fields": connection}),
            *aws,
            (
                "Timeouts (seconds)",
                {"classes": ("gh-tab-connection",), "fields": TIMEOUT_FIELDS},
            ),
            ("Streams", {"classes": ("gh-tab-connection",), "fields": ("stream_usage",)}),
            (
                "Access control",
                {
                    "classes": ("gh-tab-access",),
                    "description": "Allow all resources except the exceptions, or deny all "
                    "except the exceptions.",
                    "fields": ("access_mode", "access_exceptions", "offered_resources"),
                },
            ),
            (
                "Inbound key",
                {
                    "classes": ("gh-tab-security",),
                    "description": "Where callers put their API key; by default the header "
                    "the provider's own SDK sends.",
                    "fields": ("inbound_key_in", "inbound_key_name", "inbound_key_prefix"),
                },
            ),
            ("Models", {"classes": ("gh-tab-models",), "fields": ("allowed_models",)}),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("slug", "template", "credential_status", "offered_resources")

    @admin.display(boolean=True, description="Credential set")
    def credential_set(self, obj: Provider) -> bool:
        return obj.has_credential

    @admin.display(description="Upstream credential")
    def credential_status(self, obj: Provider) -> str:
        if not obj.has_credential:
            return "not set"
        count = obj.credential_key_count
        parts = [f"a pool of {count} keys"] if count > 1 else []
        when = obj.credential_updated_at
        if when:
            parts.append(f"last changed {when:%Y-%m-%d %H:%M %Z}")
        return f"set ({', '.join(parts)})" if parts else "set"

    @admin.display(description="Resources the template offers")
    def offered_resources(self, obj: Provider) -> str:
        rows = obj.template.resources or []
        if not rows:
            return "None listed."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{} {}</code></li>",
                ((r.get("method", "*"), r.get("path", "")) for r in rows if isinstance(r, dict)),
            ),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_view_or_change_permission(request, obj):
            extra_context = {
                **(extra_context or {}),
                "tabs": [
                    {"id": "connection", "label": "Connection", "form": True},
                    {"id": "access", "label": "Access Control", "form": True},
                    {"id": "security", "label": "Security", "form": True},
                    {"id": "ratelimits", "label": "Rate Limiting", "form": False},
                    {"id": "guardrails", "label": "Guardrails", "form": False},
                    {"id": "routing", "label": "Routing", "form": False},
                    {"id": "models", "label": "Models", "form": True},
                ],
                "guardrails": self.guardrails_tab(request, obj),
                "routing": self.routing_tab(request, obj),
                "limits": self.rate_limits_tab(
                    request,
                    obj,
                    keys=recent_keys(APIKey.objects.filter(proxy__provider=obj)),
                    resources=concrete_resources(obj.template.resources),
                    show_key_proxy=True,
                ),
                "proxies": list(obj.proxies.order_by("name")),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def related_tables(self, request, obj: Provider) -> list[dict[str, Any]]:
        proxies = [[admin_link(p), p.slug, p.version] for p in obj.proxies.order_by("name")]
        return [
            {
                "title": "Proxies on this provider",
                "columns": ["Name", "Proxy ID", "Version"],
                "rows": proxies,
                "empty": "No proxy uses this provider yet.",
                "tab": "connection",
            },
        ]

    def get_urls(self):
        return [*self.guardrail_urls(), *super().get_urls()]

    def service_delete(self, obj: Provider) -> None:
        services.provider_delete(provider=obj)


# --- proxies ---------------------------------------------------------------------------------


@admin.register(Proxy)
class ProxyAdmin(RoutingTabMixin, RateLimitsTabMixin, GuardrailsTabMixin, ServiceAdmin):
    """The proxy page: header, tabs (Provider, Resources, Security, Guardrails) and the Get
    Started panel (invoke URL, API keys, deployed gateways)."""

    form = ProxyForm
    change_form_template = "admin/proxies/proxy/change_form.html"
    delete_confirmation_template = "admin/proxies/proxy/delete_confirmation.html"
    list_display = ("name", "slug", "provider", "version", "context", "deployed_on", "updated_at")
    list_select_related = ("provider",)
    list_filter = ("provider",)
    search_fields = ("name", "slug", "description")
    ordering = ("-updated_at",)
    guardrail_owner_field = "proxy"

    def get_fieldsets(self, request, obj=None):
        general = ["name", "provider", "version", "description", "context"]
        if obj is None:
            return (
                (None, {"fields": general}),
                (
                    "Inbound key override",
                    {
                        "classes": ("collapse",),
                        "description": "Leave blank to use the provider's inbound key settings.",
                        "fields": ("inbound_key_in", "inbound_key_name", "inbound_key_prefix"),
                    },
                ),
                ("Resources", {"classes": ("collapse",), "fields": ("resources",)}),
            )
        return (
            ("Provider", {"classes": ("gh-tab-provider",), "fields": ["slug", *general]}),
            ("Resources", {"classes": ("gh-tab-resources",), "fields": ("resources",)}),
            (
                "Security",
                {
                    "classes": ("gh-tab-security",),
                    "description": "Where callers put their API key. Leave blank to use the "
                    "provider's inbound key settings.",
                    "fields": (
                        "caller_key",
                        "inbound_key_in",
                        "inbound_key_name",
                        "inbound_key_prefix",
                    ),
                },
            ),
        )

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("slug", "caller_key")

    @admin.display(description="Deployed on")
    def deployed_on(self, obj: Proxy) -> str:
        live = obj.deployments.filter(status__in=CURRENT_STATUSES).select_related("gateway")
        return ", ".join(sorted(d.gateway.name for d in live)) or "not deployed"

    @admin.display(description="Callers send their key in")
    def caller_key(self, obj: Proxy) -> str:
        key = effective_inbound_key(obj)
        where = "query parameter" if key["in"] == "query" else "header"
        prefix = f", prefixed with '{key['prefix']}'" if key["prefix"] else ""
        return f"{where} {key['name']}{prefix}"

    def object_tools(self, request, obj: Proxy) -> list[dict[str, Any]]:
        return []

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_view_or_change_permission(request, obj):
            extra_context = {
                **(extra_context or {}),
                "tabs": [
                    {"id": "provider", "label": "Provider", "form": True},
                    {"id": "resources", "label": "Resources", "form": True},
                    {"id": "security", "label": "Security", "form": True},
                    {"id": "guardrails", "label": "Guardrails", "form": False},
                    {"id": "ratelimits", "label": "Rate Limiting", "form": False},
                    {"id": "routing", "label": "Routing", "form": False},
                ],
                "header": self.header(request, obj),
                "get_started": self.get_started(request, obj),
                "guardrails": self.guardrails_tab(request, obj),
                "routing": self.routing_tab(request, obj, state=proxy_routing_state(obj)),
                "routing_inherited": inherited_routing(obj.provider),
                "routing_provider_url": admin_url(obj.provider) + "#routing",
                **self.limits_context(request, obj),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def limits_context(self, request: HttpRequest, obj: Proxy) -> dict[str, Any]:
        """The proxy's own limits, and the provider's (which also count this proxy's calls),
        with consumption per key of this proxy."""
        keys = recent_keys(obj.api_keys.all())
        resources = concrete_resources(obj.resources or obj.provider.template.resources)
        providers = self.admin_site.get_model_admin(Provider)
        return {
            "limits": self.rate_limits_tab(request, obj, keys=keys, resources=resources),
            "provider_limits": providers.rate_limits_tab(
                request, obj.provider, keys=keys, resources=resources
            ),
            "provider_limits_url": admin_url(obj.provider) + "#ratelimits",
        }

    def header(self, request: HttpRequest, obj: Proxy) -> dict[str, Any]:
        deployments = self.admin_site.get_model_admin(Deployment)
        return {
            "deploy_url": admin_url(obj, "deploy"),
            "can_deploy": deployments.has_deploy_permission(request),
            "delete_url": admin_url(obj, "delete")
            if self.has_delete_permission(request, obj)
            else "",
            "provider_url": admin_url(obj.provider),
        }

    def get_started(self, request: HttpRequest, obj: Proxy) -> dict[str, Any]:
        """The Get Started panel: invoke URL per gateway, keys and where the proxy runs."""
        live = {
            d.gateway_id: d
            for d in obj.deployments.filter(status__in=CURRENT_STATUSES).select_related("gateway")
        }
        gateways = []
        for gateway in gateways_with_status().order_by("name"):
            current = live.get(gateway.pk)
            gateways.append(
                {
                    "gateway": gateway,
                    "invoke_url": invoke_url(obj, gateway),
                    "current": current,
                    "out_of_date": current is not None and is_out_of_date(current),
                }
            )
        deployed = [g for g in gateways if g["current"]]
        key = effective_inbound_key(obj)
        return {
            "gateways": gateways,
            "deployed": deployed,
            "selected": (deployed or gateways or [None])[0],
            "out_of_date": [g for g in deployed if g["out_of_date"]],
            "keys": list(api_key_list(proxy=obj).order_by("-created_at")[:50]),
            "keys_url": changelist_url(APIKey, proxy__id__exact=obj.pk),
            "can_generate": user_may(request, APIKey, "add"),
            "can_revoke": user_may(request, APIKey, "change"),
            "generate_url": admin_url(obj, "generate_key"),
            "key_form": GenerateAPIKeyForm(),
            "caller_key": key,
        }

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {"title": "Create proxy", **(extra_context or {})}
        return super().add_view(request, form_url, extra_context)

    def response_post_save_add(self, request, obj):
        # The new proxy's page shows its ID and the next steps (deploy, generate a key).
        return HttpResponseRedirect(admin_url(obj))

    def service_delete(self, obj: Proxy) -> None:
        services.proxy_delete(proxy=obj)

    def render_delete_form(self, request, context):
        proxy = context.get("object")
        if proxy is not None:
            context["live_deployments"] = list(
                proxy.deployments.filter(status__in=CURRENT_STATUSES).select_related("gateway")
            )
            context["active_keys"] = proxy.api_keys.filter(status=APIKeyStatus.ACTIVE).count()
        return super().render_delete_form(request, context)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/generate-key/",
                self.admin_site.admin_view(self.generate_key_view),
                name="{}_{}_generate_key".format(*info),
            ),
            path(
                "<path:object_id>/deploy/",
                self.admin_site.admin_view(self.deploy_view),
                name="{}_{}_deploy".format(*info),
            ),
            *self.guardrail_urls(),
            *super().get_urls(),
        ]

    def generate_key_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        proxy = self.get_object_or_404(request, object_id)
        return self.admin_site.get_model_admin(APIKey).generate_view(request, proxy)

    def deploy_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        proxy = self.get_object_or_404(request, object_id)
        return self.admin_site.get_model_admin(Deployment).deploy_page(request, proxy)


# --- API keys --------------------------------------------------------------------------------


@admin.register(APIKey)
class APIKeyAdmin(ReadOnlyRecordAdmin):
    """Keys are generated from their proxy's page and shown once; here only the masked form."""

    list_display = (
        "name",
        "proxy",
        "masked",
        "status",
        "expires_at",
        "last_used_at",
        "created_at",
        "created_by",
    )
    list_filter = ("status", "proxy")
    list_select_related = ("proxy", "created_by")
    search_fields = ("name", "masked", "proxy__name", "proxy__slug")
    fields = (
        "name",
        "proxy",
        "masked",
        "status",
        "expires_at",
        "accepted_on",
        "last_used_at",
        "created_by",
        "created_at",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ("revoke",)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return user_may(request, APIKey, "change")

    @admin.display(description="Accepted on")
    def accepted_on(self, obj: APIKey) -> str:
        names = [g.name for g in obj.gateways.all()]
        return ", ".join(names) if names else "every gateway"

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply_to_each(
            request, queryset, lambda key: services.api_key_revoke(api_key=key), "Revoked"
        )

    def object_tools(self, request, obj: APIKey) -> list[dict[str, Any]]:
        if obj.status == APIKeyStatus.ACTIVE and self.has_revoke_permission(request):
            url = admin_url(obj, "revoke")
            return [tool("Revoke", url, post=True, confirm="Revoke this key now?")]
        return []

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="{}_{}_revoke".format(*info),
            ),
            *super().get_urls(),
        ]

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        key = self.get_object_or_404(request, object_id)
        if request.method != "POST" or not self.has_revoke_permission(request):
            raise PermissionDenied
        try:
            services.api_key_revoke(api_key=key)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"Revoked {key}.", messages.SUCCESS)
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = admin_url(key)
        return HttpResponseRedirect(back)

    def generate_view(self, request: HttpRequest, proxy: Proxy) -> HttpResponse:
        """Mint a key for ``proxy`` and show it in this response only."""
        if not user_may(request, APIKey, "add"):
            raise PermissionDenied
        form = GenerateAPIKeyForm(request.POST if request.method == "POST" else None)
        secret = form.create(proxy=proxy, user=request.user) if form.is_valid() else None
        if secret is not None:
            self.log_change(request, proxy, f"Generated API key {form.api_key.masked}.")
        if request.method == "POST" and request.headers.get("Accept") == "application/json":
            # The Get Started dialog: the key travels in this response only, as on the page.
            if secret is None:
                return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
            created = form.api_key
            return JsonResponse({"key": secret, "masked": created.masked, "name": created.name})
        key = effective_inbound_key(proxy)
        prefix = key["prefix"]
        return render_issue_page(
            request,
            self,
            opts=Proxy._meta,
            original=proxy,
            title="Generate API key",
            form=form,
            secret=secret,
            secret_label="API key",
            submit_label="Generate",
            intro=f"A new key for the proxy {proxy.name} ({proxy.slug}).",
            details=[
                f"Callers send it in the {key['in']} {key['name']}"
                + (f" as '{prefix}<key>'." if prefix else "."),
            ],
            done_url=admin_url(proxy),
        )


# --- management API tokens -------------------------------------------------------------------


@admin.register(ManagementToken)
class ManagementTokenAdmin(ReadOnlyRecordAdmin):
    """Bearer tokens for the management API; issued here for yourself and shown once."""

    list_display = (
        "user",
        "name",
        "masked",
        "created_at",
        "expires",
        "last_used_at",
        "revoked_at",
    )
    list_select_related = ("user",)
    search_fields = ("name", "masked", "user__username")
    fields = ("user", "name", "masked", "created_at", "expires", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return user_may(request, ManagementToken, "change")

    @admin.display(description="Expires", ordering="expires_at")
    def expires(self, obj: ManagementToken) -> str:
        if obj.expires_at is None:
            return "never"
        when = f"{timezone.localtime(obj.expires_at):%Y-%m-%d %H:%M %Z}"
        return f"expired {when}" if obj.is_expired else when

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply_to_each(
            request,
            queryset.filter(revoked_at__isnull=True),
            lambda token: services.management_token_revoke(token=token),
            "Revoked",
        )

    def changelist_tools(self, request) -> list[dict[str, Any]]:
        if user_may(request, ManagementToken, "add"):
            return [tool("Issue a token for me", reverse("admin:proxies_managementtoken_issue"))]
        return []

    def get_urls(self):
        return [
            path(
                "issue/",
                self.admin_site.admin_view(self.issue_view),
                name="proxies_managementtoken_issue",
            ),
            *super().get_urls(),
        ]

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        if not user_may(request, ManagementToken, "add"):
            raise PermissionDenied
        form = IssueManagementTokenForm(request.POST if request.method == "POST" else None)
        secret = form.create(user=request.user) if form.is_valid() else None
        details = ["Send it as 'Authorization: Bearer <token>'."]
        if secret is not None:
            details.append(f"Expires: {self.expires(form.token)}.")
        return render_issue_page(
            request,
            self,
            title="Issue a management API token",
            form=form,
            secret=secret,
            secret_label="Token",
            submit_label="Issue",
            intro=f"A bearer token for the management API, acting as {request.user}.",
            details=details,
            done_url=changelist_url(ManagementToken),
        )
