import uuid

from tests.api import expect
from tests.factories import GuardrailFactory


def url(proxy, suffix: str = "") -> str:
    return f"/api/v1/proxies/{proxy.slug}/deployments/{suffix}"


def test_deploying_returns_201_with_a_uuid_and_status(api, proxy, gateway):
    body = expect.created(api.post(url(proxy), {"gateway": gateway.slug}, "json"))
    assert uuid.UUID(body["id"])
    assert body["status"] == "DEPLOYED"


def test_a_deployment_is_named_after_gateway_and_day(api, proxy, gateway):
    body = api.post(url(proxy), {"gateway": gateway.slug}, "json").json()
    assert body["name"].startswith(f"{gateway.slug}_") and body["name"].endswith("_1")


def test_a_new_deployment_is_tagged_latest_and_deployed(api, proxy, gateway):
    body = api.post(url(proxy), {"gateway": gateway.slug}, "json").json()
    assert (body["tags"], body["out_of_date"]) == (["Latest", "Deployed"], False)


def test_the_snapshot_holds_the_proxy_configuration(api, proxy, gateway):
    GuardrailFactory(proxy=proxy)
    snapshot = api.post(url(proxy), {"gateway": gateway.slug}, "json").json()["snapshot"]
    assert snapshot["proxy"]["id"] == proxy.slug
    assert [g["policy"] for g in snapshot["guardrails"]["proxy"]] == ["word-count-guardrail"]


def test_the_snapshot_never_holds_the_credential(api, proxy, gateway):
    response = api.post(url(proxy), {"gateway": gateway.slug}, "json")
    assert "sk-upstream-plaintext-123" not in response.content.decode()


def test_redeploying_archives_the_previous_deployment(api, proxy, gateway):
    first = api.post(url(proxy), {"gateway": gateway.slug}, "json").json()
    api.post(url(proxy), {"gateway": gateway.slug}, "json")
    assert api.get(url(proxy, f"{first['id']}/")).json()["status"] == "ARCHIVED"


def test_the_snapshot_is_unchanged_after_the_proxy_is_edited(api, proxy, gateway):
    deployed = api.post(url(proxy), {"gateway": gateway.slug}, "json").json()
    api.patch(f"/api/v1/proxies/{proxy.slug}/", {"context": "/v2", "name": "Edited"}, "json")
    GuardrailFactory(proxy=proxy)
    assert api.get(url(proxy, f"{deployed['id']}/")).json()["snapshot"] == deployed["snapshot"]


def test_a_deployment_is_out_of_date_after_the_proxy_is_edited(api, proxy, gateway):
    deployed = api.post(url(proxy), {"gateway": gateway.slug}, "json").json()
    api.patch(f"/api/v1/proxies/{proxy.slug}/", {"context": "/v2"}, "json")
    assert api.get(url(proxy, f"{deployed['id']}/")).json()["out_of_date"] is True


def test_an_unknown_gateway_is_a_field_error_not_a_404(api, proxy):
    response = api.post(url(proxy), {"gateway": "nope"}, "json")
    expect.error(response, 400, "VALIDATION_FAILED", field="gateway")


def test_the_gateway_is_required(api, proxy):
    expect.error(api.post(url(proxy), {}, "json"), 400, field="gateway")


def test_a_gateway_of_the_wrong_type_is_a_field_error(api, proxy):
    expect.error(api.post(url(proxy), {"gateway": ["a"]}, "json"), 400, field="gateway")


def test_deploying_an_unknown_proxy_is_404(api, gateway):
    response = api.post("/api/v1/proxies/nope/deployments/", {"gateway": gateway.slug}, "json")
    expect.error(response, 404, "PROXY_NOT_FOUND")
