"""Admin for guardrail and policy attachments on providers and proxies."""

import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from guardrails import services
from guardrails.forms import GuardrailAttachmentForm
from guardrails.models import GuardrailAttachment
from guardrails.registry import all_policies, get_policy
from proxies.service_admin import ServiceAdmin, admin_link


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
