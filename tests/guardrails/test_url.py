import pytest

from config.errors import ValidationFailed
from guardrails.catalog.url import extract_urls
from guardrails.services import validated_params
from tests.guardrails.conftest import chat, completion, request_error, response_error

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


def test_urls_are_extracted_without_trailing_sentence_punctuation():
    text = "See https://a.example/x, (http://b.example/y). And https://a.example/x again."
    assert extract_urls(text) == ["https://a.example/x", "http://b.example/y"]


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


async def test_a_closed_port_is_invalid_within_the_timeout():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    params = {"request": {"enabled": True, "timeout": 500}}
    assert await request_error(NAME, params, chat(f"http://127.0.0.1:{port}/")) is not None


async def test_dns_mode_accepts_a_host_that_resolves():
    params = {"request": {"enabled": True, "onlyDNS": True}}
    assert await request_error(NAME, params, chat("http://localhost:1/nothing-listens")) is None


async def test_dns_mode_rejects_a_host_that_does_not_resolve():
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
