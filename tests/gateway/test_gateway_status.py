"""A gateway reads Active while a process serves it and Not Active soon after the last stops."""

import signal

import pytest

from gateways.models import Gateway
from gateways.selectors import gateway_is_active, gateways_with_status
from tests.factories import GatewayFactory
from tests.gateway.conftest import wait_until


@pytest.fixture
def gateway(committed):
    return GatewayFactory()


def is_active(gateway: Gateway) -> bool:
    return gateway_is_active(gateway)


def test_gateway_reads_active_once_a_process_serves_it(gateway, start_gateway):
    start_gateway(gateway.slug)
    wait_until(lambda: is_active(gateway), timeout=3)
    assert gateways_with_status().get(pk=gateway.pk).is_active


def test_gateway_reads_not_active_at_once_after_a_clean_stop(gateway, start_gateway):
    server = start_gateway(gateway.slug)
    wait_until(lambda: is_active(gateway), timeout=3)
    server.stop(signal.SIGTERM)
    assert not is_active(gateway)


def test_gateway_stays_active_while_one_of_two_processes_runs(gateway, start_gateway):
    first, second = start_gateway(gateway.slug), start_gateway(gateway.slug)
    wait_until(lambda: gateway.processes.count() == 2, timeout=3)
    first.stop()
    assert is_active(gateway)
    second.stop()
    assert not is_active(gateway)


def test_crashed_process_stops_counting_after_the_heartbeat_ttl(gateway, start_gateway, settings):
    settings.GATEHOUSE_HEARTBEAT_TTL = 1.0
    server = start_gateway(gateway.slug)
    wait_until(lambda: is_active(gateway), timeout=3)
    server.stop(signal.SIGKILL)
    wait_until(lambda: not is_active(gateway), timeout=4)
