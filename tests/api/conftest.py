"""Objects most API tests start from, created through the services."""

import pytest

from tests.factories import DeploymentFactory, GatewayFactory, ProviderFactory, ProxyFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test users get passwords; a fast hasher keeps the many API tests quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def provider(db):
    return ProviderFactory(name="Local LLM", credential="sk-upstream-plaintext-123")


@pytest.fixture
def proxy(provider):
    return ProxyFactory(name="Chat API", provider=provider)


@pytest.fixture
def gateway(db):
    return GatewayFactory(name="Edge One", base_url="https://gw.example.com")


@pytest.fixture
def deployment(proxy, gateway):
    return DeploymentFactory(proxy=proxy, gateway=gateway)
