"""Gateways, their registration tokens, the processes serving them, and usage records."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from proxies.identifiers import id_validator


class Gateway(models.Model):
    """A named place where proxies are deployed; served by one or more gateway processes."""

    slug = models.SlugField(
        "ID", max_length=40, unique=True, validators=[id_validator], editable=False
    )
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True, max_length=1023)
    base_url = models.URLField(
        "Base URL",
        max_length=500,
        help_text="Where applications reach this gateway, e.g. https://gw.example.com",
    )
    environment = models.CharField(max_length=64, default="production")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def invoke_base(self) -> str:
        return self.base_url.rstrip("/")


def heartbeat_cutoff():
    return timezone.now() - timedelta(seconds=settings.GATEHOUSE_HEARTBEAT_TTL)


class GatewayProcess(models.Model):
    """A running gateway process; it refreshes ``last_seen_at`` while alive."""

    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="processes")
    instance_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    address = models.CharField(max_length=255, blank=True)
    snapshot_version = models.CharField(max_length=64, blank=True)
    circuits = models.JSONField(
        default=list,
        blank=True,
        help_text="What the process reported at its last heartbeat of the routing targets "
        "that are not simply closed: open or half-open circuits, suspended models.",
    )
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name_plural = "gateway processes"

    def __str__(self) -> str:
        return f"{self.gateway} @ {self.hostname}:{self.pid}"


class GatewayTokenStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


class GatewayToken(models.Model):
    """A registration token a gateway process presents to the control plane. Hash only."""

    PREFIX = "ghg-"
    MAX_ACTIVE = 2

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    masked = models.CharField(max_length=40, editable=False)
    status = models.CharField(
        max_length=10, choices=GatewayTokenStatus.choices, default=GatewayTokenStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "revoked"]), name="gatewaytoken_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.gateway} token {self.masked}"


class UsageOutcome(models.TextChoices):
    OK = "ok", "OK"
    UPSTREAM_ERROR = "upstream_error", "Upstream error"
    CANCELLED = "cancelled", "Cancelled by the client"
    REJECTED = "rejected", "Rejected by the gateway"
    FAILED = "failed", "Failed"


class UsageRecord(models.Model):
    """One request through a gateway. Plain values, no foreign keys: records outlive the
    proxies, keys and deployments they mention, and gateways write them in bulk."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    gateway = models.CharField(max_length=40)
    proxy = models.CharField(max_length=40)
    deployment = models.UUIDField(null=True, blank=True)
    api_key = models.UUIDField(null=True, blank=True)
    provider = models.CharField(max_length=40, blank=True)
    model = models.CharField(max_length=200, blank=True)
    method = models.CharField(max_length=10)
    resource = models.CharField(max_length=500, blank=True)
    status_code = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=16, choices=UsageOutcome.choices)
    reason = models.CharField(max_length=64, blank=True)
    streamed = models.BooleanField(default=False)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    cached_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="Input tokens read from a prompt cache (in the prompt)."
    )
    cost_usd = models.DecimalField(
        "cost (USD)",
        max_digits=20,
        decimal_places=9,
        null=True,
        blank=True,
        help_text="The usage priced from the pricing table; empty when the call reported no "
        "tokens or its model has no price.",
    )
    latency_ms = models.FloatField()
    upstream_latency_ms = models.FloatField(null=True, blank=True)
    first_byte_ms = models.FloatField(
        "time to first byte (ms)",
        null=True,
        blank=True,
        help_text="Streamed answers: from the request's arrival to the first byte of the "
        "body sent to the client.",
    )
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["proxy", "created_at"], name="usage_proxy_created")]

    def __str__(self) -> str:
        return f"{self.method} {self.proxy}{self.resource} {self.status_code}"
