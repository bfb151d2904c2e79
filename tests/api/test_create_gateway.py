import pytest

from tests.api import expect
from tests.factories import GatewayFactory

URL = "/api/v1/gateways/"


def test_registering_a_gateway_returns_201_with_its_id(api):
    payload = {"name": "EU West", "base_url": "https://gw.example.com/"}
    body = expect.created(api.post(URL, payload, "json"))
    assert (body["id"], body["base_url"]) == ("eu-west", "https://gw.example.com")


def test_a_new_gateway_is_not_active(api):
    body = api.post(URL, {"name": "EU", "base_url": "https://gw.example.com"}, "json").json()
    assert body["status"] == "Not Active"


def test_the_environment_defaults_to_production(api):
    body = api.post(URL, {"name": "EU", "base_url": "https://gw.example.com"}, "json").json()
    assert body["environment"] == "production"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "EU"}, "base_url"),
        ({"base_url": "https://gw.example.com"}, "name"),
        ({"name": "EU", "base_url": "not a url"}, "base_url"),
        ({"name": 5, "base_url": "https://gw.example.com"}, "name"),
        ({"name": "EU", "base_url": "https://gw.example.com", "environment": []}, "environment"),
    ],
)
def test_bad_input_is_a_field_error(api, payload, field):
    expect.error(api.post(URL, payload, "json"), 400, field=field)


def test_a_duplicate_name_is_a_conflict(api):
    GatewayFactory(name="EU")
    response = api.post(URL, {"name": "eu", "base_url": "https://gw.example.com"}, "json")
    expect.error(response, 409, "GATEWAY_NAME_CONFLICT")
