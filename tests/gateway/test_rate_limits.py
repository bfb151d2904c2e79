"""Request and token limits enforced by a gateway process, on Redis and in process memory."""

import pytest

from gateways.models import UsageRecord
from tests.gateway.conftest import wait_until
from tests.gateway.guardrail_world import on_provider, on_proxy
from tests.gateway.limits_world import Scenario, backend_world, requests_limit, serve

SCENARIOS = {
    "three": Scenario(on_proxy("basic-ratelimit", requests_limit(3))),
    "recorded": Scenario(on_proxy("basic-ratelimit", requests_limit(1))),
    "per-key": Scenario(on_proxy("basic-ratelimit", requests_limit(1, scope="per_key")), keys=2),
    "provider": Scenario(on_provider("basic-ratelimit", requests_limit(2))),
    "sibling": Scenario(provider_of="provider"),
    "tokens": Scenario(
        on_proxy("token-based-ratelimit", {"totalTokenLimits": [{"count": 20, "unit": "hour"}]})
    ),
    "stream-tokens": Scenario(
        on_proxy("token-based-ratelimit", {"totalTokenLimits": [{"count": 13, "unit": "hour"}]})
    ),
    "guarded": Scenario(
        lambda proxy: (
            on_proxy("word-count-guardrail", {"request": {"min": 0, "max": 3}})(proxy),
            on_proxy("basic-ratelimit", requests_limit(1))(proxy),
        )
    ),
    "upstream-error": Scenario(on_proxy("basic-ratelimit", requests_limit(1))),
    "short-window": Scenario(
        on_proxy("basic-ratelimit", requests_limit(1, unit="second", duration=2))
    ),
    "unlimited": Scenario(),
    "generous": Scenario(on_proxy("basic-ratelimit", requests_limit(1000))),
}


@pytest.fixture(scope="module", params=["redis", "memory"])
def limited(request, committed, fake_upstream, start_gateway):
    def start(redis_url):
        name = f"limits {request.param}"
        return serve(start_gateway, fake_upstream.url, name, SCENARIOS, redis_url=redis_url)

    return backend_world(request, start)


def test_exactly_the_request_limit_passes_and_the_rest_get_429(limited):
    statuses = [limited.post("three").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_a_rejected_request_is_recorded_with_the_limit_that_rejected_it(limited):
    limited.post("recorded")
    assert limited.post("recorded").status_code == 429
    records = UsageRecord.objects.filter(proxy=limited.proxies["recorded"].slug, status_code=429)
    record = wait_until(records.first)
    assert (record.status_code, record.outcome, record.reason) == (
        429,
        "rejected",
        "rate_limited:basic-ratelimit",
    )
    assert record.details["rate_limit"]["limit"] == "basic-ratelimit 1 requests/1h"


def test_per_key_limits_count_each_key_separately(limited):
    assert [limited.post("per-key", key=0).status_code for _ in range(2)] == [200, 429]
    assert limited.post("per-key", key=1).status_code == 200


def test_a_provider_limit_applies_to_every_proxy_on_the_provider(limited):
    assert limited.post("provider").status_code == 200
    assert limited.post("sibling").status_code == 200
    assert (limited.post("provider").status_code, limited.post("sibling").status_code) == (
        429,
        429,
    )


def test_a_token_limit_blocks_once_responses_reported_their_usage(limited):
    # Each fake completion reports 13 tokens: two fit under 20 before the counter is full.
    assert [limited.post("tokens").status_code for _ in range(2)] == [200, 200]
    rejected = wait_until(lambda: (r := limited.post("tokens")).status_code == 429 and r)
    assert rejected.headers["x-ratelimit-remaining"] == "0"


def test_a_token_limit_counts_the_usage_of_the_final_stream_chunk(limited):
    assert limited.stream("stream-tokens").status_code == 200
    wait_until(lambda: limited.post("stream-tokens").status_code == 429)


def test_a_request_a_guardrail_blocks_consumes_no_request_quota(limited):
    blocked = limited.post("guarded", messages=[{"role": "user", "content": "one two three four"}])
    assert blocked.status_code == 422
    assert limited.post("guarded").status_code == 200
    assert limited.post("guarded").status_code == 429


def test_an_upstream_error_still_counts_as_a_request(limited):
    failed = limited.post("upstream-error", headers={"x-fake-status": "500", "x-fake-body": "{}"})
    assert failed.status_code == 500
    assert failed.headers["x-ratelimit-remaining"] == "0"
    assert limited.post("upstream-error").status_code == 429


def test_the_counter_starts_again_when_its_window_resets(limited):
    rejected = wait_until(lambda: (r := limited.post("short-window")).status_code == 429 and r)
    assert 1 <= int(rejected.headers["retry-after"]) <= 2
    wait_until(lambda: limited.post("short-window").status_code == 200, timeout=5)


def test_a_proxy_without_limits_sends_no_rate_limit_headers(limited):
    response = limited.post("unlimited")
    assert response.status_code == 200
    assert not [name for name in response.headers if "ratelimit" in name]


UPSTREAM_LIMIT_HEADERS = {
    "x-fake-response-headers": (
        "x-ratelimit-remaining=7;ratelimit-policy=9;x-ratelimit-remaining-requests=5"
    )
}


def test_the_gateway_s_rate_limit_headers_replace_the_upstream_s_of_the_same_name(limited):
    response = limited.post("generous", headers=UPSTREAM_LIMIT_HEADERS)
    assert response.status_code == 200
    assert response.headers.get_list("x-ratelimit-remaining") == ["999"]
    assert response.headers.get_list("ratelimit-policy") == ["1000;w=3600"]
    # The provider's own, differently named headers still reach the client.
    assert response.headers["x-ratelimit-remaining-requests"] == "5"


def test_without_limits_the_upstream_s_rate_limit_headers_pass_through(limited):
    response = limited.post("unlimited", headers=UPSTREAM_LIMIT_HEADERS)
    assert response.headers["x-ratelimit-remaining"] == "7"
