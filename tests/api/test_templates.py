import pytest

from tests.api import expect
from tests.factories import ProviderFactory

URL = "/api/v1/templates/"
BUILTIN = [
    "anthropic",
    "aws-bedrock",
    "azure-ai-foundry",
    "azure-openai",
    "gemini",
    "mistral",
    "openai",
    "openai-compatible",
]
CUSTOM = {
    "id": "acme-llm",
    "display_name": "Acme LLM",
    "upstream_url": "https://llm.acme.example",
    "upstream_auth": {"header": "X-Acme-Key", "prefix": ""},
    "inbound_key": {"name": "X-Api-Key", "prefix": ""},
    "resources": [{"method": "POST", "path": "/generate"}],
}


def test_the_built_in_templates_are_listed(api):
    body = api.get(URL).json()
    assert sorted(t["id"] for t in body["results"] if t["builtin"]) == BUILTIN


def test_a_template_shows_its_inbound_key_and_resources(api):
    body = api.get(f"{URL}anthropic/").json()
    assert body["inbound_key"] == {"name": "x-api-key", "prefix": ""}
    assert {"method": "POST", "path": "/v1/messages"} in body["resources"]


def test_a_custom_template_is_created(api):
    body = expect.created(api.post(URL, CUSTOM, "json"))
    assert body["builtin"] is False
    assert body["upstream_auth"] == {"header": "X-Acme-Key", "prefix": ""}


def test_a_provider_can_use_a_custom_template(api):
    api.post(URL, CUSTOM, "json")
    response = api.post("/api/v1/providers/", {"name": "Acme", "template": "acme-llm"}, "json")
    assert response.json()["inbound_key"]["name"] == "X-Api-Key"


def test_a_custom_template_is_changed(api):
    api.post(URL, CUSTOM, "json")
    body = api.patch(f"{URL}acme-llm/", {"description": "In-house"}, "json").json()
    assert body["description"] == "In-house"


def test_a_duplicate_template_id_is_a_conflict(api):
    api.post(URL, CUSTOM, "json")
    expect.error(api.post(URL, CUSTOM, "json"), 409, "TEMPLATE_EXISTS")


def test_an_invalid_template_id_is_a_field_error(api):
    expect.error(api.post(URL, {**CUSTOM, "id": "Not Valid"}, "json"), 400, field="id")


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_built_in_templates_are_read_only(api, method):
    response = getattr(api, method)(f"{URL}openai/", {"description": "x"}, "json")
    expect.error(response, 403, "TEMPLATE_READ_ONLY")


def test_a_custom_template_is_deleted(api):
    api.post(URL, CUSTOM, "json")
    assert api.delete(f"{URL}acme-llm/").status_code == 204


def test_a_template_in_use_cannot_be_deleted(api):
    api.post(URL, CUSTOM, "json")
    ProviderFactory(name="Acme", template="acme-llm", upstream_url="")
    expect.error(api.delete(f"{URL}acme-llm/"), 409, "TEMPLATE_IN_USE")


def test_an_unknown_template_is_404(api):
    expect.error(api.get(f"{URL}nope/"), 404, "TEMPLATE_NOT_FOUND")
