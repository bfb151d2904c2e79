"""Assertions on API responses shared by the API tests."""


def error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """Assert ``response`` is an error in the API's shape; return its body."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error"
    assert body["message"]
    if code is not None:
        assert body["code"] == code
    if field is not None:
        assert field in fields(body), body
    return body


def fields(body: dict) -> set[str]:
    return {row["field"] for row in body.get("errors", [])}


def created(response) -> dict:
    """Assert a 201 whose Location points at the new object; return its body."""
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"].endswith(f"/{body['id']}/")
    return body
