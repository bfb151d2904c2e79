"""Serializers for gateways and their registration tokens."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import ImmutableIdMixin, StrictCharField
from gateways.models import Gateway, GatewayToken
from gateways.selectors import gateway_is_active

ACTIVE, NOT_ACTIVE = "Active", "Not Active"


class GatewaySerializer(ImmutableIdMixin, serializers.Serializer):
    """A gateway: where proxies are deployed. Active while a gateway process serving it has
    sent a heartbeat recently."""

    id = serializers.CharField(source="slug", read_only=True)
    name = StrictCharField(max_length=255)
    description = StrictCharField(max_length=1023, allow_blank=True, required=False)
    base_url = StrictCharField(
        max_length=500, help_text="Where applications reach it, e.g. https://gw.example.com"
    )
    environment = StrictCharField(max_length=64, allow_blank=True, required=False)
    status = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(serializers.ChoiceField(choices=[ACTIVE, NOT_ACTIVE]))
    def get_status(self, gateway: Gateway) -> str:
        active = getattr(gateway, "is_active", None)
        if active is None:
            active = gateway_is_active(gateway)
        return ACTIVE if active else NOT_ACTIVE


class GatewayTokenSerializer(serializers.Serializer):
    """A registration token in masked form; its hash is never returned."""

    id = serializers.UUIDField(read_only=True)
    masked = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    revoked_at = serializers.DateTimeField(read_only=True)


class GatewayTokenCreatedSerializer(GatewayTokenSerializer):
    token = serializers.SerializerMethodField(
        help_text="The secret for the gateway process. Shown in this response only."
    )

    def get_token(self, token: GatewayToken) -> str:
        return self.context["secret"]
