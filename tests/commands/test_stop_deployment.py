import uuid

import pytest
from django.core.management.base import CommandError

from deployments.models import DeploymentStatus
from tests.factories import DeploymentFactory, GatewayFactory, ProxyFactory


def test_stops_the_current_deployment_of_a_proxy_on_a_gateway(manage):
    deployment = DeploymentFactory()
    out, _ = manage("stop_deployment", deployment.proxy.slug, deployment.gateway.slug)
    deployment.refresh_from_db()
    assert out == f"{deployment.pk}\n" and deployment.status == DeploymentStatus.UNDEPLOYED


def test_stops_a_deployment_given_by_id(manage):
    deployment = DeploymentFactory()
    manage("stop_deployment", str(deployment.pk))
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.UNDEPLOYED


def test_proxy_not_deployed_on_the_gateway_is_an_error(manage):
    proxy, gateway = ProxyFactory(), GatewayFactory()
    with pytest.raises(CommandError, match="is not deployed on gateway"):
        manage("stop_deployment", proxy.slug, gateway.slug)


def test_stopping_a_stopped_deployment_is_an_error(manage):
    deployment = DeploymentFactory()
    manage("stop_deployment", str(deployment.pk))
    with pytest.raises(CommandError, match="is not active"):
        manage("stop_deployment", str(deployment.pk))


def test_unknown_deployment_id_is_an_error(manage):
    missing = uuid.uuid4()
    with pytest.raises(CommandError, match=f"No deployment '{missing}'"):
        manage("stop_deployment", str(missing))


def test_malformed_deployment_id_is_an_error(manage):
    with pytest.raises(CommandError, match="No deployment 'not-a-uuid'"):
        manage("stop_deployment", "not-a-uuid")


def test_too_many_arguments_are_an_error(manage):
    with pytest.raises(CommandError, match="PROXY GATEWAY, or one DEPLOYMENT_ID"):
        manage("stop_deployment", "a", "b", "c")
