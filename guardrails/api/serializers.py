"""Serializers for the policy catalog and guardrail attachments."""

from typing import Any

from rest_framework import serializers

from guardrails.models import GuardrailAttachment
from proxies.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField


class PolicySerializer(serializers.Serializer):
    """A policy in the catalog; ``parameters_schema`` is the JSON schema its params follow."""

    name = serializers.CharField()
    version = serializers.CharField()
    display_name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    phases = serializers.ListField(child=serializers.CharField())
    stream_mode = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="How much of a streamed response it must see: chunk, window or end.",
    )
    parameters_schema = serializers.DictField(
        help_text="JSON schema; properties flagged x-advanced are rarely needed."
    )


class GuardrailSerializer(serializers.Serializer):
    """A policy attached to a proxy or provider. ``params`` are checked against the policy's
    schema and stored with its defaults filled in."""

    id = serializers.IntegerField(read_only=True)
    policy = StrictCharField(max_length=100, help_text="Policy name from the catalog.")
    version = serializers.CharField(source="policy_version", read_only=True)
    params = serializers.DictField(required=False)
    order = StrictIntegerField(
        min_value=0, required=False, help_text="Position in the chain; defaults to the end."
    )
    enabled = StrictBooleanField(required=False)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def validate_policy(self, policy: str) -> str:
        instance: GuardrailAttachment | None = self.instance
        if instance is not None and policy != instance.policy:
            raise serializers.ValidationError(
                "The policy cannot be changed; attach a new guardrail instead."
            )
        return policy

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            attrs.pop("policy", None)
        return attrs


class ReorderSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=StrictIntegerField(),
        allow_empty=False,
        help_text="Every guardrail ID of this chain, in the new order.",
    )


class LimitWindowSerializer(serializers.Serializer):
    duration = serializers.IntegerField()
    unit = serializers.CharField()


class CounterUsageSerializer(serializers.Serializer):
    """One counter's consumption in its current window; cost amounts in USD."""

    used = serializers.FloatField(help_text="Settled consumption in this window.")
    reserved = serializers.FloatField(help_text="Cost reserved by requests in flight.")
    limit = serializers.FloatField()
    remaining = serializers.FloatField()
    unit = serializers.CharField(help_text="requests, tokens or USD.")
    window_start = serializers.DateTimeField()
    reset_at = serializers.DateTimeField(help_text="When the window ends and the count resets.")


class LimitCounterSerializer(serializers.Serializer):
    """One limit of a rate-limit guardrail and its current consumption."""

    label = serializers.CharField()
    kind = serializers.CharField(help_text="requests, tokens or cost.")
    category = serializers.CharField(help_text="requests, prompt, completion, total or cost.")
    limit = serializers.FloatField()
    window = LimitWindowSerializer()
    scope = serializers.CharField(help_text="shared or per_key.")
    failure_mode = serializers.CharField()
    resource = serializers.CharField(help_text="The resource of a per-resource override.")
    usage = CounterUsageSerializer(
        allow_null=True, help_text="Null while the counter store is unreachable."
    )


class GuardrailUsageSerializer(serializers.Serializer):
    """The current consumption of each limit of a rate-limit guardrail."""

    guardrail = serializers.IntegerField()
    policy = serializers.CharField()
    key = serializers.CharField(
        allow_null=True, help_text="The API key whose per-key counters are shown."
    )
    resource = serializers.CharField(
        help_text="The resource whose per-resource counters are shown."
    )
    counters = LimitCounterSerializer(many=True)
