import json

import pytest
from django.core.management.base import CommandError

from tests.factories import DeploymentFactory, GatewayFactory, ProxyFactory


def _row(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(name + " "))


def test_table_has_the_columns_people_need(manage):
    DeploymentFactory()
    out, _ = manage("list_deployments")
    assert out.split()[:7] == ["NAME", "ID", "PROXY", "GATEWAY", "STATUS", "TAGS", "CREATED"]


def test_current_deployment_is_tagged_latest_and_deployed(manage):
    deployment = DeploymentFactory()
    out, _ = manage("list_deployments")
    assert "Latest, Deployed" in _row(out, deployment.name)


def test_superseded_deployment_has_no_tags(manage):
    earlier = DeploymentFactory()
    DeploymentFactory(proxy=earlier.proxy, gateway=earlier.gateway)
    out, _ = manage("list_deployments")
    assert _row(out, earlier.name).split()[4:6] == ["ARCHIVED", "-"]


def test_latest_is_per_proxy_and_gateway(manage):
    gateway = GatewayFactory()
    first, second = DeploymentFactory(gateway=gateway), DeploymentFactory(gateway=gateway)
    out, _ = manage("list_deployments", "--json")
    tags = {d["id"]: d["tags"] for d in json.loads(out)}
    assert tags[str(first.pk)] == tags[str(second.pk)] == ["Latest", "Deployed"]


def test_filters_by_proxy(manage):
    wanted = DeploymentFactory()
    DeploymentFactory()
    out, _ = manage("list_deployments", "--proxy", wanted.proxy.slug, "--json")
    assert [d["id"] for d in json.loads(out)] == [str(wanted.pk)]


def test_filters_by_gateway(manage):
    wanted = DeploymentFactory()
    DeploymentFactory(proxy=wanted.proxy)
    out, _ = manage("list_deployments", "--gateway", wanted.gateway.slug, "--json")
    assert [d["id"] for d in json.loads(out)] == [str(wanted.pk)]


def test_json_describes_each_deployment(manage):
    proxy = ProxyFactory()
    deployment = DeploymentFactory(proxy=proxy)
    out, _ = manage("list_deployments", "--json")
    (row,) = json.loads(out)
    assert (row["name"], row["proxy"], row["gateway"], row["status"]) == (
        deployment.name,
        proxy.slug,
        deployment.gateway.slug,
        "DEPLOYED",
    )


def test_unknown_proxy_is_an_error(manage):
    with pytest.raises(CommandError, match="No proxy 'ghost'"):
        manage("list_deployments", "--proxy", "ghost")
