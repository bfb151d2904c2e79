import pytest
from django.core.management.base import CommandError

from proxies.models import Proxy
from tests.factories import ProviderFactory, ProxyFactory


def test_prints_the_proxy_id(manage):
    ProviderFactory()
    out, _ = manage("create_proxy", "--name", "Chat API")
    assert out == "chat-api\n" and Proxy.objects.filter(slug="chat-api").exists()


def test_provider_defaults_to_the_most_recently_updated(manage):
    ProviderFactory()
    newest = ProviderFactory()
    out, _ = manage("create_proxy", "--name", "Chat")
    assert Proxy.objects.get(slug=out.strip()).provider == newest


def test_options_are_stored(manage):
    older = ProviderFactory()
    ProviderFactory()
    out, _ = manage(
        "create_proxy",
        "--name",
        "Support bot",
        "--provider",
        older.slug,
        "--version",
        "v2.1",
        "--description",
        "For the help desk",
        "--context",
        "chat/",
    )
    proxy = Proxy.objects.get(slug=out.strip())
    assert (proxy.provider, proxy.version, proxy.description, proxy.context) == (
        older,
        "v2.1",
        "For the help desk",
        "/chat",
    )


def test_unknown_provider_is_an_error(manage):
    with pytest.raises(CommandError, match="No provider 'ghost'"):
        manage("create_proxy", "--name", "Chat", "--provider", "ghost")


def test_no_provider_at_all_is_an_error(manage):
    with pytest.raises(CommandError, match="Register a provider"):
        manage("create_proxy", "--name", "Chat")


def test_duplicate_name_is_an_error(manage):
    ProxyFactory(name="Chat")
    with pytest.raises(CommandError, match="A proxy named 'chat' already exists"):
        manage("create_proxy", "--name", "chat")


def test_malformed_version_is_an_error(manage):
    ProviderFactory()
    with pytest.raises(CommandError, match="version"):
        manage("create_proxy", "--name", "Chat", "--version", "1.0")
