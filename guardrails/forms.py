"""Admin form for guardrail attachments: the policy comes from the registry, its parameters
are JSON checked against the policy's schema by the service."""

from typing import Any

from django import forms

from core.forms import ServiceModelForm
from guardrails import services
from guardrails.models import GuardrailAttachment
from guardrails.registry import all_policies


def policy_choices() -> list[tuple[str, str]]:
    return [(p.name, f"{p.display_name} ({p.name} {p.version})") for p in all_policies()]


class GuardrailAttachmentForm(ServiceModelForm):
    policy = forms.ChoiceField(choices=policy_choices)
    params = forms.JSONField(
        label="Parameters",
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 60}),
        help_text="A JSON object following the policy's parameter schema; defaults are filled in.",
    )
    order = forms.IntegerField(
        required=False,
        min_value=0,
        help_text="Position in the chain (lowest runs first). Blank puts it last.",
    )

    class Meta(ServiceModelForm.Meta):
        model = GuardrailAttachment
        fields = ("proxy", "provider", "policy", "params", "order", "enabled")
        help_texts = {"proxy": "Attach to a proxy or to a provider, not both."}

    def write(self, data: dict[str, Any]) -> GuardrailAttachment:
        if self.adding:
            return services.attachment_create(
                policy=data["policy"],
                params=data.get("params"),
                proxy=data.get("proxy"),
                provider=data.get("provider"),
                enabled=data.get("enabled", True),
                order=data.get("order"),
            )
        changed = self.changed(data, ("params", "enabled", "order"))
        return services.attachment_update(
            attachment=self.instance,
            params=(changed["params"] or {}) if "params" in changed else None,
            enabled=changed.get("enabled"),
            order=changed.get("order"),
        )
