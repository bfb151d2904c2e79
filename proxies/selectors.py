"""Reads for providers, proxies and API keys."""

import uuid

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from proxies.errors import APIKeyNotFound, ProviderNotFound, ProxyNotFound, UserNotFound
from proxies.models import APIKey, Provider, Proxy


def default_provider() -> Provider | None:
    """The provider a new proxy starts on: the most recently updated one."""
    return Provider.objects.order_by("-updated_at", "-id").first()


def provider_get(slug: str) -> Provider:
    try:
        return Provider.objects.select_related("template").get(slug=slug)
    except Provider.DoesNotExist:
        raise ProviderNotFound(
            f"No provider '{slug}'.",
            errors=[{"field": "provider", "message": f"Unknown provider '{slug}'."}],
        ) from None


def provider_list() -> QuerySet[Provider]:
    return Provider.objects.select_related("template")


def proxy_get(slug: str) -> Proxy:
    try:
        return Proxy.objects.select_related("provider__template").get(slug=slug)
    except Proxy.DoesNotExist:
        raise ProxyNotFound(f"No proxy '{slug}'.") from None


def proxy_list() -> QuerySet[Proxy]:
    return Proxy.objects.select_related("provider")


def api_key_list(*, proxy: Proxy) -> QuerySet[APIKey]:
    return proxy.api_keys.prefetch_related("gateways")


def api_key_get(*, proxy: Proxy, key_id) -> APIKey:
    try:
        return proxy.api_keys.get(pk=uuid.UUID(str(key_id)))
    except (APIKey.DoesNotExist, ValueError):
        raise APIKeyNotFound(f"No API key '{key_id}' on proxy '{proxy.slug}'.") from None


def user_get(username: str):
    """The user a management token is issued to."""
    try:
        return get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise UserNotFound(f"No user '{username}'.") from None


def effective_inbound_key(proxy: Proxy) -> dict[str, str]:
    """Where callers put their key for this proxy: its own settings, else the provider's."""
    provider = proxy.provider
    if proxy.inbound_key_in or proxy.inbound_key_name:
        return {
            "in": proxy.inbound_key_in or provider.inbound_key_in,
            "name": proxy.inbound_key_name or provider.inbound_key_name,
            "prefix": proxy.inbound_key_prefix,
        }
    return {
        "in": provider.inbound_key_in,
        "name": provider.inbound_key_name,
        "prefix": provider.inbound_key_prefix,
    }


def invoke_url(proxy: Proxy, gateway) -> str:
    """Where applications call ``proxy`` on ``gateway``: base URL + Proxy ID + context."""
    context = "" if proxy.context == "/" else proxy.context
    return f"{gateway.invoke_base}/{proxy.slug}{context}"
