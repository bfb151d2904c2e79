"""Serializers for provider templates, providers, proxies and API keys.

They check the shape of requests and render responses; the rules (defaults, uniqueness,
fixed upstream URLs, expiry in the future) live in ``proxies.services``. Nested objects such
as ``access_control`` map onto flat model fields (``source="*"``), so ``validated_data`` holds
exactly the keyword arguments the services take.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import (
    ImmutableIdMixin,
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
)
from deployments.models import CURRENT_STATUSES, Deployment
from gateways.models import Gateway
from proxies.identifiers import id_validator
from proxies.models import (
    AccessMode,
    Adapter,
    APIKey,
    APIKeyStatus,
    KeyLocation,
    Provider,
    ProviderTemplate,
    Proxy,
)
from proxies.resources import METHODS
from proxies.selectors import effective_inbound_key


class MethodField(serializers.ChoiceField):
    """An HTTP method in any case, stored upper-cased; ``*`` means every method."""

    def __init__(self, **kwargs: Any):
        super().__init__(choices=sorted(METHODS), **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data.upper())


class ResourceSerializer(serializers.Serializer):
    """One operation: an HTTP method and a path that may hold ``{param}`` segments."""

    method = MethodField(default="*")
    path = StrictCharField(max_length=500)


def _unknown(kind: str) -> dict[str, str]:
    return {"does_not_exist": f"Unknown {kind} '{{value}}'.", "invalid": f"Invalid {kind} ID."}


# --- templates -------------------------------------------------------------------------------


class TemplateUpstreamAuthSerializer(serializers.Serializer):
    header = StrictCharField(source="upstream_auth_header", max_length=100, allow_blank=True)
    prefix = StrictCharField(
        source="upstream_auth_prefix",
        max_length=40,
        allow_blank=True,
        trim_whitespace=False,
        required=False,
    )


class TemplateInboundKeySerializer(serializers.Serializer):
    name = StrictCharField(source="inbound_key_header", max_length=100)
    prefix = StrictCharField(
        source="inbound_key_prefix",
        max_length=40,
        allow_blank=True,
        trim_whitespace=False,
        required=False,
    )


class TemplateSerializer(ImmutableIdMixin, serializers.Serializer):
    """A provider template; built-ins are read-only, custom ones are the organisation's."""

    id = StrictCharField(source="slug", max_length=40, validators=[id_validator])
    display_name = StrictCharField(max_length=128)
    description = StrictCharField(max_length=1023, allow_blank=True, required=False)
    builtin = serializers.BooleanField(read_only=True)
    adapter = serializers.ChoiceField(choices=Adapter.choices, required=False)
    upstream_url = StrictCharField(max_length=200, allow_blank=True, required=False)
    upstream_url_editable = StrictBooleanField(required=False)
    stream_usage = StrictBooleanField(required=False)
    upstream_auth = TemplateUpstreamAuthSerializer(source="*", required=False)
    inbound_key = TemplateInboundKeySerializer(source="*", required=False)
    model_location = serializers.DictField(required=False)
    usage_paths = serializers.DictField(required=False)
    resources = ResourceSerializer(many=True, required=False)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


# --- providers -------------------------------------------------------------------------------


class AccessControlSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(source="access_mode", choices=AccessMode.choices, required=False)
    exceptions = ResourceSerializer(
        source="access_exceptions",
        many=True,
        required=False,
        help_text="Denied resources in allow_all mode, allowed ones in deny_all mode.",
    )


class InboundKeySerializer(serializers.Serializer):
    """Where callers put their Gatehouse API key: header or query, its name and value prefix."""

    name = StrictCharField(source="inbound_key_name", max_length=100, required=False)
    prefix = StrictCharField(
        source="inbound_key_prefix",
        max_length=40,
        allow_blank=True,
        trim_whitespace=False,
        required=False,
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # "in" is a Python keyword, so it cannot be declared as a class attribute.
        where = serializers.ChoiceField(
            source="inbound_key_in", choices=KeyLocation.choices, required=False
        )
        return {"in": where, **super().get_fields()}


class TimeoutsSerializer(serializers.Serializer):
    """Seconds; ``first_byte`` and ``total`` may be null (no such limit)."""

    connect = StrictFloatField(
        source="connect_timeout",
        min_value=0.1,
        max_value=600,
        required=False,
        help_text="To open a connection to the upstream.",
    )
    read = StrictFloatField(
        source="read_timeout",
        min_value=0.1,
        max_value=3600,
        required=False,
        help_text="The upstream may stay silent this long while answering.",
    )
    first_byte = StrictFloatField(
        source="first_byte_timeout",
        min_value=0.1,
        max_value=3600,
        required=False,
        allow_null=True,
        help_text="Until the upstream's first response byte; null: no such limit.",
    )
    total = StrictFloatField(
        source="total_timeout",
        min_value=0.1,
        max_value=86400,
        required=False,
        allow_null=True,
        help_text="For the whole exchange, a stream included; null: no such limit.",
    )


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 20},
            {"type": "object", "additionalProperties": {"type": "string"}},
        ]
    }
)
class UpstreamCredentialField(serializers.Field):
    """An upstream credential: a string (an API key), a list of them (a key pool), or an
    object of AWS keys (AWS Bedrock only). The service checks the pool and the object."""

    default_error_messages = {
        "invalid": "Expected a string, a list of keys, or an object of AWS keys."
    }

    def to_internal_value(self, data: Any) -> str | dict | list:
        if isinstance(data, str):
            return data.strip()
        if isinstance(data, dict | list):
            return data
        self.fail("invalid")


class ProviderSerializer(ImmutableIdMixin, serializers.Serializer):
    """A registered provider. ``credential`` is write-only and never appears in a response."""

    id = serializers.CharField(source="slug", read_only=True)
    name = StrictCharField(max_length=128)
    template = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=ProviderTemplate.objects.all(),
        error_messages=_unknown("template"),
    )
    version = StrictCharField(max_length=20, required=False)
    description = StrictCharField(max_length=1023, allow_blank=True, required=False)
    upstream_url = StrictCharField(
        max_length=500,
        allow_blank=True,
        required=False,
        help_text="Defaults to the template's; required where the template has none.",
    )
    credential = UpstreamCredentialField(
        write_only=True,
        required=False,
        style={"input_type": "password"},
        help_text="Upstream API key, or a list of 1 to 20 keys used in rotation (a key pool); "
        "for AWS Bedrock also an object of AWS keys "
        '(`{"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region", '
        '"role_arn", "external_id"}`), or empty for the gateway host\'s AWS credentials. '
        "Stored encrypted, never returned.",
    )
    has_credential = serializers.BooleanField(read_only=True)
    credential_keys = serializers.IntegerField(
        source="credential_key_count",
        read_only=True,
        help_text="How many keys the credential holds: 0 (none), 1, or a key pool's size.",
    )
    credential_updated_at = serializers.DateTimeField(read_only=True)
    access_control = AccessControlSerializer(source="*", required=False)
    allowed_models = serializers.ListField(
        child=StrictCharField(max_length=200), required=False, help_text="Empty allows any."
    )
    inbound_key = InboundKeySerializer(source="*", required=False)
    timeouts = TimeoutsSerializer(source="*", required=False)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def validate_template(self, template: ProviderTemplate) -> ProviderTemplate:
        if self.instance is not None and template.pk != self.instance.template_id:
            raise serializers.ValidationError(
                "The template cannot be changed; register a new provider instead."
            )
        return template


# --- proxies ---------------------------------------------------------------------------------


class ProxyInboundKeySerializer(InboundKeySerializer):
    """Read: the effective settings (the proxy's own, else its provider's). Write: the proxy's
    own; blank values inherit from the provider."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for field in fields.values():
            field.allow_blank = True
        return fields

    def to_representation(self, instance: Proxy) -> dict[str, str]:
        return effective_inbound_key(instance)


class DeploymentSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    gateway = serializers.CharField(source="gateway.slug")
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class ProxySerializer(ImmutableIdMixin, serializers.Serializer):
    """A proxy; the Proxy ID is generated from the name and never changes."""

    id = serializers.CharField(source="slug", read_only=True)
    name = StrictCharField(max_length=128)
    provider = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Provider.objects.all(),
        required=False,
        error_messages=_unknown("provider"),
        help_text="Provider ID; defaults to the most recently updated provider.",
    )
    version = StrictCharField(max_length=20, allow_blank=True, required=False)
    description = StrictCharField(max_length=1023, allow_blank=True, required=False)
    context = StrictCharField(max_length=200, allow_blank=True, required=False)
    inbound_key = ProxyInboundKeySerializer(source="*", required=False)
    inbound_key_inherited = serializers.SerializerMethodField()
    resources = ResourceSerializer(
        many=True, required=False, help_text="Exposed resources; empty exposes all."
    )
    deployments = serializers.SerializerMethodField(
        help_text="Live deployments of this proxy, one per gateway."
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_inbound_key_inherited(self, proxy: Proxy) -> bool:
        return not (proxy.inbound_key_in or proxy.inbound_key_name)

    @extend_schema_field(DeploymentSummarySerializer(many=True))
    def get_deployments(self, proxy: Proxy) -> list[dict[str, Any]]:
        current = getattr(proxy, "current_deployments", None)
        if current is None:
            current = (
                Deployment.objects.filter(proxy=proxy, status__in=CURRENT_STATUSES)
                .select_related("gateway")
                .order_by("gateway__name")
            )
        return DeploymentSummarySerializer(current, many=True).data


# --- API keys --------------------------------------------------------------------------------


class APIKeySerializer(serializers.Serializer):
    """An API key in masked form; the secret itself is only in the create response."""

    id = serializers.UUIDField(read_only=True)
    name = StrictCharField(min_length=3, max_length=100)
    masked = serializers.CharField(read_only=True)
    status = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField(
        allow_null=True, required=False, help_text="Must be in the future; null never expires."
    )
    last_used_at = serializers.DateTimeField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    gateways = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Gateway.objects.all(),
        many=True,
        required=False,
        error_messages=_unknown("gateway"),
        help_text="Gateway IDs that accept the key; empty means every gateway.",
    )

    def get_status(self, key: APIKey) -> str:
        """``active``, ``revoked`` or ``expired`` (active but past its expiry)."""
        if key.status == APIKeyStatus.ACTIVE and not key.is_usable:
            return "expired"
        return key.status


class APIKeyCreatedSerializer(APIKeySerializer):
    key = serializers.SerializerMethodField(
        help_text="The secret. Shown in this response only; store it now."
    )

    def get_key(self, key: APIKey) -> str:
        return self.context["secret"]


# --- routing state ---------------------------------------------------------------------------


class RoutingProcessSerializer(serializers.Serializer):
    """A gateway process that sees a target in the target's state."""

    gateway = serializers.CharField(help_text="Gateway ID.")
    instance_id = serializers.CharField()
    hostname = serializers.CharField()
    pid = serializers.IntegerField(allow_null=True)
    state = serializers.CharField()
    until = serializers.DateTimeField(allow_null=True)
    failures = serializers.IntegerField()


class RoutingTargetSerializer(serializers.Serializer):
    """One upstream a deployed proxy may call, and how its gateways see it now."""

    target = serializers.CharField(
        help_text="How breakers and usage records name it: provider or provider/model."
    )
    provider = serializers.CharField(help_text="Provider ID.")
    model = serializers.CharField(help_text="The model asked for; empty keeps the request's.")
    role = serializers.ChoiceField(
        choices=["primary", "failover", "model", "reported"],
        help_text="primary: the proxy's own provider; failover: a provider-failover target; "
        "model: a round robin's model; reported: named only by a gateway's report.",
    )
    state = serializers.ChoiceField(
        choices=["closed", "half_open", "suspended", "open"],
        help_text="The worst any active gateway process reports: open (skipped until "
        "`until`), suspended (a round robin's model, until `until`), half_open (probing), "
        "closed (healthy).",
    )
    until = serializers.DateTimeField(allow_null=True)
    failures = serializers.IntegerField(help_text="Failures in a row counted by the breaker.")
    processes = RoutingProcessSerializer(many=True, help_text="The processes seeing `state`.")


class RoutingStateSerializer(serializers.Serializer):
    """The routing targets of a proxy's current deployments and their state."""

    proxy = serializers.CharField()
    gateways = serializers.ListField(
        child=serializers.CharField(), help_text="Gateways the proxy is deployed on."
    )
    targets = RoutingTargetSerializer(many=True)
