"""The error shape every failure shares."""

from tests.api import expect


def test_malformed_json_is_a_400_in_the_error_shape(api):
    response = api.post("/api/v1/proxies/", "{not json", content_type="application/json")
    expect.error(response, 400, "VALIDATION_FAILED")


def test_a_body_that_is_not_an_object_is_a_400(api):
    response = api.post("/api/v1/proxies/", ["a"], "json")
    expect.error(response, 400, "VALIDATION_FAILED")


def test_field_errors_list_every_field(api, provider):
    body = expect.error(api.post("/api/v1/proxies/", {"name": 1, "version": 2}, "json"), 400)
    assert expect.fields(body) == {"name", "version"}


def test_the_message_summarises_the_field_errors(api, provider):
    body = expect.error(api.post("/api/v1/proxies/", {}, "json"), 400)
    assert body["message"] == "name: This field is required."


def test_an_unknown_route_object_is_a_404_in_the_error_shape(api, db):
    expect.error(api.get("/api/v1/gateways/nope/"), 404, "GATEWAY_NOT_FOUND")


def test_an_unsupported_method_is_a_405_in_the_error_shape(api, db):
    expect.error(api.put("/api/v1/providers/", {}, "json"), 405, "METHOD_NOT_ALLOWED")


def test_domain_conflicts_carry_their_code(api, proxy):
    response = api.post("/api/v1/proxies/", {"name": "Chat API"}, "json")
    body = expect.error(response, 409, "PROXY_EXISTS")
    assert body["errors"] == [{"field": "name", "message": "This name is taken."}]


def test_an_unknown_endpoint_is_a_404_in_the_error_shape(api, db):
    expect.error(api.get("/api/v1/nothing-here/"), 404, "NOT_FOUND")


def test_a_missing_trailing_slash_still_redirects(api, db):
    assert api.get("/api/v1/proxies").status_code == 301
