"""Admin for guardrail and policy attachments on providers and proxies."""

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.admin import ServiceAdmin, admin_link, admin_url, user_may
from core.errors import DomainError
from guardrails import services
from guardrails.admin_limits import LIMIT_CATEGORY
from guardrails.catalog.routing import ROUTING_CATEGORY
from guardrails.forms import GuardrailAttachmentForm
from guardrails.models import GuardrailAttachment
from guardrails.registry import all_policies, get_policy
from guardrails.schema_form import PREFIX, error_field, params_from_post, schema_fields
from guardrails.selectors import attachment_get, attachments_for

# The owner page's tab for each category of policy ("" is the Guardrails tab's: the chain).
TAB_ANCHORS = {"": "#guardrails", LIMIT_CATEGORY: "#ratelimits", ROUTING_CATEGORY: "#routing"}
TAB_ADD_TITLES = {
    "": "Add guardrail",
    LIMIT_CATEGORY: "Add limit",
    ROUTING_CATEGORY: "Add routing policy",
}


def _tab_category(policy: str) -> str:
    """The category whose tab lists ``policy``: rate limits and routing have their own."""
    policy_class = get_policy(policy) if policy else None
    category = policy_class.category if policy_class is not None else ""
    return category if category in TAB_ANCHORS else ""


def _schema(schema: dict) -> str:
    return format_html("<pre>{}</pre>", json.dumps(schema, indent=2))


@admin.register(GuardrailAttachment)
class GuardrailAttachmentAdmin(ServiceAdmin):
    form = GuardrailAttachmentForm
    list_display = ("policy", "owner", "order", "policy_version", "enabled", "updated_at")
    list_filter = ("policy", "enabled")
    list_select_related = ("proxy", "provider")
    search_fields = ("policy", "proxy__name", "proxy__slug", "provider__name", "provider__slug")
    ordering = ("proxy__name", "provider__name", "order", "id")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return (
                (None, {"fields": ("proxy", "provider", "policy", "params", "order", "enabled")}),
                ("Policy catalog", {"classes": ("collapse",), "fields": ("policy_catalog",)}),
            )
        return (
            (None, {"fields": ("owner", "policy", "policy_version", "params", "order", "enabled")}),
            ("Parameter schema", {"classes": ("collapse",), "fields": ("parameters_schema",)}),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("policy_catalog",)
        return ("owner", "policy", "policy_version", "parameters_schema")

    @admin.display(description="Attached to")
    def owner(self, obj: GuardrailAttachment) -> str:
        if obj.proxy_id:
            return format_html("proxy {}", admin_link(obj.proxy))
        if obj.provider_id:
            return format_html("provider {}", admin_link(obj.provider))
        return ""

    @admin.display(description="Available policies")
    def policy_catalog(self, obj: GuardrailAttachment | None = None) -> str:
        return format_html_join(
            "",
            "<details><summary><strong>{}</strong> ({} {}): {}</summary>{}</details>",
            (
                (p.display_name, p.name, p.version, p.description, _schema(p.parameters_schema))
                for p in all_policies()
            ),
        )

    @admin.display(description="Schema")
    def parameters_schema(self, obj: GuardrailAttachment) -> str:
        policy = get_policy(obj.policy)
        return _schema(policy.parameters_schema) if policy else "This policy is no longer known."

    def service_delete(self, obj: GuardrailAttachment) -> None:
        services.attachment_delete(attachment=obj)


# --- the owner's Guardrails tab: side panel, attached list and its buttons -------------------


class GuardrailsTabMixin:
    """Adds the Guardrails tab's views to a proxy or provider admin.

    The side panel loads these views with ``?panel=1`` (a fragment; a successful write answers
    with JSON naming the page to reload); without JavaScript they are ordinary admin pages.
    """

    guardrail_owner_field = "proxy"

    def guardrail_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/guardrails/add/",
                view(self.guardrail_catalog_view),
                name="{}_{}_guardrail_catalog".format(*info),
            ),
            path(
                "<path:object_id>/guardrails/add/<str:policy>/",
                view(self.guardrail_add_view),
                name="{}_{}_guardrail_add".format(*info),
            ),
            path(
                "<path:object_id>/guardrails/<int:attachment_id>/edit/",
                view(self.guardrail_edit_view),
                name="{}_{}_guardrail_edit".format(*info),
            ),
            path(
                "<path:object_id>/guardrails/<int:attachment_id>/<str:operation>/",
                view(self.guardrail_operation_view),
                name="{}_{}_guardrail_operation".format(*info),
            ),
        ]

    def guardrails_tab(self, request: HttpRequest, owner) -> dict[str, Any]:
        """What the Guardrails tab shows: the chain in order and what the user may do. Rate
        limits and routing policies have their own tabs (they run outside the chain), so they
        are left out here."""
        attachments = [
            a
            for a in attachments_for(**{self.guardrail_owner_field: owner})
            if _tab_category(a.policy) == ""
        ]
        rows = []
        for position, attachment in enumerate(attachments):
            policy = get_policy(attachment.policy)
            operations = ("enable", "disable", "up", "down", "remove")
            urls = {
                op: self._guardrail_url("guardrail_operation", owner, attachment.pk, op)
                for op in operations
            }
            urls["edit"] = self._guardrail_url("guardrail_edit", owner, attachment.pk)
            rows.append(
                {
                    "attachment": attachment,
                    "display_name": policy.display_name if policy else attachment.policy,
                    "description": policy.description if policy else "No longer in the catalog.",
                    "summary": _summary(attachment.params),
                    "first": position == 0,
                    "last": position == len(attachments) - 1,
                    "urls": urls,
                }
            )
        return {
            "rows": rows,
            "catalog_url": self._guardrail_url("guardrail_catalog", owner),
            "can_add": user_may(request, GuardrailAttachment, "add"),
            "can_change": user_may(request, GuardrailAttachment, "change"),
            "can_delete": user_may(request, GuardrailAttachment, "delete"),
        }

    def _guardrail_url(self, view: str, owner, *args: Any) -> str:
        opts = self.opts
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[quote(owner.pk), *args]
        )

    def _owner_page(self, owner, policy: str = "") -> str:
        return admin_url(owner) + TAB_ANCHORS[_tab_category(policy)]

    def _catalog_url(self, owner, policy: str = "") -> str:
        url = self._guardrail_url("guardrail_catalog", owner)
        category = _tab_category(policy)
        return url + f"?category={category}" if category else url

    def _panel(
        self, request: HttpRequest, owner, status: int = 200, **context: Any
    ) -> HttpResponse:
        panel = request.GET.get("panel") == "1" or request.POST.get("panel") == "1"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": owner,
            "panel": panel,
            "base_template": "admin/guardrails/panel_fragment.html"
            if panel
            else "admin/guardrails/panel_page.html",
            "back_url": self._owner_page(owner),
            "catalog_url": self._guardrail_url("guardrail_catalog", owner),
            **context,
        }
        return TemplateResponse(request, "admin/guardrails/panel.html", context, status=status)

    def _done(self, request: HttpRequest, owner, message: str, policy: str = "") -> HttpResponse:
        self.log_change(request, owner, message)  # the owner's History page shows chain changes
        self.message_user(request, message, messages.SUCCESS)
        page = self._owner_page(owner, policy)
        if request.GET.get("panel") == "1" or request.POST.get("panel") == "1":
            return JsonResponse({"redirect": page})
        return HttpResponseRedirect(page)

    def guardrail_catalog_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        owner = self.get_object_or_404(request, object_id)
        if not user_may(request, GuardrailAttachment, "add"):
            raise PermissionDenied
        # Rate limits and routing policies are added from their own tabs; the Guardrails tab
        # lists everything else.
        category = request.GET.get("category", "")
        category = category if category in TAB_ANCHORS else ""
        policies = [
            {
                **policy.describe(),
                "url": self._guardrail_url("guardrail_add", owner, policy.name),
            }
            for policy in all_policies()
            if _tab_category(policy.name) == category
        ]
        return self._panel(
            request,
            owner,
            step="catalog",
            title=TAB_ADD_TITLES[category],
            policies=policies,
            limits=category == LIMIT_CATEGORY,
            routing=category == ROUTING_CATEGORY,
            back_url=admin_url(owner) + TAB_ANCHORS[category],
        )

    def guardrail_add_view(self, request: HttpRequest, object_id: str, policy: str) -> HttpResponse:
        owner = self.get_object_or_404(request, object_id)
        if not user_may(request, GuardrailAttachment, "add"):
            raise PermissionDenied
        policy_class = get_policy(policy)
        if policy_class is None:
            raise Http404
        return self._policy_form(request, owner, policy_class, attachment=None)

    def guardrail_edit_view(
        self, request: HttpRequest, object_id: str, attachment_id: int
    ) -> HttpResponse:
        owner = self.get_object_or_404(request, object_id)
        if not user_may(request, GuardrailAttachment, "change"):
            raise PermissionDenied
        attachment = self._attachment(owner, attachment_id)
        policy_class = get_policy(attachment.policy)
        if policy_class is None:
            raise Http404
        return self._policy_form(request, owner, policy_class, attachment=attachment)

    def _policy_form(self, request: HttpRequest, owner, policy_class, *, attachment):
        schema = policy_class.parameters_schema
        values = attachment.params if attachment else None
        errors: dict[str, list[str]] = {}
        top_errors: list[str] = []
        if request.method == "POST":
            params, errors = params_from_post(schema, request.POST)
            values = params
            if not errors:
                try:
                    with transaction.atomic():
                        if attachment is None:
                            services.attachment_create(
                                policy=policy_class.name,
                                params=params,
                                **{self.guardrail_owner_field: owner},
                            )
                        else:
                            services.attachment_update(attachment=attachment, params=params)
                except DomainError as exc:
                    for row in exc.errors or [{"field": "", "message": exc.message}]:
                        name = error_field(row.get("field") or "")
                        if name and name != PREFIX:
                            errors.setdefault(name, []).append(row["message"])
                        else:
                            top_errors.append(row["message"])
                else:
                    verb = "Added" if attachment is None else "Updated"
                    message = f"{verb} {policy_class.display_name}."
                    return self._done(request, owner, message, policy_class.name)
        group = schema_fields(schema, values, errors)
        unplaced = [
            message
            for name, messages_ in errors.items()
            if not _has_field(group, name)
            for message in messages_
        ]
        action = (
            self._guardrail_url("guardrail_add", owner, policy_class.name)
            if attachment is None
            else self._guardrail_url("guardrail_edit", owner, attachment.pk)
        )
        return self._panel(
            request,
            owner,
            step="form",
            title=("Add " if attachment is None else "Edit ") + policy_class.display_name,
            policy=policy_class.describe(),
            group=group,
            top_errors=top_errors + unplaced,
            action=action,
            submit_label="Add" if attachment is None else "Save",
            editing=attachment is not None,
            catalog_url=self._catalog_url(owner, policy_class.name),
            limits=_tab_category(policy_class.name) == LIMIT_CATEGORY,
            routing=_tab_category(policy_class.name) == ROUTING_CATEGORY,
            back_url=self._owner_page(owner, policy_class.name),
            status=400 if request.method == "POST" else 200,
        )

    def guardrail_operation_view(
        self, request: HttpRequest, object_id: str, attachment_id: int, operation: str
    ) -> HttpResponse:
        owner = self.get_object_or_404(request, object_id)
        if operation not in ("enable", "disable", "up", "down", "remove"):
            raise Http404
        needed = "delete" if operation == "remove" else "change"
        if request.method != "POST" or not user_may(request, GuardrailAttachment, needed):
            raise PermissionDenied
        attachment = self._attachment(owner, attachment_id)
        policy = get_policy(attachment.policy)
        name = policy.display_name if policy else attachment.policy
        try:
            with transaction.atomic():
                if operation == "remove":
                    services.attachment_delete(attachment=attachment)
                elif operation in ("enable", "disable"):
                    services.attachment_update(attachment=attachment, enabled=operation == "enable")
                else:
                    chain = list(attachments_for(**{self.guardrail_owner_field: owner}))
                    # Swap with the nearest neighbour the same tab lists (limits and routing
                    # policies are apart).
                    listed = [
                        i
                        for i, a in enumerate(chain)
                        if _tab_category(a.policy) == _tab_category(attachment.policy)
                    ]
                    place = listed.index(chain.index(attachment))
                    other = place - 1 if operation == "up" else place + 1
                    if 0 <= other < len(listed):
                        index, other = listed[place], listed[other]
                        chain[index], chain[other] = chain[other], chain[index]
                    services.attachments_reorder(attachments=chain)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(self._owner_page(owner, attachment.policy))
        past = {"remove": "Removed", "enable": "Enabled", "disable": "Disabled"}
        message = f"{past.get(operation, 'Moved')} {name}."
        return self._done(request, owner, message, attachment.policy)

    def _attachment(self, owner, attachment_id: int) -> GuardrailAttachment:
        try:
            return attachment_get(
                attachment_id=attachment_id, **{self.guardrail_owner_field: owner}
            )
        except DomainError:
            raise Http404 from None


def _has_field(group: dict[str, Any], name: str) -> bool:
    if group["name"] == name:
        return True
    for field in group["fields"] + group["advanced"]:
        if field["name"] == name:
            return True
        cells = [cell for row in field.get("rows", ()) for cell in row]
        if any(cell["name"] == name for cell in cells):
            return True
    return any(_has_field(child, name) for child in group["groups"] + group["advanced_groups"])


def _summary(params: dict[str, Any]) -> str:
    """A one-line reminder of an attachment's settings for the attached list."""
    parts = []
    for key, value in (params or {}).items():
        if isinstance(value, dict):
            if value.get("enabled") is False:
                continue
            inner = ", ".join(
                f"{k} {v}"
                for k, v in value.items()
                if k not in ("enabled", "jsonPath", "invert", "showAssessment")
                and v not in (None, "", [], {})
            )
            parts.append(f"{key}: {inner}" if inner else key)
        elif value not in (None, "", [], {}, False) and key != "jsonPath":
            parts.append(key if value is True else f"{key} {value}")
    text = "; ".join(parts)
    return text if len(text) <= 120 else text[:117] + "..."


# The pricing table admin lives in its own module.
from guardrails import admin_pricing  # noqa: E402, F401
