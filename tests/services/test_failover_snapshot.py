"""The deployment snapshot of a proxy with failover targets: every provider it may call, each
with its timeouts, and a deployment that goes out of date when a target changes."""

import pytest

from deployments.selectors import is_out_of_date
from deployments.snapshot import build_proxy_snapshot
from guardrails.services import attachment_create, attachment_update
from proxies import services as proxy_services
from tests.factories import DeploymentFactory, ProviderFactory, ProxyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def proxy():
    return ProxyFactory(name="Chat", provider=ProviderFactory(name="Primary"))


@pytest.fixture
def backup():
    return ProviderFactory(name="Backup", template="openai")


def failover(targets: list[dict], **owner):
    return attachment_create(policy="provider-failover", params={"targets": targets}, **owner)


def test_the_snapshot_holds_each_failover_target_as_a_provider(proxy, backup):
    failover([{"provider": backup.slug, "model": "gpt-4o-mini"}], proxy=proxy)
    providers = build_proxy_snapshot(proxy)["providers"]
    assert list(providers) == ["backup"]
    assert providers["backup"]["adapter"] == "openai"
    assert providers["backup"]["upstream_url"] == backup.upstream_url


def test_a_target_is_described_like_the_proxys_own_provider(proxy, backup):
    failover([{"provider": backup.slug}], proxy=proxy)
    snapshot = build_proxy_snapshot(proxy)
    assert set(snapshot["providers"]["backup"]) == set(snapshot["provider"])


def test_targets_of_a_failover_on_the_provider_are_in_the_snapshot(proxy, backup):
    failover([{"provider": backup.slug}], provider=proxy.provider)
    assert list(build_proxy_snapshot(proxy)["providers"]) == ["backup"]


def test_a_proxy_without_failover_has_no_other_providers(proxy):
    assert build_proxy_snapshot(proxy)["providers"] == {}


def test_a_disabled_failover_brings_no_providers(proxy, backup):
    attachment = failover([{"provider": backup.slug}], proxy=proxy)
    attachment_update(attachment=attachment, enabled=False)
    assert build_proxy_snapshot(proxy)["providers"] == {}


def test_the_snapshot_holds_no_target_credential(proxy):
    backup = ProviderFactory(name="Backup", credential="sk-backup-secret-77")
    failover([{"provider": backup.slug}], proxy=proxy)
    assert "sk-backup-secret-77" not in str(build_proxy_snapshot(proxy))


def test_every_provider_snapshot_carries_four_timeouts(proxy, backup):
    proxy_services.provider_update(provider=backup, first_byte_timeout=5.0, total_timeout=90.0)
    failover([{"provider": backup.slug}], proxy=proxy)
    snapshot = build_proxy_snapshot(proxy)
    assert snapshot["provider"]["timeouts"] == {
        "connect": 10.0,
        "read": 120.0,
        "first_byte": None,
        "total": None,
    }
    assert snapshot["providers"]["backup"]["timeouts"]["first_byte"] == 5.0


def test_editing_a_target_provider_makes_the_deployment_out_of_date(proxy, backup):
    failover([{"provider": backup.slug}], proxy=proxy)
    deployment = DeploymentFactory(proxy=proxy)
    proxy_services.provider_update(provider=backup, total_timeout=30.0)
    assert is_out_of_date(deployment)
