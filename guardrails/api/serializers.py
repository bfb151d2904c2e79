"""Serializers for the policy catalog, guardrail attachments and the pricing table."""

from typing import Any

from rest_framework import serializers

from core.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField
from guardrails.models import GuardrailAttachment, ModelPrice


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


class StrictDecimalField(serializers.DecimalField):
    """A JSON number only (not a string or a boolean), kept exact as a ``Decimal``."""

    default_error_messages = {"invalid": "Expected a number."}

    def __init__(self, **kwargs: Any):
        super().__init__(coerce_to_string=False, **kwargs)

    def to_internal_value(self, data: Any):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


def _price(**kwargs: Any) -> StrictDecimalField:
    return StrictDecimalField(max_digits=12, decimal_places=6, min_value=0, **kwargs)


class ModelPriceSerializer(serializers.Serializer):
    """A model's price in USD per million tokens, used for the cost of usage records and by
    cost limits. ``model`` identifies the row and cannot be changed; dated variants
    (``gpt-4o-2024-08-06``) match by prefix."""

    model = StrictCharField(max_length=200)
    vendor = serializers.ChoiceField(choices=ModelPrice.Vendor.choices, required=False)
    input_per_million = _price()
    output_per_million = _price()
    cached_input_per_million = _price(
        required=False,
        allow_null=True,
        help_text="Input tokens read from a prompt cache. Null: they cost the input price.",
    )
    cache_write_per_million = _price(
        required=False,
        allow_null=True,
        help_text="Input tokens written to a prompt cache (Anthropic, Bedrock). Null: they "
        "cost the input price.",
    )
    checked_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="When these prices were checked against the vendor's list.",
    )
    builtin = serializers.BooleanField(
        read_only=True, help_text="Shipped with Gatehouse (in its price list)."
    )
    price_list = serializers.CharField(
        read_only=True,
        help_text="The price list that last set this row ('shipped' for Gatehouse's own, else "
        "the name it was loaded under); empty for a row an admin added. Loading a list "
        "refreshes such rows until they are edited.",
    )
    edited = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def validate_model(self, model: str) -> str:
        instance: ModelPrice | None = self.instance
        if instance is not None and model != instance.model:
            raise serializers.ValidationError(
                "The model name cannot be changed; add a price for the new name instead."
            )
        return model

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            attrs.pop("model", None)
        return attrs


class PriceListSerializer(serializers.Serializer):
    """A price list to load; without ``prices``, the list Gatehouse ships."""

    name = StrictCharField(
        max_length=255,
        required=False,
        help_text="What to call this list on the rows it sets (default 'api'; 'shipped' "
        "without prices).",
    )
    prices = serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        max_length=10_000,
        help_text="Rows in the shipped list's columns: vendor, model, input, output, "
        "cached_input, cache_write (USD per million tokens) and checked_on (YYYY-MM-DD).",
    )


class PriceRefreshSerializer(serializers.Serializer):
    """What loading a price list did."""

    created = serializers.ListField(child=serializers.CharField(), help_text="Models added.")
    updated = serializers.ListField(
        child=serializers.CharField(), help_text="Models whose prices the list changed."
    )
    unchanged = serializers.SerializerMethodField(help_text="Rows already at the list's prices.")
    kept = serializers.ListField(
        child=serializers.CharField(),
        help_text="Models an admin edited or added, which a list never overwrites.",
    )

    def get_unchanged(self, result) -> int:
        return len(result.unchanged)
