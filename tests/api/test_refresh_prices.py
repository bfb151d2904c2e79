"""``POST /api/v1/prices/refresh/``: the shipped price list, or posted rows, loaded into the
pricing table without overwriting what an admin edited or added."""

from decimal import Decimal

from guardrails import services
from guardrails.models import ModelPrice
from tests.api import expect

URL = "/api/v1/prices/refresh/"
ROW = {"vendor": "other", "model": "house-1", "input": 1, "output": 2, "cache_write": 1.25}


def test_without_prices_the_shipped_list_is_loaded(api):
    ModelPrice.objects.filter(model="gpt-4o").delete()
    assert api.post(URL, {}, "json").json()["created"] == ["gpt-4o"]


def test_posted_prices_are_loaded_under_the_name_given(api):
    api.post(URL, {"name": "acme-2026", "prices": [ROW]}, "json")
    price = ModelPrice.objects.get(model="house-1")
    assert (price.cache_write_per_million, price.price_list) == (Decimal("1.25"), "acme-2026")


def test_a_price_an_admin_edited_is_kept_and_named(api):
    price = ModelPrice.objects.get(model="gpt-4o")
    services.model_price_update(price=price, input_per_million=Decimal("2.2"))
    body = api.post(URL, {"prices": [{**ROW, "model": "gpt-4o"}]}, "json").json()
    assert (body["kept"], ModelPrice.objects.get(model="gpt-4o").input_per_million) == (
        ["gpt-4o"],
        Decimal("2.2"),
    )


def test_a_wrong_row_is_a_field_error_naming_it(api):
    response = api.post(URL, {"prices": [ROW, {**ROW, "model": "b", "input": "?"}]}, "json")
    expect.error(response, 400, "PRICE_LIST_INVALID", field="prices[1].input")


def test_a_row_that_is_not_an_object_is_a_field_error(api):
    expect.error(api.post(URL, {"prices": [7]}, "json"), 400, "PRICE_LIST_INVALID", "prices[0]")


def test_a_viewer_cannot_load_prices(viewer_api):
    expect.error(viewer_api.post(URL, {}, "json"), 403, "FORBIDDEN")
