from tests.api import expect

URL = "/api/v1/guardrails/catalog/"


def test_the_catalog_lists_every_registered_policy(api):
    names = [p["name"] for p in api.get(URL).json()["results"]]
    assert "word-count-guardrail" in names


def test_a_policy_shows_its_parameter_schema(api):
    body = api.get(f"{URL}word-count-guardrail/").json()
    assert body["parameters_schema"]["type"] == "object"
    assert "request" in body["phases"]


def test_an_unknown_policy_is_404(api):
    expect.error(api.get(f"{URL}nope/"), 404, "NOT_FOUND")


def test_any_signed_in_user_may_read_the_catalog(viewer_api):
    assert viewer_api.get(URL).status_code == 200
