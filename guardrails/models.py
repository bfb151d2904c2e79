"""Guardrail and policy attachments to a provider or a proxy, in order."""

from django.db import models
from django.db.models import Q


class GuardrailAttachment(models.Model):
    """One policy attached to exactly one provider or proxy, with validated parameters."""

    provider = models.ForeignKey(
        "proxies.Provider",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="guardrails",
    )
    proxy = models.ForeignKey(
        "proxies.Proxy",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="guardrails",
    )
    policy = models.CharField(max_length=100)
    policy_version = models.CharField(max_length=20, default="v1")
    params = models.JSONField(default=dict, blank=True)
    order = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(provider__isnull=False) & Q(proxy__isnull=True))
                | (Q(provider__isnull=True) & Q(proxy__isnull=False)),
                name="guardrail_attached_to_exactly_one_owner",
            ),
        ]

    def __str__(self) -> str:
        owner = self.proxy or self.provider
        return f"{self.policy} {self.policy_version} on {owner}"
