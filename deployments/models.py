"""Deployments: immutable snapshots of a proxy's effective configuration on one gateway."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class DeploymentStatus(models.TextChoices):
    DEPLOYING = "DEPLOYING", "Deploying"
    DEPLOYED = "DEPLOYED", "Deployed"
    UNDEPLOYED = "UNDEPLOYED", "Undeployed (stopped)"
    FAILED = "FAILED", "Failed"
    ARCHIVED = "ARCHIVED", "Archived (superseded)"


CURRENT_STATUSES = (DeploymentStatus.DEPLOYING, DeploymentStatus.DEPLOYED)


class Deployment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120, editable=False)
    proxy = models.ForeignKey("proxies.Proxy", on_delete=models.CASCADE, related_name="deployments")
    gateway = models.ForeignKey(
        "gateways.Gateway", on_delete=models.CASCADE, related_name="deployments"
    )
    status = models.CharField(
        max_length=12, choices=DeploymentStatus.choices, default=DeploymentStatus.DEPLOYING
    )
    snapshot = models.JSONField(editable=False)
    snapshot_digest = models.CharField(max_length=64, editable=False)
    restored_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["proxy", "gateway"],
                condition=Q(status__in=["DEPLOYING", "DEPLOYED"]),
                name="one_current_deployment_per_proxy_gateway",
            ),
            models.UniqueConstraint(
                fields=["proxy", "gateway", "name"], name="deployment_name_unique_per_pair"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in DeploymentStatus]),
                name="deployment_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_current(self) -> bool:
        return self.status in CURRENT_STATUSES


class ConfigRevision(models.Model):
    """A single counter bumped by every change a gateway must pick up (deploy, stop, key
    create / revoke, credential rotation). Gateway processes compare it with what they hold."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"config revision {self.value}"
