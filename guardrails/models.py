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


class ModelPrice(models.Model):
    """A model's price in USD per million tokens, used by cost limits. Shipped rows are
    refreshed on upgrade until an admin edits them (``edited``)."""

    class Vendor(models.TextChoices):
        OPENAI = "openai", "OpenAI"
        ANTHROPIC = "anthropic", "Anthropic"
        GOOGLE = "google", "Google Gemini"
        MISTRAL = "mistral", "Mistral"
        OTHER = "other", "Other"

    model = models.CharField(
        max_length=200, unique=True, help_text="Model name; dated variants match by prefix."
    )
    vendor = models.CharField(max_length=20, choices=Vendor.choices, default=Vendor.OTHER)
    input_per_million = models.DecimalField(
        "input (USD / 1M tokens)", max_digits=12, decimal_places=6
    )
    output_per_million = models.DecimalField(
        "output (USD / 1M tokens)", max_digits=12, decimal_places=6
    )
    cached_input_per_million = models.DecimalField(
        "cached input (USD / 1M tokens)",
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Empty: cached input tokens cost the input price.",
    )
    builtin = models.BooleanField(default=False, editable=False)
    edited = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["vendor", "model"]
        constraints = [
            models.CheckConstraint(
                condition=Q(input_per_million__gte=0)
                & Q(output_per_million__gte=0)
                & (Q(cached_input_per_million__isnull=True) | Q(cached_input_per_million__gte=0)),
                name="model_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.model
