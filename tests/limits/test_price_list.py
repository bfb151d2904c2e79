"""The shipped price list and the CSV files ``refresh_prices --file`` loads: every vendor's
models with their dates, and a wrong row reported by its line and column."""

from datetime import date
from decimal import Decimal

import pytest

from guardrails.limits.price_list import (
    SHIPPED_PRICE_LIST,
    PriceListInvalid,
    parse_price_csv,
    read_price_list,
    shipped_prices,
)
from guardrails.limits.pricing import PriceTable

HEADER = "vendor,model,input,output,cached_input,cache_write,checked_on\n"


def errors_of(text: str, **kwargs) -> list[dict]:
    with pytest.raises(PriceListInvalid) as caught:
        parse_price_csv(text, **kwargs)
    return caught.value.errors


def test_every_shipped_price_says_when_it_was_checked():
    assert all(isinstance(price.checked_on, date) for price in shipped_prices())


def test_the_shipped_list_names_bedrock_models_by_their_model_ids():
    bedrock = {p.model for p in shipped_prices() if p.vendor == "aws-bedrock"}
    assert "anthropic.claude-3-haiku-20240307-v1:0" in bedrock


def test_anthropic_models_ship_with_a_cache_write_price():
    sonnet = next(p for p in shipped_prices() if p.model == "claude-sonnet-4-5")
    assert (sonnet.cached_input, sonnet.cache_write) == (Decimal("0.30"), Decimal("3.75"))


def test_the_shipped_table_is_read_from_the_list():
    assert len(PriceTable.shipped()) == len(shipped_prices())


def test_a_row_reads_as_prices_per_million_tokens():
    (price,) = parse_price_csv(HEADER + "openai,house-1,1.5,3,0.15,,2026-01-31\n")
    assert (price.model, price.input, price.output, price.cached_input, price.cache_write) == (
        "house-1",
        Decimal("1.5"),
        Decimal("3"),
        Decimal("0.15"),
        None,
    )


def test_columns_may_come_in_any_order_and_only_model_input_output_are_needed():
    (price,) = parse_price_csv("output,model,input\n2,house-1,1\n")
    assert (price.vendor, price.output, price.checked_on) == ("other", Decimal("2"), None)


def test_a_price_that_is_not_a_number_is_reported_by_line_and_column():
    errors = errors_of(HEADER + "openai,a,1,2,,,\nopenai,b,cheap,2,,,\n")
    assert errors == [{"field": "line 3, input", "message": errors[0]["message"]}]


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("openai,a,-1,2,,,", "input"),
        ("openai,a,1,,,,", "output"),
        ("openai,a,1,2,0.1234567,,", "cached_input"),
        ("openai,a,1,2,,1e400,", "cache_write"),
        ("openai,a,1,2,,,yesterday", "checked_on"),
        ("openai,,1,2,,,", "model"),
    ],
)
def test_a_wrong_value_is_an_error_on_its_column(row, column):
    assert errors_of(HEADER + row + "\n")[0]["field"] == f"line 2, {column}"


def test_a_model_listed_twice_is_an_error():
    errors = errors_of(HEADER + "openai,a,1,2,,,\nopenai,A,1,2,,,\n")
    assert errors[0]["field"] == "line 3, model"


def test_an_unknown_vendor_is_an_error_when_vendors_are_given():
    errors = errors_of(HEADER + "acme,a,1,2,,,\n", vendors=["openai", "other"])
    assert errors[0]["field"] == "line 2, vendor"


def test_every_wrong_row_is_reported_at_once():
    assert len(errors_of(HEADER + "x,a,?,2,,,\nx,b,?,2,,,\nx,c,?,2,,,\n")) == 3


def test_a_header_without_the_needed_columns_is_refused():
    assert errors_of("name,price\ngpt,1\n")[0]["field"] == "line 1"


def test_a_missing_file_is_an_error_saying_so(tmp_path):
    with pytest.raises(PriceListInvalid, match="Cannot read the price list"):
        read_price_list(tmp_path / "missing.csv")


def test_the_shipped_file_is_the_list_read():
    assert read_price_list(SHIPPED_PRICE_LIST) == list(shipped_prices())
