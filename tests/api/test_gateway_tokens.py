from tests.api import expect


def url(gateway, suffix: str = "") -> str:
    return f"/api/v1/gateways/{gateway.slug}/tokens/{suffix}"


def test_issuing_a_token_returns_201_with_the_secret(api, gateway):
    body = expect.created(api.post(url(gateway)))
    assert body["token"].startswith("ghg-")
    assert body["status"] == "active"


def test_the_token_and_its_hash_are_never_listed(api, gateway):
    secret = api.post(url(gateway)).json()["token"]
    listed = api.get(url(gateway))
    assert secret not in listed.content.decode()
    assert set(listed.json()["results"][0]) == {
        "id",
        "masked",
        "status",
        "created_at",
        "revoked_at",
    }


def test_a_third_active_token_is_refused(api, gateway):
    api.post(url(gateway))
    api.post(url(gateway))
    expect.error(api.post(url(gateway)), 409, "GATEWAY_TOKEN_LIMIT_REACHED")


def test_revoking_returns_204(api, gateway):
    token_id = api.post(url(gateway)).json()["id"]
    assert api.delete(url(gateway, f"{token_id}/")).status_code == 204
    assert api.get(url(gateway, f"{token_id}/")).json()["status"] == "revoked"


def test_revoking_frees_a_slot_for_a_new_token(api, gateway):
    first = api.post(url(gateway)).json()["id"]
    api.post(url(gateway))
    api.delete(url(gateway, f"{first}/"))
    assert api.post(url(gateway)).status_code == 201


def test_an_unknown_token_is_404(api, gateway):
    expect.error(api.delete(url(gateway, "not-a-uuid/")), 404, "GATEWAY_TOKEN_NOT_FOUND")


def test_tokens_of_an_unknown_gateway_are_404(api, db):
    expect.error(api.get("/api/v1/gateways/nope/tokens/"), 404, "GATEWAY_NOT_FOUND")
