"""Which addresses the gateway may contact on someone else's behalf (core.egress)."""

import asyncio

import pytest

from core.egress import EgressRefused, PublicResolver, parse_networks, url_host_refusal


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:11434/v1",
        "http://0.0.0.0/",
    ],
)
def test_non_public_hosts_are_refused(url):
    assert url_host_refusal(url, resolve=False)


def test_a_public_address_is_allowed():
    assert url_host_refusal("https://8.8.8.8/v1", resolve=False) == ""


def test_an_allowed_network_lets_its_addresses_through():
    allowed = parse_networks(["127.0.0.0/8", "10.0.0.0/8"])
    assert url_host_refusal("http://127.0.0.1:9/", allowed, resolve=False) == ""
    assert url_host_refusal("http://10.9.8.7/", allowed, resolve=False) == ""
    assert url_host_refusal("http://192.168.1.1/", allowed, resolve=False)


def test_a_malformed_network_is_named():
    with pytest.raises(ValueError, match="not-a-network"):
        parse_networks(["10.0.0.0/8", "not-a-network"])


def test_the_resolver_refuses_a_name_that_resolves_only_to_refused_addresses():
    resolver = PublicResolver()

    async def resolve():
        try:
            return await resolver.resolve("localhost", 80)
        finally:
            await resolver.close()

    with pytest.raises(EgressRefused):
        asyncio.run(resolve())


def test_the_resolver_keeps_allowed_addresses():
    resolver = PublicResolver(parse_networks(["127.0.0.0/8", "::1/128"]))

    async def resolve():
        try:
            return await resolver.resolve("localhost", 80)
        finally:
            await resolver.close()

    assert {result["host"] for result in asyncio.run(resolve())} <= {"127.0.0.1", "::1"}
