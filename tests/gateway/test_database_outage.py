"""When the database goes away the gateway keeps serving its snapshot and recovers after."""

import httpx
from django.db import connection

from deployments.services import deploy
from gateways.dataplane.app import GatewayApp
from gateways.models import UsageRecord
from tests.gateway.conftest import make_openai_proxy, wait_until


class DatabaseDown:
    """Point this thread's connection at a database that does not exist."""

    def __enter__(self):
        self.name = connection.settings_dict["NAME"]
        connection.close()
        unreachable = "/nonexistent/gatehouse.sqlite3" if connection.vendor == "sqlite" else "x"
        connection.settings_dict["NAME"] = unreachable

    def __exit__(self, *exc):
        connection.close()
        connection.settings_dict["NAME"] = self.name


def test_snapshot_keeps_serving_while_the_database_is_unreachable(world):
    store = GatewayApp(world.gateway.slug, heartbeat=False).store
    assert store.reload()
    served = store.current
    with DatabaseDown():
        store.check()
        assert not store.reload()
    assert store.current is served
    assert world.openai_proxy.slug in store.current.routes


def test_snapshot_catches_up_once_the_database_returns(world, fake_upstream):
    store = GatewayApp(world.gateway.slug, heartbeat=False).store
    store.reload()
    with DatabaseDown():
        store.check()
    proxy = make_openai_proxy(fake_upstream.url, "after outage")
    deploy(proxy=proxy, gateway=world.gateway)
    store.check()
    assert proxy.slug in store.current.routes


def test_usage_queued_while_the_table_is_unreachable_is_written_afterwards(world, upstream):
    before = UsageRecord.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE gateways_usagerecord RENAME TO gateways_usagerecord_away")
    try:
        statuses = [
            httpx.get(
                f"{world.server.invoke_url(world.openai_proxy)}/models",
                headers={"Authorization": f"Bearer {world.openai_key}"},
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 200]
        wait_until(lambda: "cannot write usage records" in world.server.log(), timeout=5)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE gateways_usagerecord_away RENAME TO gateways_usagerecord")
    wait_until(lambda: UsageRecord.objects.count() - before == 3, timeout=5)
