from decimal import Decimal

import pytest

from guardrails import services
from guardrails.limits.price_list import ListedPrice, shipped_prices
from guardrails.limits.pricing import (
    ModelPricing,
    PriceTable,
    sync_builtin_prices,
)
from guardrails.models import ModelPrice
from guardrails.selectors import price_table

SHIPPED = PriceTable.shipped()


@pytest.mark.parametrize(
    ("model", "priced_as"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("GPT-4.1-mini", "gpt-4.1-mini"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("models/gemini-1.5-pro-002", "gemini-1.5-pro"),
        ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ("mistral-large-latest", "mistral-large"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"),
        ("eu.anthropic.claude-3-5-sonnet-20241022-v3:0", "claude-3-5-sonnet"),
        ("openai/gpt-4.1", "gpt-4.1"),
    ],
)
def test_model_spellings_find_their_price(model, priced_as):
    assert SHIPPED.lookup(model).model == priced_as


def test_an_unknown_model_has_no_price():
    assert SHIPPED.lookup("gpt-4oo") is None


def test_a_model_name_is_not_matched_by_a_shorter_name_without_a_separator():
    assert SHIPPED.lookup("o1x") is None


def test_the_shipped_table_covers_each_vendor():
    assert {price.vendor for price in shipped_prices()} == {
        "openai",
        "azure-openai",
        "azure-ai-foundry",
        "anthropic",
        "google",
        "mistral",
        "aws-bedrock",
    }


def test_cost_is_counted_in_nano_dollars():
    price = ModelPricing("m", input=2.5, output=10.0, cached_input=1.25)
    assert price.cost_nano(prompt=1000, completion=100) == 3_500_000


def test_cached_tokens_cost_the_cached_price():
    price = ModelPricing("m", input=2.5, output=10.0, cached_input=1.25)
    assert price.cost_nano(prompt=1000, completion=0, cached=400) == 2_000_000


def test_cached_tokens_cost_the_input_price_when_no_cached_price_is_set():
    price = ModelPricing("m", input=2.5, output=10.0)
    assert price.cost_nano(prompt=1000, completion=0, cached=1000) == 2_500_000


def test_a_fraction_of_a_nano_dollar_rounds_up():
    assert ModelPricing("m", input=0.02, output=0).cost_nano(prompt=1, completion=0) == 20
    assert ModelPricing("m", input=0.0001, output=0).cost_nano(prompt=1, completion=0) == 1


@pytest.mark.django_db
def test_migrate_loads_the_shipped_prices():
    assert ModelPrice.objects.get(model="gpt-4o").output_per_million == Decimal("10")


@pytest.mark.django_db
def test_an_edited_shipped_price_survives_the_next_sync():
    price = ModelPrice.objects.get(model="gpt-4o")
    services.model_price_update(price=price, output_per_million=Decimal("12.5"))
    sync_builtin_prices()
    assert ModelPrice.objects.get(model="gpt-4o").output_per_million == Decimal("12.5")


@pytest.mark.django_db
def test_an_unedited_shipped_price_is_refreshed_by_the_next_sync():
    ModelPrice.objects.filter(model="gpt-4o").update(output_per_million=99)
    sync_builtin_prices()
    assert ModelPrice.objects.get(model="gpt-4o").output_per_million == Decimal("10")


@pytest.mark.django_db
def test_gateways_price_requests_from_the_database_table():
    services.model_price_create(
        model="house-model", input_per_million=Decimal("1"), output_per_million=Decimal("3")
    )
    assert price_table().lookup("house-model-v2").output == 3.0


@pytest.mark.django_db
def test_a_negative_price_is_refused():
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        services.model_price_create(
            model="bad", input_per_million=Decimal("-1"), output_per_million=Decimal("1")
        )


@pytest.mark.django_db
def test_a_price_change_tells_gateways_to_reload():
    from core.revision import current_config_revision

    before = current_config_revision()
    services.model_price_update(
        price=ModelPrice.objects.get(model="gpt-4o"), input_per_million=Decimal("3")
    )
    assert current_config_revision() == before + 1


def test_cache_writes_cost_the_cache_write_price():
    price = ModelPricing("m", input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)
    # 50 uncached at $3, 1800 read at $0.30, 248 written at $3.75, 503 output at $15.
    assert price.cost_nano(prompt=2098, completion=503, cached=1800, cache_write=248) == 9_165_000


def test_cache_writes_cost_the_input_price_when_no_cache_write_price_is_set():
    price = ModelPricing("m", input=2.0, output=0.0)
    assert price.cost_nano(prompt=100, completion=0, cache_write=100) == 200_000


def test_cache_counts_beyond_the_prompt_are_not_charged_twice():
    price = ModelPricing("m", input=1.0, output=0.0, cached_input=0.0, cache_write=2.0)
    assert price.cost_nano(prompt=10, completion=0, cached=8, cache_write=8) == 4_000


def test_a_usage_record_is_priced_from_its_counts():
    price = ModelPricing("m", input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)
    usage = {
        "prompt_tokens": 2098,
        "completion_tokens": 503,
        "cached_tokens": 1800,
        "cache_write_tokens": 248,
    }
    assert price.usage_cost_nano(usage) == 9_165_000


@pytest.mark.django_db
def test_the_pricing_table_in_the_database_keeps_cache_write_prices():
    assert price_table().lookup("claude-sonnet-4-5-20250929").cache_write == 3.75


@pytest.mark.django_db
def test_an_upgrade_keeps_the_prices_a_company_list_set():
    services.model_prices_refresh(
        prices=[_listed("gpt-4o", "9")], price_list="negotiated.csv", upgrade=False
    )
    sync_builtin_prices()
    assert ModelPrice.objects.get(model="gpt-4o").input_per_million == Decimal("9")


def _listed(model: str, amount: str) -> ListedPrice:
    return ListedPrice("openai", model, Decimal(amount), Decimal(amount))
