import asyncio

import pytest

from core.errors import ValidationFailed
from guardrails.catalog.url import SCAN_WINDOW, extract_urls
from guardrails.services import validated_params
from tests.guardrails.conftest import chat, completion, request_error, response_error
from tests.guardrails.recording_site import RecordingSite

pytestmark = pytest.mark.anyio

NAME = "url-guardrail"


def test_defaults_follow_the_reference():
    _, params = validated_params(NAME, {"request": {"enabled": True}, "response": {}})
    assert params["request"]["onlyDNS"] is False
    assert params["request"]["timeout"] == 3000
    assert params["response"]["enabled"] is True


def test_the_request_section_is_off_unless_enabled():
    with pytest.raises(ValidationFailed, match="Enable the request or the response section"):
        validated_params(NAME, {"request": {}})


def test_invert_is_not_a_url_guardrail_parameter():
    with pytest.raises(ValidationFailed):
        validated_params(NAME, {"request": {"enabled": True, "invert": True}})


def test_a_zero_timeout_is_rejected():
    with pytest.raises(ValidationFailed) as exc:
        validated_params(NAME, {"request": {"enabled": True, "timeout": 0}})
    assert exc.value.errors[0]["field"] == "params.request.timeout"


async def test_urls_are_extracted_without_trailing_sentence_punctuation():
    text = "See https://a.example/x, (http://b.example/y). And https://a.example/x again."
    assert await extract_urls(text) == ["https://a.example/x", "http://b.example/y"]


async def test_a_prompt_with_a_reachable_url_passes(web_server):
    assert (
        await request_error(NAME, {"request": {"enabled": True}}, chat(f"read {web_server}/ok"))
        is None
    )


async def test_a_redirect_counts_as_reachable(web_server):
    assert (
        await request_error(NAME, {"request": {"enabled": True}}, chat(f"read {web_server}/moved"))
        is None
    )


async def test_a_prompt_with_a_url_answering_404_is_stopped(web_server):
    body = await request_error(
        NAME, {"request": {"enabled": True}}, chat(f"read {web_server}/missing")
    )
    assert body["type"] == "URL_GUARDRAIL"
    assert body["message"]["actionReason"] == "Violation of url validity detected."


async def test_the_assessment_lists_the_invalid_urls(web_server):
    params = {"request": {"enabled": True, "showAssessment": True}}
    text = f"{web_server}/ok and {web_server}/broken"
    body = await request_error(NAME, params, chat(text))
    assert body["message"]["assessments"] == {
        "message": "One or more URLs in the payload failed validation.",
        "invalidUrls": [f"{web_server}/broken"],
    }


async def test_without_show_assessment_there_is_no_assessment(web_server):
    body = await request_error(NAME, {"request": {"enabled": True}}, chat(f"{web_server}/missing"))
    assert "assessments" not in body["message"]


async def test_a_closed_port_is_invalid_within_the_timeout(settings, url_check_client):
    import socket

    settings.GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    params = {"request": {"enabled": True, "timeout": 500}}
    assert await request_error(NAME, params, chat(f"http://127.0.0.1:{port}/")) is not None


async def test_dns_mode_accepts_a_host_that_resolves(settings, url_check_client):
    settings.GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    params = {"request": {"enabled": True, "onlyDNS": True}}
    assert await request_error(NAME, params, chat("http://localhost:1/nothing-listens")) is None


async def test_dns_mode_rejects_a_host_that_does_not_resolve(url_check_client):
    params = {"request": {"enabled": True, "onlyDNS": True, "timeout": 2000}}
    assert await request_error(NAME, params, chat("https://no-such-host.invalid/")) is not None


async def test_text_without_urls_passes():
    assert await request_error(NAME, {"request": {"enabled": True}}, chat("no links here")) is None


async def test_a_missing_json_path_intervenes():
    body = await request_error(NAME, {"request": {"enabled": True}}, {"prompt": "x"})
    assert body["message"]["actionReason"].startswith("No value found at JSONPath")


async def test_the_response_section_checks_the_completion(web_server):
    params = {"response": {}}
    assert await response_error(NAME, params, completion(f"{web_server}/missing")) is not None


def test_at_most_fifty_distinct_urls_are_checked_by_default():
    _, params = validated_params(NAME, {"request": {"enabled": True}})
    assert params["request"]["maxUrls"] == 50


@pytest.mark.parametrize("most", [0, 201])
def test_a_url_cap_outside_one_to_two_hundred_is_rejected(most):
    with pytest.raises(ValidationFailed) as exc:
        validated_params(NAME, {"request": {"enabled": True, "maxUrls": most}})
    assert exc.value.errors[0]["field"] == "params.request.maxUrls"


def many_urls(base: str, count: int) -> str:
    return " ".join(f"{base}/page-{i}" for i in range(count))


async def test_a_text_with_more_urls_than_the_cap_is_stopped_with_a_reason(url_check_client):
    body = await request_error(
        NAME, {"request": {"enabled": True}}, chat(many_urls("https://a.example", 51))
    )
    assert body["message"]["actionReason"] == "Too many URLs to validate: more than 50."


async def test_no_url_of_a_text_over_the_cap_is_requested(settings, url_check_client):
    settings.GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with RecordingSite() as site:
        params = {"request": {"enabled": True, "maxUrls": 5}}
        await request_error(NAME, params, chat(many_urls(site.url, 6)))
    assert site.requests == []


async def test_a_text_with_as_many_urls_as_the_cap_is_checked(settings, url_check_client):
    settings.GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with RecordingSite() as site:
        params = {"request": {"enabled": True, "maxUrls": 5}}
        body = await request_error(NAME, params, chat(many_urls(site.url, 5)))
    assert (body, len(site.requests)) == (None, 5)


async def test_a_repeated_url_counts_once_toward_the_cap(web_server):
    params = {"request": {"enabled": True, "maxUrls": 1}}
    text = f"{web_server}/ok, again {web_server}/ok and {web_server}/ok."
    assert await request_error(NAME, params, chat(text)) is None


async def test_the_assessment_of_too_many_urls_names_the_cap(url_check_client):
    params = {"request": {"enabled": True, "maxUrls": 2, "showAssessment": True}}
    body = await request_error(NAME, params, chat(many_urls("https://a.example", 3)))
    assert body["message"]["assessments"] == {
        "message": "The payload holds more than 2 distinct URLs; none was checked.",
        "maxUrls": 2,
    }


async def test_extraction_stops_once_it_has_its_limit():
    text = many_urls("https://a.example", 10)
    assert await extract_urls(text, limit=3) == [
        "https://a.example/page-0",
        "https://a.example/page-1",
        "https://a.example/page-2",
    ]


async def test_a_url_longer_than_a_scan_window_is_extracted_whole():
    url = "https://a.example/" + "p" * (3 * SCAN_WINDOW)
    assert await extract_urls(f"{'x ' * SCAN_WINDOW}{url} end") == [url]


@pytest.mark.parametrize("offset", range(-10, 2))
async def test_a_url_near_a_scan_window_edge_is_found_once(offset):
    url = "https://a.example/path"
    text = "x" * (SCAN_WINDOW + offset - 1) + " " + url + " tail"
    assert await extract_urls(text) == [url]


async def test_a_long_text_is_scanned_with_turns_of_the_event_loop_between():
    turns = 0
    scanning = True

    async def count_turns():
        nonlocal turns
        while scanning:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count_turns())
    await extract_urls("word " * 2_000_000)  # 10 MB, no URL
    scanning = False
    await counter
    assert turns > 10
