"""The pricing table cost limits use: list, read, add, change and remove model prices."""

from decimal import Decimal

import pytest

from core.revision import current_config_revision
from guardrails import services
from guardrails.models import ModelPrice
from tests.api import expect

URL = "/api/v1/prices/"
NEW = {"model": "house-model", "input_per_million": 1.5, "output_per_million": 3}


@pytest.fixture
def slashed(db) -> ModelPrice:
    """A model whose name holds both '.' and '/'."""
    return services.model_price_create(
        model="meta-llama/llama-3.1-70b",
        vendor="other",
        input_per_million=Decimal("0.8"),
        output_per_million=Decimal("0.9"),
    )


def test_shipped_prices_are_listed(api):
    body = api.get(URL, {"limit": 500}).json()
    assert "gpt-4o" in {row["model"] for row in body["results"]}


def test_prices_can_be_filtered_by_vendor(api, slashed):
    body = api.get(URL, {"vendor": "other"}).json()
    assert [row["model"] for row in body["results"]] == [slashed.model]


def test_a_price_is_read_by_model_name(api):
    body = api.get(f"{URL}gpt-4o/").json()
    assert (body["model"], body["vendor"], body["builtin"]) == ("gpt-4o", "openai", True)


def test_prices_are_json_numbers(api):
    body = api.get(f"{URL}gpt-4o/").json()
    assert (body["input_per_million"], body["output_per_million"]) == (2.5, 10.0)


def test_a_model_name_with_dots_and_slashes_is_addressable(api, slashed):
    assert api.get(f"{URL}meta-llama/llama-3.1-70b/").json()["model"] == slashed.model


def test_a_percent_encoded_slash_finds_the_same_price(api, slashed):
    assert api.get(f"{URL}meta-llama%2Fllama-3.1-70b/").json()["model"] == slashed.model


def test_an_unknown_model_is_404(api):
    expect.error(api.get(f"{URL}no-such-model/"), 404, "PRICE_NOT_FOUND")


def test_adding_a_price_returns_201_with_its_location(api):
    response = api.post(URL, {**NEW, "model": "acme/house-1.0"}, "json")
    assert (response.status_code, response["Location"]) == (
        201,
        "http://testserver/api/v1/prices/acme/house-1.0/",
    )


def test_an_added_price_is_stored_exactly(api):
    api.post(URL, {**NEW, "cached_input_per_million": 0.125}, "json")
    price = ModelPrice.objects.get(model="house-model")
    assert (price.input_per_million, price.cached_input_per_million, price.vendor) == (
        Decimal("1.5"),
        Decimal("0.125"),
        "other",
    )


def test_adding_a_price_tells_gateways_to_reload(api):
    before = current_config_revision()
    api.post(URL, NEW, "json")
    assert current_config_revision() == before + 1


def test_a_duplicate_model_is_a_conflict(api):
    expect.error(api.post(URL, {**NEW, "model": "gpt-4o"}, "json"), 409, "PRICE_EXISTS")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"input_per_million": 1, "output_per_million": 1}, "model"),
        ({**NEW, "input_per_million": -1}, "input_per_million"),
        ({**NEW, "output_per_million": "3"}, "output_per_million"),
        ({**NEW, "output_per_million": True}, "output_per_million"),
        ({**NEW, "input_per_million": 0.1234567}, "input_per_million"),
        ({**NEW, "cached_input_per_million": -0.5}, "cached_input_per_million"),
        ({**NEW, "vendor": "acme"}, "vendor"),
        ({**NEW, "model": 7}, "model"),
    ],
)
def test_bad_input_is_a_field_error(api, payload, field):
    expect.error(api.post(URL, payload, "json"), 400, "VALIDATION_FAILED", field=field)


def test_changing_a_price_updates_only_what_was_sent(api, slashed):
    body = api.patch(f"{URL}{slashed.model}/", {"output_per_million": 1.25}, "json").json()
    assert (body["input_per_million"], body["output_per_million"]) == (0.8, 1.25)


def test_changing_a_shipped_price_marks_it_edited(api):
    body = api.patch(f"{URL}gpt-4o/", {"input_per_million": 3}, "json").json()
    assert body["edited"] is True


def test_the_model_name_cannot_be_changed(api, slashed):
    response = api.patch(f"{URL}{slashed.model}/", {"model": "renamed"}, "json")
    expect.error(response, 400, "VALIDATION_FAILED", field="model")


def test_sending_the_same_model_name_on_change_is_accepted(api, slashed):
    response = api.patch(f"{URL}{slashed.model}/", {"model": slashed.model}, "json")
    assert response.status_code == 200, response.content


def test_a_negative_change_is_a_field_error(api, slashed):
    response = api.patch(f"{URL}{slashed.model}/", {"input_per_million": -2}, "json")
    expect.error(response, 400, "VALIDATION_FAILED", field="input_per_million")


def test_removing_a_price_returns_204(api, slashed):
    response = api.delete(f"{URL}{slashed.model}/")
    assert (response.status_code, ModelPrice.objects.filter(pk=slashed.pk).exists()) == (
        204,
        False,
    )


def test_anonymous_requests_are_401(anon_api, db):
    expect.error(anon_api.get(URL), 401, "UNAUTHORIZED")


def test_a_viewer_reads_prices(viewer_api):
    assert viewer_api.get(f"{URL}gpt-4o/").json()["model"] == "gpt-4o"


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("post", URL, NEW),
        ("patch", f"{URL}gpt-4o/", {"input_per_million": 3}),
        ("delete", f"{URL}gpt-4o/", None),
    ],
)
def test_a_viewer_cannot_write_prices(viewer_api, method, path, payload):
    response = getattr(viewer_api, method)(path, payload, "json")
    expect.error(response, 403, "FORBIDDEN")
