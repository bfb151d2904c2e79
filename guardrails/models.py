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
    """A model's price in USD per million tokens, used for the cost of every usage record and
    by cost limits. Rows a price list set (``price_list``: the shipped one, or a file loaded
    with ``refresh_prices --file``) are refreshed by the next load until an admin edits them
    (``edited``); rows an admin added are never touched by a load."""

    class Vendor(models.TextChoices):
        OPENAI = "openai", "OpenAI"
        AZURE_OPENAI = "azure-openai", "Azure OpenAI"
        AZURE_AI_FOUNDRY = "azure-ai-foundry", "Azure AI Foundry"
        ANTHROPIC = "anthropic", "Anthropic"
        GOOGLE = "google", "Google Gemini"
        MISTRAL = "mistral", "Mistral"
        AWS_BEDROCK = "aws-bedrock", "AWS Bedrock"
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
        help_text="Input tokens read from a prompt cache. Empty: they cost the input price.",
    )
    cache_write_per_million = models.DecimalField(
        "cache writes (USD / 1M tokens)",
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Input tokens written to a prompt cache (Anthropic, Bedrock). Empty: they "
        "cost the input price.",
    )
    checked_on = models.DateField(
        null=True, blank=True, help_text="When these prices were checked against the vendor's."
    )
    builtin = models.BooleanField(default=False, editable=False)
    price_list = models.CharField(
        max_length=255,
        blank=True,
        editable=False,
        help_text="The price list that last set this row ('shipped' for Gatehouse's own); "
        "empty for a row an admin added.",
    )
    edited = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["vendor", "model"]
        constraints = [
            models.CheckConstraint(
                condition=Q(input_per_million__gte=0)
                & Q(output_per_million__gte=0)
                & (Q(cached_input_per_million__isnull=True) | Q(cached_input_per_million__gte=0))
                & (Q(cache_write_per_million__isnull=True) | Q(cache_write_per_million__gte=0)),
                name="model_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.model
