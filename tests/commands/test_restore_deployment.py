import pytest
from django.core.management.base import CommandError

from deployments import services
from deployments.models import Deployment, DeploymentStatus
from tests.factories import DeploymentFactory


def test_restores_a_stopped_deployment_as_a_new_one(manage):
    earlier = services.stop(deployment=DeploymentFactory())
    out, _ = manage("restore_deployment", str(earlier.pk))
    restored = Deployment.objects.get(pk=out.strip())
    assert (restored.status, restored.restored_from_id, restored.snapshot) == (
        DeploymentStatus.DEPLOYED,
        earlier.pk,
        earlier.snapshot,
    )


def test_restoring_the_deployed_one_is_an_error(manage):
    current = DeploymentFactory()
    with pytest.raises(CommandError, match="already the one deployed"):
        manage("restore_deployment", str(current.pk))


def test_unknown_deployment_is_an_error(manage):
    with pytest.raises(CommandError, match="No deployment 'nope'"):
        manage("restore_deployment", "nope")
