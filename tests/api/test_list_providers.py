from tests.api import expect
from tests.factories import ProviderFactory

PLAINTEXT = "sk-upstream-plaintext-123"


def test_providers_are_listed_with_pagination(api, provider):
    body = api.get("/api/v1/providers/").json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == provider.slug


def test_a_provider_is_retrieved_by_its_id(api, provider):
    body = api.get(f"/api/v1/providers/{provider.slug}/").json()
    assert body["name"] == "Local LLM"
    assert body["template"] == "openai-compatible"


def test_the_credential_is_absent_from_list_and_detail(api, provider):
    listed = api.get("/api/v1/providers/")
    detail = api.get(f"/api/v1/providers/{provider.slug}/")
    assert PLAINTEXT not in listed.content.decode()
    assert PLAINTEXT not in detail.content.decode()
    assert detail.json()["has_credential"] is True


def test_providers_can_be_filtered_by_template(api, provider):
    ProviderFactory(name="Claude", template="anthropic", upstream_url="")
    body = api.get("/api/v1/providers/?template=anthropic").json()
    assert [p["id"] for p in body["results"]] == ["claude"]


def test_an_unknown_provider_is_404(api, db):
    expect.error(api.get("/api/v1/providers/nope/"), 404, "PROVIDER_NOT_FOUND")
