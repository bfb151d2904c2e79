"""Where an upstream may live: the rule every surface gets from the provider and template
services. The suite allows loopback (its fake upstreams listen there); tests about loopback
take that allowance away."""

import ipaddress
import socket

import pytest

from proxies import services
from proxies.errors import UpstreamAddressRefused
from proxies.models import Provider
from tests.factories import GatewayFactory, ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_private_networks(settings):
    settings.GATEHOUSE_ALLOWED_PRIVATE_NETWORKS = []


def create(url: str) -> Provider:
    return ProviderFactory(name="Upstream", upstream_url=url)


def refusal(url: str) -> UpstreamAddressRefused:
    with pytest.raises(UpstreamAddressRefused) as caught:
        create(url)
    return caught.value


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]:8000/v1",
        "http://10.0.0.5:8000/v1",
        "http://192.168.1.20/v1",
        "http://[::ffff:169.254.169.254]/v1",
    ],
)
def test_link_local_and_private_addresses_are_refused(url):
    assert refusal(url).errors[0]["field"] == "upstream_url"


def test_the_refusal_names_the_address(no_private_networks):
    assert "169.254.169.254" in refusal("http://169.254.169.254/").message


@pytest.mark.parametrize("url", ["http://127.0.0.1:11434/v1", "http://localhost:11434/v1"])
def test_loopback_is_refused_unless_allowed(no_private_networks, url):
    refusal(url)


def test_a_name_resolving_to_a_non_public_address_is_refused(no_private_networks):
    name = socket.gethostname()  # resolves to this machine's loopback or private address
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except OSError:
        pytest.skip(f"{name} does not resolve here")
    if any(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        pytest.skip(f"{name} resolves to a public address here")
    refusal(f"http://{name}:8000/v1")


def test_a_private_address_inside_an_allowed_network_is_accepted(settings):
    settings.GATEHOUSE_ALLOWED_PRIVATE_NETWORKS = ["10.0.0.0/8"]
    assert create("http://10.1.2.3:8000/v1").upstream_url == "http://10.1.2.3:8000/v1"


def test_a_public_address_is_accepted(no_private_networks):
    assert create("https://93.184.215.14/v1").upstream_url == "https://93.184.215.14/v1"


def test_a_gateways_host_is_refused():
    GatewayFactory(name="Edge", base_url="https://gw.example.com")
    assert "Edge" in refusal("https://gw.example.com/v1").message


def test_a_gateways_host_is_refused_on_any_port():
    GatewayFactory(name="Edge", base_url="https://gw.example.com")
    refusal("http://GW.example.com:8080/v1")


def test_a_gateways_loopback_address_and_port_is_refused():
    GatewayFactory(name="Local", base_url="http://127.0.0.1:8000")
    refusal("http://127.0.0.1:8000/v1")


def test_another_port_on_a_gateways_loopback_address_is_accepted():
    GatewayFactory(name="Local", base_url="http://127.0.0.1:8000")
    assert create("http://127.0.0.1:8090/v1").upstream_url == "http://127.0.0.1:8090/v1"


def test_a_host_gatehouse_answers_to_is_refused(settings):
    settings.ALLOWED_HOSTS = ["gatehouse.example.com"]
    refusal("https://gatehouse.example.com/api/v1")


def test_a_subdomain_pattern_in_allowed_hosts_is_refused(settings):
    settings.ALLOWED_HOSTS = [".gatehouse.example.com"]
    refusal("https://admin.gatehouse.example.com/v1")


def test_a_wildcard_in_allowed_hosts_refuses_nothing(settings):
    settings.ALLOWED_HOSTS = ["*"]
    assert create("https://llm.example.com/v1").upstream_url == "https://llm.example.com/v1"


def test_changing_to_a_refused_address_is_refused():
    provider = ProviderFactory(credential="")
    with pytest.raises(UpstreamAddressRefused):
        services.provider_update(provider=provider, upstream_url="http://169.254.169.254/")


def test_a_refused_change_keeps_the_url():
    provider = ProviderFactory(credential="")
    with pytest.raises(UpstreamAddressRefused):
        services.provider_update(provider=provider, upstream_url="http://169.254.169.254/")
    provider.refresh_from_db()
    assert provider.upstream_url == "http://127.0.0.1:9/v1"


def test_other_changes_keep_working_on_an_address_no_longer_allowed(settings):
    provider = ProviderFactory()
    settings.GATEHOUSE_ALLOWED_PRIVATE_NETWORKS = []
    services.provider_update(provider=provider, description="still editable")
    provider.refresh_from_db()
    assert provider.description == "still editable"


def test_a_custom_templates_url_follows_the_same_rule():
    with pytest.raises(UpstreamAddressRefused):
        services.template_create(
            slug="metadata", display_name="Metadata", upstream_url="http://169.254.169.254/"
        )


def test_changing_a_custom_templates_url_follows_the_same_rule():
    template = services.template_create(
        slug="acme", display_name="Acme", upstream_url="https://llm.acme.example"
    )
    with pytest.raises(UpstreamAddressRefused):
        services.template_update(template=template, upstream_url="http://10.0.0.1/")
