"""Providers (with their templates), proxies, API keys and management API tokens."""

import uuid

from django.conf import settings
from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from proxies.identifiers import id_validator, name_validator, version_validator


class Adapter(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    AZURE_OPENAI = "azure-openai", "Azure OpenAI"
    AZURE_AI_FOUNDRY = "azure-ai-foundry", "Azure AI Foundry"
    ANTHROPIC = "anthropic", "Anthropic"
    GEMINI = "gemini", "Gemini"
    MISTRAL = "mistral", "Mistral"
    AWS_BEDROCK = "aws-bedrock", "AWS Bedrock"
    OPENAI_COMPATIBLE = "openai-compatible", "OpenAI-compatible"


class KeyLocation(models.TextChoices):
    HEADER = "header", "Header"
    QUERY = "query", "Query parameter"


class AccessMode(models.TextChoices):
    ALLOW_ALL = "allow_all", "Allow all (except denied resources)"
    DENY_ALL = "deny_all", "Deny all (except allowed resources)"


class ProviderTemplate(models.Model):
    """How a vendor's API works; providers copy these values when created."""

    slug = models.SlugField(max_length=40, unique=True, validators=[id_validator])
    display_name = models.CharField(max_length=128)
    description = models.TextField(blank=True, max_length=1023)
    builtin = models.BooleanField(default=False, editable=False)
    adapter = models.CharField(
        max_length=32,
        choices=Adapter.choices,
        default=Adapter.OPENAI_COMPATIBLE,
        help_text="Which provider adapter relays this template's traffic.",
    )
    upstream_url = models.URLField(blank=True, help_text="Default upstream base URL.")
    upstream_url_editable = models.BooleanField(default=True)
    stream_usage = models.BooleanField(
        default=True,
        help_text="Ask streamed chat completions for a final usage chunk "
        "(stream_options.include_usage), for APIs that accept it.",
    )
    upstream_auth_header = models.CharField(max_length=100, blank=True)
    upstream_auth_prefix = models.CharField(max_length=40, blank=True)
    inbound_key_header = models.CharField(max_length=100, default="Authorization")
    inbound_key_prefix = models.CharField(max_length=40, blank=True, default="Bearer ")
    model_location = models.JSONField(default=dict, blank=True)
    usage_paths = models.JSONField(default=dict, blank=True)
    resources = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class Provider(models.Model):
    """A registered LLM provider: an upstream, its credential and provider-wide settings."""

    slug = models.SlugField(
        "ID", max_length=40, unique=True, validators=[id_validator], editable=False
    )
    name = models.CharField(max_length=128, unique=True, validators=[name_validator])
    template = models.ForeignKey(ProviderTemplate, on_delete=models.PROTECT, related_name="+")
    version = models.CharField(max_length=20, default="v1.0", validators=[version_validator])
    description = models.TextField(blank=True, max_length=1023)
    upstream_url = models.URLField(max_length=500)
    credential_ciphertext = models.TextField(blank=True, editable=False)
    credential_updated_at = models.DateTimeField(null=True, blank=True, editable=False)
    credential_key_count = models.PositiveSmallIntegerField(
        default=0,
        editable=False,
        help_text="How many upstream keys the credential holds (a key pool holds several).",
    )
    access_mode = models.CharField(
        max_length=16, choices=AccessMode.choices, default=AccessMode.ALLOW_ALL
    )
    access_exceptions = models.JSONField(
        default=list,
        blank=True,
        help_text="Denied resources in allow-all mode, allowed ones in deny-all mode.",
    )
    allowed_models = models.JSONField(
        default=list, blank=True, help_text="Model names callers may use; empty allows any."
    )
    inbound_key_in = models.CharField(
        max_length=8, choices=KeyLocation.choices, default=KeyLocation.HEADER
    )
    inbound_key_name = models.CharField(max_length=100)
    inbound_key_prefix = models.CharField(max_length=40, blank=True)
    connect_timeout = models.FloatField(
        default=10.0, help_text="Seconds to open a connection to the upstream."
    )
    read_timeout = models.FloatField(
        default=120.0, help_text="Seconds the upstream may stay silent while answering."
    )
    first_byte_timeout = models.FloatField(
        "first byte timeout",
        null=True,
        blank=True,
        help_text="Seconds until the upstream's first response byte; empty: no such limit.",
    )
    total_timeout = models.FloatField(
        null=True,
        blank=True,
        help_text="Seconds for the whole exchange, a stream included; empty: no such limit.",
    )
    stream_usage = models.BooleanField(
        "Ask streams for usage",
        default=True,
        help_text="Add stream_options.include_usage to streamed chat completions (unless the "
        "caller set it), so their tokens are counted. Turn off for servers that reject it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(access_mode__in=["allow_all", "deny_all"]),
                name="provider_access_mode_valid",
            ),
            models.CheckConstraint(
                condition=Q(connect_timeout__gt=0)
                & Q(read_timeout__gt=0)
                & (Q(first_byte_timeout__isnull=True) | Q(first_byte_timeout__gt=0))
                & (Q(total_timeout__isnull=True) | Q(total_timeout__gt=0)),
                name="provider_timeouts_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_credential(self) -> bool:
        return bool(self.credential_ciphertext)


class Proxy(models.Model):
    """A governed endpoint on one provider, served at ``/{slug}{context}`` on each gateway."""

    slug = models.SlugField(
        "Proxy ID", max_length=40, unique=True, validators=[id_validator], editable=False
    )
    name = models.CharField(max_length=128, unique=True, validators=[name_validator])
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="proxies")
    version = models.CharField(max_length=20, default="v1.0", validators=[version_validator])
    description = models.TextField(blank=True, max_length=1023)
    context = models.CharField(max_length=200, default="/")
    inbound_key_in = models.CharField(
        max_length=8,
        choices=KeyLocation.choices,
        blank=True,
        help_text="Blank inherits the provider's inbound key settings.",
    )
    inbound_key_name = models.CharField(max_length=100, blank=True)
    inbound_key_prefix = models.CharField(max_length=40, blank=True)
    resources = models.JSONField(
        default=list,
        blank=True,
        help_text="Resources this proxy exposes; empty exposes all of the provider's.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name_plural = "proxies"
        constraints = [
            models.CheckConstraint(
                condition=Q(context__startswith="/"), name="proxy_context_rooted"
            )
        ]

    def __str__(self) -> str:
        return self.name


class APIKeyStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


class APIKey(models.Model):
    """A caller's key for one proxy. Only its hash and a masked form are stored."""

    PREFIX = "gh-"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    proxy = models.ForeignKey(Proxy, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, validators=[MinLengthValidator(3)])
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    masked = models.CharField(max_length=40, editable=False)
    status = models.CharField(
        max_length=10, choices=APIKeyStatus.choices, default=APIKeyStatus.ACTIVE
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    gateways = models.ManyToManyField(
        "gateways.Gateway",
        blank=True,
        related_name="+",
        help_text="Gateways that accept this key; none selected means every gateway.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        constraints = [
            models.UniqueConstraint(
                fields=["proxy", "name"],
                condition=Q(status="active"),
                name="apikey_active_name_unique_per_proxy",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "revoked"]), name="apikey_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"

    @property
    def is_usable(self) -> bool:
        return self.status == APIKeyStatus.ACTIVE and not (
            self.expires_at and self.expires_at <= timezone.now()
        )


class ManagementToken(models.Model):
    """A bearer token for the management API (CI scripts). Stored only as a hash; refused
    once revoked or past its expiry (none: it never expires)."""

    PREFIX = "ghm-"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="management_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    masked = models.CharField(max_length=40, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.masked}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
