"""The credentials a gateway holds: every provider a deployment may call, failover targets
included, a key pool as a list."""

import json

import pytest

from deployments.selectors import gateway_runtime_config
from guardrails.services import attachment_create
from tests.factories import DeploymentFactory, GatewayFactory, ProviderFactory, ProxyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateway():
    return GatewayFactory(name="Edge")


def credentials(gateway) -> dict:
    return gateway_runtime_config(gateway)["credentials"]


def test_a_failover_targets_credential_is_loaded(gateway):
    proxy = ProxyFactory(provider=ProviderFactory(name="Primary", credential="sk-primary"))
    backup = ProviderFactory(name="Backup", credential="sk-backup")
    attachment_create(
        policy="provider-failover", params={"targets": [{"provider": backup.slug}]}, proxy=proxy
    )
    DeploymentFactory(proxy=proxy, gateway=gateway)
    assert credentials(gateway) == {"primary": "sk-primary", "backup": "sk-backup"}


def test_a_key_pool_is_loaded_as_a_list(gateway):
    proxy = ProxyFactory(provider=ProviderFactory(name="Pooled", credential=["sk-a", "sk-b"]))
    DeploymentFactory(proxy=proxy, gateway=gateway)
    assert credentials(gateway) == {"pooled": ["sk-a", "sk-b"]}


def test_a_single_key_is_loaded_as_a_string(gateway):
    proxy = ProxyFactory(provider=ProviderFactory(name="Single", credential="sk-one"))
    DeploymentFactory(proxy=proxy, gateway=gateway)
    assert credentials(gateway) == {"single": "sk-one"}


def test_an_aws_credential_object_is_loaded_as_its_json_text(gateway):
    keys = {"aws_access_key_id": "AKIAEXAMPLEKEY123456", "aws_secret_access_key": "secret"}
    bedrock = ProviderFactory(
        name="Bedrock",
        template="aws-bedrock",
        upstream_url="https://bedrock-runtime.eu-west-1.amazonaws.com",
        credential=keys,
    )
    DeploymentFactory(proxy=ProxyFactory(provider=bedrock), gateway=gateway)
    assert json.loads(credentials(gateway)["bedrock"]) == keys
