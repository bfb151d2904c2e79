"""Writes for providers, templates, proxies, API keys and management tokens.

Every surface (admin, API, commands) calls these functions, so the rules live in one place.
Each runs in a transaction, validates with ``full_clean`` and raises domain errors.
"""

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ValidationFailed, validated_save
from core.revision import bump_config_revision
from guardrails.routing import (
    check_provider_change,
    check_wire_format_change,
    failover_attachments_naming,
)
from proxies import crypto
from proxies.aws_credentials import bedrock_credential_text
from proxies.errors import (
    APIKeyExists,
    APIKeyRevoked,
    CredentialRequired,
    NoProvider,
    ProviderExists,
    ProviderInUse,
    ProxyExists,
    TemplateExists,
    TemplateInUse,
    TemplateNotFound,
    TemplateReadOnly,
)
from proxies.identifiers import normalize_context, unique_slug
from proxies.key_pool import key_count, key_pool, pool_text
from proxies.models import (
    AccessMode,
    Adapter,
    APIKey,
    APIKeyStatus,
    ManagementToken,
    Provider,
    ProviderTemplate,
    Proxy,
)
from proxies.resources import validate_resources
from proxies.selectors import default_provider
from proxies.upstreams import check_upstream_url

# Editable fields in the order forms show them.
PROVIDER_FIELDS = (
    "name",
    "version",
    "description",
    "upstream_url",
    "access_mode",
    "access_exceptions",
    "allowed_models",
    "inbound_key_in",
    "inbound_key_name",
    "inbound_key_prefix",
    "connect_timeout",
    "read_timeout",
    "first_byte_timeout",
    "total_timeout",
    "stream_usage",
)
PROXY_FIELDS = (
    "name",
    "provider",
    "version",
    "description",
    "context",
    "inbound_key_in",
    "inbound_key_name",
    "inbound_key_prefix",
    "resources",
)


# --- templates -------------------------------------------------------------------------------


def template_get(slug: str) -> ProviderTemplate:
    try:
        return ProviderTemplate.objects.get(slug=slug)
    except ProviderTemplate.DoesNotExist:
        raise TemplateNotFound(
            f"No provider template '{slug}'.",
            errors=[{"field": "template", "message": f"Unknown template '{slug}'."}],
        ) from None


@transaction.atomic
def template_create(*, slug: str, display_name: str, **fields: Any) -> ProviderTemplate:
    """Create a custom (organisation-managed) provider template."""
    if ProviderTemplate.objects.filter(slug=slug).exists():
        raise TemplateExists(f"A template with ID '{slug}' already exists.")
    if fields.get("upstream_url"):
        check_upstream_url(fields["upstream_url"])
    template = ProviderTemplate(slug=slug, display_name=display_name, builtin=False, **fields)
    template.resources = validate_resources(template.resources, field="resources")
    validated_save(template)
    return template


@transaction.atomic
def template_update(*, template: ProviderTemplate, **fields: Any) -> ProviderTemplate:
    if template.builtin:
        raise TemplateReadOnly("Built-in templates cannot be edited; create a custom one.")
    new_url = fields.get("upstream_url")
    if new_url and new_url != template.upstream_url:
        check_upstream_url(new_url)
    adapter = template.adapter
    for key, value in fields.items():
        setattr(template, key, value)
    template.resources = validate_resources(template.resources, field="resources")
    validated_save(template)
    if template.adapter != adapter:
        # Checked once saved (and undone with the transaction): the failovers of its
        # providers, and those naming them, must still pair providers of one wire format.
        check_wire_format_change(list(Provider.objects.filter(template=template)))
    return template


@transaction.atomic
def template_delete(*, template: ProviderTemplate) -> None:
    if template.builtin:
        raise TemplateReadOnly("Built-in templates cannot be deleted.")
    if Provider.objects.filter(template=template).exists():
        raise TemplateInUse("This template is used by providers; delete them first.")
    template.delete()


# --- providers -------------------------------------------------------------------------------


@transaction.atomic
def provider_create(
    *,
    name: str,
    template: ProviderTemplate | str,
    credential: str | dict | list[str] = "",
    upstream_url: str = "",
    **fields: Any,
) -> Provider:
    """Register a provider from a template; the template pre-fills what the user leaves out.
    ``credential``: an API key, a list of them (a key pool), or AWS Bedrock's object."""
    if isinstance(template, str):
        template = template_get(template)
    name = (name or "").strip()
    if Provider.objects.filter(name__iexact=name).exists():
        raise ProviderExists(
            f"A provider named '{name}' already exists.",
            errors=[{"field": "name", "message": "This name is taken."}],
        )
    if (
        upstream_url
        and not template.upstream_url_editable
        and upstream_url.rstrip("/") != template.upstream_url.rstrip("/")
    ):
        raise ValidationFailed(
            f"The {template.display_name} upstream URL is fixed.",
            errors=[{"field": "upstream_url", "message": "This template's upstream URL is fixed."}],
        )
    unknown = set(fields).difference(PROVIDER_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown provider fields: {', '.join(sorted(unknown))}.")
    key_name = fields.pop("inbound_key_name", None)
    key_prefix = fields.pop("inbound_key_prefix", None)
    provider = Provider(
        slug=unique_slug(Provider, name),
        name=name,
        template=template,
        upstream_url=(upstream_url or template.upstream_url).rstrip("/"),
        inbound_key_name=key_name or template.inbound_key_header,
        inbound_key_prefix=template.inbound_key_prefix if key_prefix is None else key_prefix,
        stream_usage=template.stream_usage,
    )
    for key, value in fields.items():
        if value is not None:
            setattr(provider, key, value)
    if not provider.upstream_url:
        raise ValidationFailed(
            "An upstream URL is required for this template.",
            errors=[{"field": "upstream_url", "message": "This field is required."}],
        )
    check_upstream_url(provider.upstream_url)
    _clean_provider_lists(provider)
    _check_timeouts(provider)
    credential = _credential_text(template, credential, provider.upstream_url)
    if credential:
        _store_credential(provider, credential)
    try:
        validated_save(provider)
    except IntegrityError:
        raise ProviderExists(f"A provider named '{name}' already exists.") from None
    return provider


def _clean_provider_lists(provider: Provider) -> None:
    provider.access_exceptions = validate_resources(
        provider.access_exceptions, field="access_exceptions"
    )
    models = provider.allowed_models or []
    if not isinstance(models, list) or not all(isinstance(m, str) and m.strip() for m in models):
        raise ValidationFailed(
            "Allowed models must be a list of model names.",
            errors=[{"field": "allowed_models", "message": "Expected a list of model names."}],
        )
    provider.allowed_models = sorted({m.strip() for m in models})
    if provider.access_mode not in AccessMode.values:
        raise ValidationFailed(
            "Unknown access mode.",
            errors=[{"field": "access_mode", "message": "Use allow_all or deny_all."}],
        )


def _check_timeouts(provider: Provider) -> None:
    errors = [
        {"field": name, "message": "Must be more than 0 seconds."}
        for name in ("connect_timeout", "read_timeout", "first_byte_timeout", "total_timeout")
        if getattr(provider, name) is not None and getattr(provider, name) <= 0
    ]
    first_byte, total = provider.first_byte_timeout, provider.total_timeout
    if not errors and first_byte is not None and total is not None and first_byte > total:
        message = "The first byte cannot be given longer than the whole exchange."
        errors.append({"field": "first_byte_timeout", "message": message})
    if errors:
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise ValidationFailed(f"Invalid timeouts: {summary}", errors=errors)


@transaction.atomic
def provider_update(
    *, provider: Provider, credential: str | dict | list[str] | None = None, **fields: Any
) -> Provider:
    """Change provider settings. A new credential takes effect on gateways without redeploy.

    A new upstream URL needs a new credential in the same change (an empty one removes it):
    otherwise whoever may edit the provider could send its credential to a server of theirs.
    """
    unknown = set(fields).difference(PROVIDER_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown provider fields: {', '.join(sorted(unknown))}.")
    if "name" in fields:
        fields["name"] = fields["name"].strip()
        if Provider.objects.filter(name__iexact=fields["name"]).exclude(pk=provider.pk).exists():
            raise ProviderExists(
                f"A provider named '{fields['name']}' already exists.",
                errors=[{"field": "name", "message": "This name is taken."}],
            )
    if "upstream_url" in fields:
        new_url = (fields["upstream_url"] or "").rstrip("/")
        if not provider.template.upstream_url_editable and new_url != provider.upstream_url:
            raise ValidationFailed(
                f"The {provider.template.display_name} upstream URL is fixed.",
                errors=[
                    {"field": "upstream_url", "message": "This template's upstream URL is fixed."}
                ],
            )
        if new_url and new_url != provider.upstream_url:
            check_upstream_url(new_url)
            if provider.has_credential and credential is None:
                message = (
                    "Changing the upstream URL needs a new credential in the same change: "
                    "the current one is never sent to a new address."
                )
                raise CredentialRequired(
                    message, errors=[{"field": "credential", "message": message}]
                )
        fields["upstream_url"] = new_url
    for key, value in fields.items():
        setattr(provider, key, value)
    _clean_provider_lists(provider)
    _check_timeouts(provider)
    if credential is not None:
        _set_credential(provider, credential)
    try:
        validated_save(provider)
    except IntegrityError:
        raise ProviderExists("A provider with this name already exists.") from None
    return provider


def _credential_text(
    template: ProviderTemplate, credential: str | dict | list[str], upstream_url: str
) -> str:
    """The credential as stored: a key pool as a JSON list (a pool of one as that key); AWS
    Bedrock's may be an object of AWS keys (checked, kept as JSON); else the key itself."""
    if isinstance(credential, list):
        return pool_text(key_pool(credential))
    if template.adapter == Adapter.AWS_BEDROCK:
        return bedrock_credential_text(credential, upstream_url=upstream_url)
    if isinstance(credential, dict):
        message = "Only AWS Bedrock providers take a credential object; give the API key."
        raise ValidationFailed(message, errors=[{"field": "credential", "message": message}])
    return credential


def _store_credential(provider: Provider, text: str) -> None:
    provider.credential_ciphertext = crypto.encrypt(text)
    provider.credential_key_count = key_count(text)
    provider.credential_updated_at = timezone.now()


def _set_credential(provider: Provider, credential: str | dict | list[str]) -> None:
    _store_credential(
        provider, _credential_text(provider.template, credential, provider.upstream_url)
    )
    bump_config_revision()


@transaction.atomic
def provider_set_credential(*, provider: Provider, credential: str | dict | list[str]) -> Provider:
    """Rotate the upstream credential (a key, a key pool or AWS Bedrock's object); running
    gateways pick it up without a redeploy."""
    _set_credential(provider, credential)
    provider.save(
        update_fields=[
            "credential_ciphertext",
            "credential_key_count",
            "credential_updated_at",
            "updated_at",
        ]
    )
    return provider


def credentials_reencrypt() -> tuple[int, list[str]]:
    """Encrypt every stored credential again with the first ``GATEHOUSE_ENCRYPTION_KEY``,
    after a new key was put first: then the old key can go. Returns how many were
    re-encrypted and the providers whose credential no configured key reads (left as they
    are). The plaintexts do not change, so gateways have nothing to reload."""
    done, unreadable = 0, []
    for provider in Provider.objects.exclude(credential_ciphertext="").order_by("slug"):
        again = crypto.reencrypt(provider.credential_ciphertext)
        if again is None:
            unreadable.append(provider.slug)
            continue
        Provider.objects.filter(pk=provider.pk).update(credential_ciphertext=again)
        done += 1
    return done, unreadable


@transaction.atomic
def provider_delete(*, provider: Provider) -> None:
    """Delete a provider no proxy uses and no provider-failover policy names as a target."""
    if provider.proxies.exists():
        names = ", ".join(provider.proxies.values_list("slug", flat=True)[:5])
        raise ProviderInUse(
            f"Provider '{provider.slug}' is used by proxies ({names}); delete or move them first."
        )
    naming = failover_attachments_naming(provider)
    if naming:
        owners = ", ".join(
            f"proxy {a.proxy.slug}" if a.proxy_id else f"provider {a.provider.slug}"
            for a in naming[:5]
        )
        raise ProviderInUse(
            f"Provider '{provider.slug}' is a failover target of {owners}; remove it from "
            "their provider-failover policies first."
        )
    provider.delete()


# --- proxies ---------------------------------------------------------------------------------


@transaction.atomic
def proxy_create(
    *,
    name: str,
    provider: Provider | None = None,
    version: str | None = None,
    description: str = "",
    context: str | None = None,
    resources: list[dict[str, str]] | None = None,
    inbound_key_in: str = "",
    inbound_key_name: str = "",
    inbound_key_prefix: str = "",
) -> Proxy:
    """Create a proxy; the provider defaults to the most recently updated one."""
    name = (name or "").strip()
    if Proxy.objects.filter(name__iexact=name).exists():
        raise ProxyExists(
            f"A proxy named '{name}' already exists.",
            errors=[{"field": "name", "message": "This name is taken."}],
        )
    provider = provider or default_provider()
    if provider is None:
        raise NoProvider(
            "Register a provider before creating a proxy.",
            errors=[{"field": "provider", "message": "No provider exists yet."}],
        )
    proxy = Proxy(
        slug=unique_slug(Proxy, name) if name else "",
        name=name,
        provider=provider,
        version=version or "v1.0",
        description=description or "",
        inbound_key_in=inbound_key_in or "",
        inbound_key_name=inbound_key_name or "",
        inbound_key_prefix=inbound_key_prefix or "",
    )
    proxy.context = _context(context)
    proxy.resources = validate_resources(resources or [], field="resources")
    try:
        validated_save(proxy)
    except IntegrityError:
        raise ProxyExists(f"A proxy named '{name}' already exists.") from None
    return proxy


def _context(context: str | None) -> str:
    try:
        return normalize_context(context)
    except ValidationError as exc:
        raise ValidationFailed(
            exc.messages[0], errors=[{"field": "context", "message": exc.messages[0]}]
        ) from None


@transaction.atomic
def proxy_update(*, proxy: Proxy, **fields: Any) -> Proxy:
    """Change a proxy. The Proxy ID never changes; running gateways change only on redeploy."""
    unknown = set(fields).difference(PROXY_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown or read-only proxy fields: {', '.join(sorted(unknown))}.")
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if Proxy.objects.filter(name__iexact=fields["name"]).exclude(pk=proxy.pk).exists():
            raise ProxyExists(
                f"A proxy named '{fields['name']}' already exists.",
                errors=[{"field": "name", "message": "This name is taken."}],
            )
    if "context" in fields:
        fields["context"] = _context(fields["context"])
    if "resources" in fields:
        fields["resources"] = validate_resources(fields["resources"] or [], field="resources")
    if "version" in fields and not fields["version"]:
        fields["version"] = "v1.0"
    if fields.get("provider") is not None and fields["provider"].pk != proxy.provider_id:
        check_provider_change(proxy=proxy, provider=fields["provider"])
    for key, value in fields.items():
        setattr(proxy, key, value)
    try:
        validated_save(proxy)
    except IntegrityError:
        raise ProxyExists("A proxy with this name already exists.") from None
    return proxy


@transaction.atomic
def proxy_delete(*, proxy: Proxy) -> None:
    """Delete a proxy, its keys and deployments; gateways stop serving it at once."""
    proxy.delete()
    bump_config_revision()


# --- API keys --------------------------------------------------------------------------------


@transaction.atomic
def api_key_create(
    *,
    proxy: Proxy,
    name: str,
    expires_at: datetime | None = None,
    gateways: list | None = None,
    user=None,
) -> tuple[APIKey, str]:
    """Mint a key for a proxy. Returns the record and the secret, which is never stored."""
    name = (name or "").strip()
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            "The expiry must be in the future.",
            errors=[{"field": "expires_at", "message": "The expiry must be in the future."}],
        )
    if APIKey.objects.filter(proxy=proxy, name=name, status=APIKeyStatus.ACTIVE).exists():
        raise APIKeyExists(
            f"This proxy already has an active key named '{name}'.",
            errors=[{"field": "name", "message": "This name is taken."}],
        )
    secret = crypto.new_secret(APIKey.PREFIX)
    key = APIKey(
        proxy=proxy,
        name=name,
        key_hash=crypto.hash_secret(secret),
        masked=crypto.mask(secret, APIKey.PREFIX),
        expires_at=expires_at,
        created_by=user if getattr(user, "pk", None) else None,
    )
    validated_save(key)
    if gateways:
        key.gateways.set(gateways)
    bump_config_revision()
    return key, secret


@transaction.atomic
def api_key_revoke(*, api_key: APIKey) -> APIKey:
    """Revoke a key; every gateway rejects it within a second."""
    if api_key.status == APIKeyStatus.REVOKED:
        raise APIKeyRevoked("This key is already revoked.")
    api_key.status = APIKeyStatus.REVOKED
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["status", "revoked_at"])
    bump_config_revision()
    return api_key


def api_keys_touch(*, last_used: dict[str, datetime]) -> None:
    """Record last-used times reported by gateways (keyed by key hash), in one pass."""
    for key_hash, when in last_used.items():
        APIKey.objects.filter(key_hash=key_hash).update(last_used_at=when)


# --- management API tokens -------------------------------------------------------------------


# What every surface suggests: long enough for a pipeline, short enough that a leaked token dies.
MANAGEMENT_TOKEN_LIFETIME = timedelta(days=90)


@transaction.atomic
def management_token_create(
    *, user, name: str = "", expires_at: datetime | None
) -> tuple[ManagementToken, str]:
    """Issue a management API token for ``user``, refused after ``expires_at`` (None: never);
    the secret is returned once, never stored."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            "The expiry must be in the future.",
            errors=[{"field": "expires_at", "message": "The expiry must be in the future."}],
        )
    secret = crypto.new_secret(ManagementToken.PREFIX)
    token = ManagementToken.objects.create(
        user=user,
        name=name,
        token_hash=crypto.hash_secret(secret),
        masked=crypto.mask(secret, ManagementToken.PREFIX),
        expires_at=expires_at,
    )
    return token, secret


@transaction.atomic
def management_token_revoke(*, token: ManagementToken) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
