"""Rate-limit headers and error bodies, checked exactly, on Redis and in process memory."""

import math
import time

import anthropic
import openai
import pytest

from tests.gateway.guardrail_world import on_proxy
from tests.gateway.limits_world import Scenario, backend_world, requests_limit, serve

HOUR = 3600

SCENARIOS = {
    "allowed": Scenario(on_proxy("basic-ratelimit", requests_limit(5))),
    "rejected": Scenario(on_proxy("basic-ratelimit", requests_limit(1))),
    "streamed": Scenario(on_proxy("basic-ratelimit", requests_limit(5))),
    "two-limits": Scenario(
        on_proxy(
            "basic-ratelimit",
            {"limits": [{"requests": 10, "unit": "hour"}, {"requests": 3, "unit": "day"}]},
        )
    ),
    "sdk": Scenario(on_proxy("basic-ratelimit", requests_limit(1))),
    "anthropic-sdk": Scenario(on_proxy("basic-ratelimit", requests_limit(1)), api="anthropic"),
}


@pytest.fixture(scope="module", params=["redis", "memory"])
def limited(request, committed, fake_upstream, start_gateway):
    def start(redis_url):
        name = f"limit headers {request.param}"
        return serve(start_gateway, fake_upstream.url, name, SCENARIOS, redis_url=redis_url)

    return backend_world(request, start)


def timed(call):
    """``call()``'s result with the clock read just before and just after it."""
    before = time.time()
    result = call()
    return result, before, time.time()


def window_end(moment: float, length: int) -> int:
    return (math.floor(moment / length) + 1) * length


def reset_in(end: int, before: float, after: float) -> set[str]:
    """The seconds-until-reset values a response sent between ``before`` and ``after`` may
    carry."""
    return {str(math.ceil(end - after)), str(math.ceil(end - before))}


def test_an_allowed_response_carries_the_rate_limit_headers(limited):
    response, before, after = timed(lambda: limited.post("allowed"))
    end = window_end(before, HOUR)
    headers = response.headers
    assert response.status_code == 200
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("5", "4")
    assert headers["x-ratelimit-reset"] == str(end)
    assert (headers["ratelimit-limit"], headers["ratelimit-remaining"]) == ("5", "4")
    assert headers["ratelimit-reset"] in reset_in(end, before, after)
    assert headers["ratelimit-policy"] == "5;w=3600"
    assert "retry-after" not in headers


def test_a_429_carries_the_headers_and_retry_after(limited):
    limited.post("rejected")
    response, before, after = timed(lambda: limited.post("rejected"))
    end = window_end(before, HOUR)
    headers = response.headers
    assert response.status_code == 429
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("1", "0")
    assert headers["x-ratelimit-reset"] == str(end)
    assert (headers["ratelimit-limit"], headers["ratelimit-remaining"]) == ("1", "0")
    assert headers["ratelimit-reset"] in reset_in(end, before, after)
    assert headers["retry-after"] == headers["ratelimit-reset"]
    assert headers["ratelimit-policy"] == "1;w=3600"


def test_a_429_is_an_error_in_the_shape_of_the_called_api(limited):
    limited.post("rejected")
    response = limited.post("rejected")
    retry = response.headers["retry-after"]
    message = f"Rate limit exceeded (basic-ratelimit 1 requests/1h). Try again in {retry} s."
    assert response.json() == {
        "error": {
            "message": message,
            "type": "rate_limit_error",
            "code": "rate_limited",
        }
    }


def test_a_streamed_response_carries_the_headers_in_its_response_start(limited):
    response = limited.stream("streamed")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert (response.headers["x-ratelimit-limit"], response.headers["x-ratelimit-remaining"]) == (
        "5",
        "4",
    )


def test_the_headers_describe_the_most_restrictive_limit(limited):
    response = limited.post("two-limits")
    assert response.headers["ratelimit-policy"] == "3;w=86400"
    assert response.headers["x-ratelimit-remaining"] == "2"


def test_the_openai_sdk_raises_rate_limit_error_with_a_readable_message(limited):
    client = limited.openai("sdk")
    client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "a"}])
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "a"}]
        )
    assert "Rate limit exceeded (basic-ratelimit 1 requests/1h)" in caught.value.message
    assert caught.value.body["code"] == "rate_limited"
    assert caught.value.response.headers["retry-after"]


def test_the_anthropic_sdk_raises_rate_limit_error_with_a_readable_message(limited):
    client = limited.anthropic("anthropic-sdk")
    message = {"role": "user", "content": "a"}
    client.messages.create(model="fake-model", max_tokens=10, messages=[message])
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="fake-model", max_tokens=10, messages=[message])
    assert "Rate limit exceeded (basic-ratelimit 1 requests/1h)" in caught.value.message
    assert caught.value.body["error"]["type"] == "rate_limit_error"
