import json

import pytest
from django.core.management.base import CommandError

from deployments.models import Deployment, DeploymentStatus
from tests.factories import DeploymentFactory, GatewayFactory, ProxyFactory


def test_prints_the_deployment_id_and_reports_name_and_status(manage):
    proxy, gateway = ProxyFactory(), GatewayFactory()
    out, err = manage("deploy", proxy.slug, gateway.slug)
    deployment = Deployment.objects.get(proxy=proxy, gateway=gateway)
    assert out == f"{deployment.pk}\n" and f"{deployment.name} DEPLOYED" in err


def test_json_holds_id_name_and_status(manage):
    proxy, gateway = ProxyFactory(), GatewayFactory()
    out, _ = manage("deploy", proxy.slug, gateway.slug, "--json")
    deployment = Deployment.objects.get()
    assert json.loads(out) == {
        "id": str(deployment.pk),
        "name": deployment.name,
        "status": "DEPLOYED",
    }


def test_redeploying_archives_the_previous_deployment(manage):
    earlier = DeploymentFactory()
    manage("deploy", earlier.proxy.slug, earlier.gateway.slug)
    earlier.refresh_from_db()
    assert earlier.status == DeploymentStatus.ARCHIVED


def test_reason_is_recorded(manage):
    proxy, gateway = ProxyFactory(), GatewayFactory()
    out, _ = manage("deploy", proxy.slug, gateway.slug, "--reason", "release 42")
    assert Deployment.objects.get(pk=out.strip()).reason == "release 42"


def test_unknown_gateway_is_an_error(manage):
    proxy = ProxyFactory()
    with pytest.raises(CommandError, match="No gateway 'ghost'"):
        manage("deploy", proxy.slug, "ghost")


def test_unknown_proxy_is_an_error(manage):
    gateway = GatewayFactory()
    with pytest.raises(CommandError, match="No proxy 'ghost'"):
        manage("deploy", "ghost", gateway.slug)
