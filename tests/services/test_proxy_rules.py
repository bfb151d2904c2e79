import pytest

from core.errors import ValidationFailed
from proxies import services
from proxies.errors import NoProvider, ProviderExists, ProviderInUse, ProxyExists
from proxies.models import Provider
from tests.factories import ProviderFactory, ProxyFactory

pytestmark = pytest.mark.django_db


def test_new_proxy_defaults_to_latest_updated_provider_version_and_root_context():
    older = ProviderFactory(name="Older")
    newer = ProviderFactory(name="Newer")
    services.provider_update(provider=older, description="touched last")
    proxy = services.proxy_create(name="Support Bot")
    assert proxy.provider == older
    assert newer != older
    assert (proxy.version, proxy.context, proxy.slug) == ("v1.0", "/", "support-bot")


def test_proxy_without_any_provider_is_refused():
    with pytest.raises(NoProvider):
        services.proxy_create(name="Lonely")


def test_proxy_names_are_unique_ignoring_case():
    ProxyFactory(name="Chat API")
    with pytest.raises(ProxyExists):
        ProxyFactory(name="chat api")


def test_colliding_proxy_ids_get_a_suffix():
    first = ProxyFactory(name="Chat API")
    second = ProxyFactory(name="Chat-API")
    assert first.slug == "chat-api"
    assert second.slug.startswith("chat-api-") and len(second.slug) == len("chat-api-") + 4


def test_proxy_id_never_changes_on_rename():
    proxy = ProxyFactory(name="Chat API")
    services.proxy_update(proxy=proxy, name="Renamed")
    proxy.refresh_from_db()
    assert (proxy.slug, proxy.name) == ("chat-api", "Renamed")


@pytest.mark.parametrize("version", ["1.0", "v1", "v1.0.0", "V1.0"])
def test_version_must_read_v_major_minor(version):
    with pytest.raises(ValidationFailed) as info:
        ProxyFactory(version=version)
    assert info.value.errors[0]["field"] == "version"


def test_context_is_normalised():
    proxy = ProxyFactory(context="support//bot/")
    assert proxy.context == "/support/bot"


def test_duplicate_provider_name_is_a_conflict():
    ProviderFactory(name="OpenAI Prod")
    with pytest.raises(ProviderExists):
        ProviderFactory(name="OpenAI Prod")


def test_fixed_upstream_url_cannot_be_overridden(fixed_template):
    with pytest.raises(ValidationFailed) as info:
        services.provider_create(name="X", template=fixed_template, upstream_url="http://evil.test")
    assert info.value.errors[0]["field"] == "upstream_url"


def test_template_prefills_upstream_and_inbound_key():
    provider = services.provider_create(name="Claude", template="anthropic", credential="k")
    assert provider.upstream_url == "https://api.anthropic.com"
    assert (provider.inbound_key_name, provider.inbound_key_prefix) == ("x-api-key", "")


def test_compatible_template_requires_an_upstream_url():
    with pytest.raises(ValidationFailed):
        services.provider_create(name="Local", template="openai-compatible")


def test_credential_is_encrypted_at_rest_and_rotates():
    provider = ProviderFactory(credential="sk-first")
    stored = Provider.objects.get(pk=provider.pk).credential_ciphertext
    assert "sk-first" not in stored
    services.provider_set_credential(provider=provider, credential="sk-second")
    from proxies import crypto

    assert crypto.decrypt(Provider.objects.get(pk=provider.pk).credential_ciphertext) == "sk-second"


def test_provider_in_use_cannot_be_deleted():
    proxy = ProxyFactory()
    with pytest.raises(ProviderInUse):
        services.provider_delete(provider=proxy.provider)
