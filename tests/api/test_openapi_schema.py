import pytest
from django.core.management import call_command


@pytest.fixture
def schema(anon_api, db) -> str:
    response = anon_api.get("/api/schema/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/providers/",
        "/api/v1/templates/",
        "/api/v1/proxies/",
        "/api/v1/proxies/{proxy_slug}/guardrails/",
        "/api/v1/proxies/{proxy_slug}/deployments/{id}/restore/",
        "/api/v1/proxies/{proxy_slug}/api-keys/{id}/",
        "/api/v1/gateways/{gateway_slug}/tokens/",
        "/api/v1/guardrails/catalog/",
        "/api/v1/deployments/",
    ],
)
def test_the_schema_describes_every_endpoint(schema, path):
    assert f"{path}:" in schema


def test_the_schema_documents_the_bearer_token(schema):
    assert "bearerAuth" in schema


def test_the_interactive_docs_are_served(anon_api, db):
    assert anon_api.get("/api/docs/").status_code == 200


def test_the_schema_generates_without_warnings(db, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert (tmp_path / "s.yml").stat().st_size > 0
