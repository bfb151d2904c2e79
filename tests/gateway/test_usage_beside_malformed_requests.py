"""Malformed requests (a NUL in the path or the model, a method longer than its column, an
upstream reporting negative token counts) in flight among good ones cost no good request its
usage record.

The usage table is away while the requests run, so all their records wait in the gateway's
queue and go to the database in one batch once it is back, the malformed ones behind the good
ones: the case of a batch holding both, made certain rather than left to the flush timer.
"""

import asyncio
import contextlib

import httpx
import orjson
import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from gateways.models import UsageRecord
from tests.gateway.conftest import wait_until

GOOD_REQUESTS = 100
CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
NEGATIVE_USAGE = {"prompt_tokens": -5, "completion_tokens": -3, "total_tokens": -8}
# Sent on raw connections, the request line as it is: begun while the good requests are in
# flight, finished once they are answered.
REFUSED_AT_ONCE = (b"GET /nope/%00 HTTP/1.1\r\n", b"UNSUBSCRIBE /nope HTTP/1.1\r\n")
END_OF_HEAD = b"Host: gateway\r\nConnection: close\r\n\r\n"


def rename_usage_table(old: str, new: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")


async def begin(port: int, request_line: bytes):
    """A connection with only the request line sent: the gateway has not seen the whole head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_line)
    await writer.drain()
    return reader, writer


async def finish(reader, writer) -> int:
    """Send the rest of a begun request's head; the status code of the answer."""
    writer.write(END_OF_HEAD)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def requests_in_flight(world) -> list[int]:
    """Send the good requests and the malformed ones together; their status codes, the good
    ones' first. The good ones are recorded first: the fake upstream holds them 0.3 s and the
    malformed ones it answers 0.6 s, and those the gateway refuses at once are finished after
    the good ones are answered."""
    url = f"{world.server.invoke_url(world.openai_proxy)}/chat/completions"
    auth = {"Authorization": f"Bearer {world.openai_key}"}
    later = {**auth, "x-fake-delay": "0.6"}
    limits = httpx.Limits(max_connections=GOOD_REQUESTS + 10)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        good = asyncio.gather(
            *(
                client.post(url, headers={**auth, "x-fake-delay": "0.3"}, json=CHAT)
                for _ in range(GOOD_REQUESTS)
            )
        )
        malformed = asyncio.gather(
            client.post(url, headers=later, json={**CHAT, "model": "fake\x00model"}),
            client.post(
                url, headers={**later, "x-fake-usage": orjson.dumps(NEGATIVE_USAGE)}, json=CHAT
            ),
        )
        begun = [await begin(world.server.port, line) for line in REFUSED_AT_ONCE]
        statuses = [response.status_code for response in await good]
        statuses += [await finish(reader, writer) for reader, writer in begun]
        statuses += [response.status_code for response in await malformed]
    return statuses


@pytest.fixture(scope="module")
def records(world):
    """Send the requests while the usage table is away, bring it back, and return the records
    written after they were sent once the gateway has written them all (or given up)."""
    last = UsageRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
    rename_usage_table("gateways_usagerecord", "gateways_usagerecord_away")
    try:
        statuses = asyncio.run(requests_in_flight(world))
        wait_until(lambda: "cannot write usage records" in world.server.log(), timeout=5)
    finally:
        rename_usage_table("gateways_usagerecord_away", "gateways_usagerecord")
    assert statuses == [200] * GOOD_REQUESTS + [404, 404, 200, 200]
    since = UsageRecord.objects.filter(id__gt=last)
    total = GOOD_REQUESTS + 4
    with contextlib.suppress(AssertionError):  # the tests say what is missing
        wait_until(lambda: since.count() >= total, timeout=15)
    return since


def test_every_good_request_beside_malformed_ones_has_its_record(world, records):
    good = records.filter(status_code=200, model="fake-model", prompt_tokens=10)
    assert good.count() == GOOD_REQUESTS


def test_a_request_with_a_nul_in_its_path_has_a_printable_record(world, records):
    assert records.get(proxy="nope", method="GET").resource.isprintable()


def test_a_method_longer_than_its_column_is_recorded_as_other(world, records):
    assert records.filter(proxy="nope", method="_OTHER").count() == 1


def test_a_nul_in_the_model_is_removed_from_the_record(world, records):
    assert records.filter(model="fakemodel").count() == 1


def test_negative_token_counts_from_the_upstream_are_recorded_empty(world, records):
    counts = records.filter(status_code=200, model="fake-model", prompt_tokens__isnull=True)
    assert list(counts.values_list("prompt_tokens", "completion_tokens", "total_tokens")) == [
        (None, None, None)
    ]


def test_the_repairs_are_counted_in_the_gateways_metrics(world, records):
    response = httpx.get(f"{world.server.url}/_gatehouse/metrics", timeout=5)
    clamped = {
        sample.labels["field"]: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "gatehouse_usage_values_clamped_total"
    }
    assert clamped["method"] == 1
