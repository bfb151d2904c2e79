from tests.api import expect
from tests.factories import GatewayFactory


def url(gateway) -> str:
    return f"/api/v1/gateways/{gateway.slug}/"


def test_a_gateway_is_changed_partially(api, gateway):
    body = api.patch(url(gateway), {"description": "Frankfurt"}, "json").json()
    assert (body["description"], body["id"]) == ("Frankfurt", gateway.slug)


def test_the_id_cannot_be_changed(api, gateway):
    expect.error(api.patch(url(gateway), {"id": "other"}, "json"), 400, field="id")


def test_an_invalid_base_url_is_a_field_error(api, gateway):
    expect.error(api.patch(url(gateway), {"base_url": "nope"}, "json"), 400, field="base_url")


def test_renaming_to_a_taken_name_is_a_conflict(api, gateway):
    GatewayFactory(name="Other")
    expect.error(api.patch(url(gateway), {"name": "Other"}, "json"), 409, "GATEWAY_NAME_CONFLICT")
