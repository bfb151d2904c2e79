"""Serializers for deployments: history rows with tags, and the detail with its snapshot."""

from typing import Any

from rest_framework import serializers

from core.api.fields import StrictCharField
from deployments.models import Deployment
from deployments.selectors import history_tags, is_out_of_date
from gateways.models import Gateway


class DeploymentSerializer(serializers.Serializer):
    """A deployment of a proxy to a gateway. ``tags`` mark the newest one per gateway
    (``Latest``) and the one being served (``Deployed``); ``out_of_date`` is set on current
    deployments when the proxy, its provider or their guardrails changed since."""

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    proxy = serializers.CharField(source="proxy.slug", read_only=True)
    gateway = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Gateway.objects.all(),
        error_messages={"does_not_exist": "Unknown gateway '{value}'."},
        help_text="Gateway ID.",
    )
    status = serializers.CharField(read_only=True)
    tags = serializers.SerializerMethodField()
    out_of_date = serializers.SerializerMethodField()
    reason = StrictCharField(max_length=255, allow_blank=True, required=False)
    restored_from = serializers.UUIDField(source="restored_from_id", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    stopped_at = serializers.DateTimeField(read_only=True)

    def get_tags(self, deployment: Deployment) -> list[str]:
        return history_tags(deployment, self.context.get("latest_ids", set()))

    def get_out_of_date(self, deployment: Deployment) -> bool | None:
        """Null for deployments that are not current."""
        return is_out_of_date(deployment) if deployment.is_current else None


class DeploymentDetailSerializer(DeploymentSerializer):
    snapshot = serializers.DictField(
        read_only=True, help_text="The immutable configuration the gateway serves."
    )


class RestoreSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=255, allow_blank=True, required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return super().to_internal_value({} if data is None else data)
