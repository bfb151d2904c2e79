import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test import override_settings

from core.revision import current_config_revision
from deployments import services
from deployments.errors import DeploymentNotActive, DeploymentRestoreConflict
from deployments.models import Deployment, DeploymentStatus
from deployments.selectors import deployments_for, history_tags, latest_ids
from tests.factories import DeploymentFactory, GatewayFactory, ProxyFactory

pytestmark = pytest.mark.django_db


def test_deploy_names_deployments_by_gateway_date_and_sequence():
    proxy, gateway = ProxyFactory(), GatewayFactory(name="Edge EU")
    first = services.deploy(proxy=proxy, gateway=gateway)
    second = services.deploy(proxy=proxy, gateway=gateway)
    assert first.name.startswith("edge-eu_") and first.name.endswith("_1")
    assert second.name.endswith("_2")


def test_redeploy_archives_the_previous_deployment():
    first = DeploymentFactory()
    second = services.deploy(proxy=first.proxy, gateway=first.gateway)
    first.refresh_from_db()
    assert first.status == DeploymentStatus.ARCHIVED
    assert second.status == DeploymentStatus.DEPLOYED


def test_database_refuses_two_current_deployments_for_one_pair():
    deployment = DeploymentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(
            name="manual",
            proxy=deployment.proxy,
            gateway=deployment.gateway,
            status=DeploymentStatus.DEPLOYED,
            snapshot={},
            snapshot_digest="x",
        )


def test_stop_marks_undeployed_and_a_second_stop_is_a_conflict():
    deployment = DeploymentFactory()
    services.stop(deployment=deployment)
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.UNDEPLOYED
    assert deployment.stopped_at is not None
    with pytest.raises(DeploymentNotActive):
        services.stop(deployment=deployment)


def test_restore_redeploys_an_earlier_snapshot_and_refuses_the_live_one():
    first = DeploymentFactory()
    from proxies.services import proxy_update

    proxy_update(proxy=first.proxy, context="/v2")
    second = services.deploy(proxy=first.proxy, gateway=first.gateway)
    assert second.snapshot["proxy"]["context"] == "/v2"
    restored = services.restore(deployment=first)
    assert restored.snapshot == first.snapshot
    assert restored.restored_from == first
    with pytest.raises(DeploymentRestoreConflict):
        services.restore(deployment=restored)


def test_history_tags_latest_and_deployed():
    first = DeploymentFactory()
    second = services.deploy(proxy=first.proxy, gateway=first.gateway)
    history = list(deployments_for(proxy=first.proxy))
    latest = latest_ids(history)
    tags = {d.pk: history_tags(d, latest) for d in history}
    assert tags[second.pk] == ["Latest", "Deployed"]
    assert tags[first.pk] == []
    services.stop(deployment=second)
    second.refresh_from_db()
    assert history_tags(second, latest) == ["Latest"]


@override_settings(GATEHOUSE_DEPLOYMENT_HISTORY=5)
def test_history_keeps_a_bounded_number_of_records_per_pair():
    first = DeploymentFactory()
    for _ in range(8):
        services.deploy(proxy=first.proxy, gateway=first.gateway)
    assert Deployment.objects.filter(proxy=first.proxy, gateway=first.gateway).count() == 5
    assert Deployment.objects.filter(status=DeploymentStatus.DEPLOYED).count() == 1


def test_every_deploy_and_stop_advances_the_config_revision():
    before = current_config_revision()
    deployment = DeploymentFactory()
    services.stop(deployment=deployment)
    assert current_config_revision() == before + 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_deploys_leave_exactly_one_current_deployment():
    if connection.vendor != "postgresql":
        pytest.skip("row locks under real concurrency need PostgreSQL")
    proxy, gateway = ProxyFactory(), GatewayFactory()
    barrier = threading.Barrier(6)
    errors: list[Exception] = []

    def deploy_once():
        try:
            barrier.wait(timeout=10)
            services.deploy(proxy=proxy, gateway=gateway)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deploy_once) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    rows = Deployment.objects.filter(proxy=proxy, gateway=gateway)
    assert rows.count() == 6
    assert rows.filter(status=DeploymentStatus.DEPLOYED).count() == 1
    assert len(set(rows.values_list("name", flat=True))) == 6
