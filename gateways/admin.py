"""Admin for gateways (with Active / Not Active status), their registration tokens, the
processes serving them and the usage they record."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

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
from deployments.models import CURRENT_STATUSES
from gateways import services
from gateways.admin_insights import insights_view
from gateways.forms import GatewayForm
from gateways.models import (
    Gateway,
    GatewayProcess,
    GatewayToken,
    GatewayTokenStatus,
    UsageRecord,
    heartbeat_cutoff,
)
from gateways.selectors import gateway_tokens_required, gateways_with_status


@admin.register(Gateway)
class GatewayAdmin(ServiceAdmin):
    form = GatewayForm
    list_display = ("name", "slug", "base_url", "environment", "status", "process_count")
    list_filter = ("environment",)
    search_fields = ("name", "slug", "base_url", "description")

    def get_queryset(self, request):
        return gateways_with_status().annotate(process_count=Count("processes"))

    def get_fieldsets(self, request, obj=None):
        general = ["name", "description", "base_url", "environment"]
        if obj is None:
            return ((None, {"fields": general}),)
        general[1:1] = ["slug", "status"]
        return (
            (None, {"fields": general}),
            (
                "Run a gateway process",
                {
                    "description": "Each process serves only this gateway's deployments; run as "
                    "many as you need behind a load balancer at the base URL. The gateway is "
                    "Active while at least one of them sends heartbeats.",
                    "fields": ("start_command",),
                },
            ),
        )

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("slug", "status", "start_command")

    @admin.display(description="Start command")
    def start_command(self, obj: Gateway) -> str:
        return format_html(
            '<div class="gh-copy"><input id="gh-start-command" type="text" readonly value="{}" '
            'style="min-width: 36em">'
            '<button type="button" class="button" data-copy="#gh-start-command">Copy</button>'
            "</div>",
            start_command(obj),
        )

    @admin.display(description="Status", ordering="-is_active")
    def status(self, obj: Gateway) -> str:
        active = getattr(obj, "is_active", False)
        return format_html(
            '<span class="gh-tag {}">{}</span>',
            "gh-ok" if active else "gh-off",
            "Active" if active else "Not Active",
        )

    @admin.display(description="Processes", ordering="process_count")
    def process_count(self, obj: Gateway) -> int:
        return obj.process_count

    def object_tools(self, request, obj: Gateway) -> list[dict[str, Any]]:
        tools = []
        if user_may(request, GatewayToken, "add"):
            tools.append(tool("Generate token", admin_url(obj, "generate_token")))
        tools.append(tool("Tokens", changelist_url(GatewayToken, gateway__id__exact=obj.pk)))
        return tools

    def related_tables(self, request, obj: Gateway) -> list[dict[str, Any]]:
        live = obj.deployments.filter(status__in=CURRENT_STATUSES).select_related("proxy")
        cutoff = heartbeat_cutoff()
        return [
            {
                "title": "Deployed proxies",
                "columns": ["Proxy", "Deployment", "Status", "Since"],
                "rows": [
                    [
                        admin_link(d.proxy),
                        admin_link(d, d.name),
                        d.get_status_display(),
                        d.created_at,
                    ]
                    for d in live
                ],
                "empty": "Nothing is deployed on this gateway.",
            },
            {
                "title": "Registration tokens",
                "columns": ["Token", "Status", "Created", "Revoked"],
                "rows": [
                    [t.masked, t.get_status_display(), t.created_at, t.revoked_at or ""]
                    for t in obj.tokens.all()
                ],
                "empty": "No tokens yet.",
            },
            {
                "title": "Gateway processes",
                "columns": ["Host", "PID", "Address", "Last seen", "Alive"],
                "rows": [
                    [p.hostname, p.pid, p.address, p.last_seen_at, _yes(p.last_seen_at >= cutoff)]
                    for p in obj.processes.all()
                ],
                "empty": "No process has reported for this gateway.",
            },
        ]

    def service_delete(self, obj: Gateway) -> None:
        services.gateway_delete(gateway=obj)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/generate-token/",
                self.admin_site.admin_view(self.generate_token_view),
                name="{}_{}_generate_token".format(*info),
            ),
            *super().get_urls(),
        ]

    def generate_token_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Issue a registration token and show it in this response only."""
        gateway = self.get_object_or_404(request, object_id)
        if not user_may(request, GatewayToken, "add"):
            raise PermissionDenied
        secret = None
        if request.method == "POST":
            try:
                _, secret = services.gateway_token_create(gateway=gateway)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(admin_url(gateway))
        return render_issue_page(
            request,
            self,
            original=gateway,
            title="Generate token",
            form=forms.Form(),
            secret=secret,
            secret_label="Gateway token",
            submit_label="Generate token",
            intro=f"A registration token for gateway processes serving {gateway.name} "
            f"(at most {GatewayToken.MAX_ACTIVE} active at a time).",
            details=[f"Start a gateway process for '{gateway.slug}' with this token."],
            done_url=admin_url(gateway),
        )


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def start_command(gateway: Gateway) -> str:
    """The exact command that starts a process serving ``gateway`` (with the registration
    token it must present, once the gateway has tokens)."""
    command = f"python manage.py run_gateway {gateway.slug} --host 0.0.0.0 --port 8080"
    if gateway_tokens_required(gateway):
        command = f"GATEHOUSE_GATEWAY_TOKEN=<registration token> {command}"
    return command


@admin.register(GatewayToken)
class GatewayTokenAdmin(ReadOnlyRecordAdmin):
    """Tokens are generated from the gateway's page and shown once; here only masked."""

    list_display = ("masked", "gateway", "status", "created_at", "revoked_at")
    list_filter = ("status", "gateway")
    list_select_related = ("gateway",)
    fields = ("gateway", "masked", "status", "created_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return user_may(request, GatewayToken, "change")

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply_to_each(
            request,
            queryset.filter(status=GatewayTokenStatus.ACTIVE),
            lambda token: services.gateway_token_revoke(token=token),
            "Revoked",
        )


@admin.register(GatewayProcess)
class GatewayProcessAdmin(ReadOnlyRecordAdmin):
    """Processes register themselves by heartbeat; the admin only shows them."""

    list_display = (
        "gateway",
        "hostname",
        "pid",
        "address",
        "alive",
        "last_seen_at",
        "started_at",
        "snapshot_version",
    )
    list_filter = ("gateway",)
    list_select_related = ("gateway",)
    fields = (
        "gateway",
        "instance_id",
        "hostname",
        "pid",
        "address",
        "snapshot_version",
        "started_at",
        "last_seen_at",
    )
    readonly_fields = fields

    @admin.display(boolean=True, description="Alive")
    def alive(self, obj: GatewayProcess) -> bool:
        return obj.last_seen_at >= heartbeat_cutoff()


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyRecordAdmin):
    """One row per request through a gateway, written by gateway processes."""

    list_display = (
        "created_at",
        "gateway",
        "proxy",
        "model",
        "method",
        "resource",
        "status_code",
        "outcome",
        "total_tokens",
        "cost_usd",
        "latency_ms",
        "first_byte_ms",
    )
    list_filter = ("outcome", "gateway", "proxy")
    search_fields = ("proxy", "model", "resource")
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.opts.fields]

    def changelist_tools(self, request) -> list[dict[str, Any]]:
        return [tool("Insights", reverse("admin:gateways_usagerecord_insights"))]

    def get_urls(self):
        return [
            path(
                "insights/",
                self.admin_site.admin_view(self.insights_view),
                name="gateways_usagerecord_insights",
            ),
            *super().get_urls(),
        ]

    def insights_view(self, request: HttpRequest) -> HttpResponse:
        return insights_view(self, request)
