"""Where URL checks may go and how they get there: loopback, link-local and private targets
are never contacted unless their network is allowed, and every check shares one HTTP client."""

import time

import pytest

from guardrails.catalog.url_checks import MAX_IN_FLIGHT, close_url_check_client
from guardrails.engine import ChainCompileError
from guardrails.registry import get_policy
from tests.guardrails.conftest import chat, completion, request_error, response_error
from tests.guardrails.recording_site import RecordingSite

pytestmark = pytest.mark.anyio

NAME = "url-guardrail"
CHECKED = {"request": {"enabled": True, "showAssessment": True}}


def invalid_urls(body: dict | None) -> list[str]:
    return [] if body is None else body["message"]["assessments"]["invalidUrls"]


@pytest.fixture
def site():
    with RecordingSite() as running:
        yield running


@pytest.fixture
def loopback_allowed(settings):
    settings.GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS = ["127.0.0.0/8"]


async def test_a_loopback_url_is_reported_invalid(site, url_check_client):
    body = await request_error(NAME, CHECKED, chat(f"see {site.url}/admin"))
    assert invalid_urls(body) == [f"{site.url}/admin"]


async def test_a_loopback_site_never_receives_a_check(site, url_check_client):
    await request_error(NAME, CHECKED, chat(f"see {site.url}/admin"))
    assert site.requests == []


async def test_localhost_by_name_never_receives_a_check(site, url_check_client):
    await request_error(NAME, CHECKED, chat(f"see http://localhost:{site.port}/admin"))
    assert site.requests == []


async def test_a_name_resolving_to_loopback_never_receives_a_check(site, url_check_client):
    # 2130706433 is not an address literal to a URL parser; the resolver turns it into
    # 127.0.0.1 when connecting, where the check is refused.
    await request_error(NAME, CHECKED, chat(f"see http://2130706433:{site.port}/admin"))
    assert site.requests == []


async def test_a_response_naming_a_loopback_site_never_makes_it_receive_a_check(
    site, url_check_client
):
    await response_error(NAME, {"response": {}}, completion(f"see {site.url}/admin"))
    assert site.requests == []


async def test_a_site_inside_an_allowed_network_is_checked(
    site, loopback_allowed, url_check_client
):
    body = await request_error(NAME, CHECKED, chat(f"see {site.url}/page"))
    assert (body, site.requests[0][0]) == (None, "/page")


async def test_an_allowed_network_elsewhere_does_not_open_loopback(
    site, settings, url_check_client
):
    settings.GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    await request_error(NAME, CHECKED, chat(f"see {site.url}/admin"))
    assert site.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://127.1/",
        "http://0x7f000001/",
    ],
)
async def test_a_non_public_address_is_invalid_without_a_connection_attempt(url, url_check_client):
    params = {"request": {"enabled": True, "showAssessment": True, "timeout": 60000}}
    started = time.perf_counter()
    body = await request_error(NAME, params, chat(f"see {url} now"))
    # A connection attempt to an address that does not answer would wait for the timeout.
    assert (invalid_urls(body), time.perf_counter() - started < 5) == ([url], True)


async def test_dns_mode_refuses_localhost(url_check_client):
    params = {"request": {"enabled": True, "onlyDNS": True}}
    assert await request_error(NAME, params, chat("http://localhost/")) is not None


async def test_dns_mode_refuses_a_name_resolving_only_to_loopback(url_check_client):
    params = {"request": {"enabled": True, "onlyDNS": True}}
    assert await request_error(NAME, params, chat("http://2130706433/")) is not None


def test_a_bad_allowed_network_stops_the_policy_compiling(settings):
    settings.GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS = ["10.0.0.0/8", "intranet"]
    with pytest.raises(ChainCompileError, match="GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS"):
        get_policy(NAME).compile({"request": {"enabled": True}})


async def test_checks_of_separate_texts_and_policies_share_one_connection(
    site, loopback_allowed, url_check_client
):
    for i in range(3):
        await request_error(NAME, CHECKED, chat(f"see {site.url}/request-{i}"))
        await response_error(NAME, {"response": {}}, completion(f"see {site.url}/response-{i}"))
    assert (len(site.requests), len(site.connections())) == (6, 1)


async def test_the_next_check_after_closing_the_shared_client_opens_a_new_one(
    site, loopback_allowed, url_check_client
):
    await request_error(NAME, CHECKED, chat(f"see {site.url}/before"))
    await close_url_check_client()
    body = await request_error(NAME, CHECKED, chat(f"see {site.url}/after"))
    assert (body, len(site.connections())) == (None, 2)


async def test_at_most_ten_checks_of_a_text_are_in_flight_at_once(
    loopback_allowed, url_check_client
):
    with RecordingSite(delay=0.05) as slow:
        text = " ".join(f"{slow.url}/page-{i}" for i in range(3 * MAX_IN_FLIGHT))
        await request_error(NAME, CHECKED, chat(text))
    assert 1 < slow.most_in_flight <= MAX_IN_FLIGHT == 10
