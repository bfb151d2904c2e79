"""A body nested too deeply to be rewritten is refused in the API's error shape and recorded,
rather than failing with a plain-text 500 and no record."""

import httpx
import pytest

from gateways.models import UsageRecord
from tests.gateway.conftest import wait_until


@pytest.fixture
def since(world):
    last = UsageRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return UsageRecord.objects.filter(id__gt=last)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def post_stream(world, extra: str) -> httpx.Response:
    body = (
        '{"model": "fake-model", "stream": true, "messages": [{"role": "user", '
        f'"content": "hi"}}], "metadata": {extra}}}'
    )
    return httpx.post(
        f"{world.server.invoke_url(world.openai_proxy)}/chat/completions",
        headers={"Authorization": f"Bearer {world.openai_key}", "Content-Type": "application/json"},
        content=body.encode(),
        timeout=10,
    )


def test_a_300_deep_streamed_request_gets_400_in_the_apis_shape(world, upstream, since):
    response = post_stream(world, deep(300))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert upstream.received() == []


def test_a_300_deep_streamed_request_is_recorded(world, upstream, since):
    post_stream(world, deep(300))
    record = wait_until(lambda: since.first(), timeout=5)
    assert (record.status_code, record.outcome) == (400, "rejected")
