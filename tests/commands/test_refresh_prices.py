"""``refresh_prices``: the shipped price list, or a CSV file of one's own, loaded into the
pricing table without overwriting what an admin edited or added."""

from decimal import Decimal

import pytest
from django.core.management.base import CommandError

from core.revision import current_config_revision
from guardrails import services
from guardrails.models import ModelPrice

HEADER = "vendor,model,input,output,cached_input,cache_write,checked_on\n"


@pytest.fixture
def price_file(tmp_path):
    def write(*rows: str):
        path = tmp_path / "negotiated.csv"
        path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
        return str(path)

    return write


def test_a_shipped_price_changed_behind_its_back_is_restored(manage):
    ModelPrice.objects.filter(model="gpt-4o").update(input_per_million=99)
    manage("refresh_prices")
    assert ModelPrice.objects.get(model="gpt-4o").input_per_million == Decimal("2.5")


def test_it_prints_how_many_prices_it_added_and_updated(manage):
    ModelPrice.objects.filter(model="gpt-4o").delete()
    ModelPrice.objects.filter(model="o3").update(output_per_million=1)
    assert manage("refresh_prices")[0].strip() == "1 added, 1 updated"


def test_a_price_an_admin_edited_is_kept(manage):
    price = ModelPrice.objects.get(model="gpt-4o")
    services.model_price_update(price=price, input_per_million=Decimal("2.2"))
    manage("refresh_prices")
    assert ModelPrice.objects.get(model="gpt-4o").input_per_million == Decimal("2.2")


def test_kept_prices_are_named_on_stderr(manage):
    price = ModelPrice.objects.get(model="gpt-4o")
    services.model_price_update(price=price, input_per_million=Decimal("2.2"))
    assert "gpt-4o" in manage("refresh_prices")[1]


def test_a_file_loads_new_models_with_every_price(manage, price_file):
    manage("refresh_prices", "--file", price_file("other,house-1,1,2,0.1,1.25,2026-11-30"))
    price = ModelPrice.objects.get(model="house-1")
    assert (price.cached_input_per_million, price.cache_write_per_million, price.price_list) == (
        Decimal("0.1"),
        Decimal("1.25"),
        "negotiated.csv",
    )


def test_a_file_overrides_a_shipped_price(manage, price_file):
    manage("refresh_prices", "--file", price_file("openai,gpt-4o,2,8,1,,2026-11-30"))
    assert ModelPrice.objects.get(model="gpt-4o").input_per_million == Decimal("2")


def test_a_file_keeps_a_price_an_admin_added(manage, price_file):
    services.model_price_create(
        model="house-1", input_per_million=Decimal("5"), output_per_million=Decimal("5")
    )
    manage("refresh_prices", "--file", price_file("other,house-1,1,2,,,"))
    assert ModelPrice.objects.get(model="house-1").input_per_million == Decimal("5")


def test_loading_prices_tells_gateways_to_reload(manage, price_file):
    before = current_config_revision()
    manage("refresh_prices", "--file", price_file("other,house-1,1,2,,,"))
    assert current_config_revision() == before + 1


def test_loading_the_same_prices_again_changes_nothing(manage):
    manage("refresh_prices")
    before = current_config_revision()
    assert (manage("refresh_prices")[0].strip(), current_config_revision()) == (
        "0 added, 0 updated",
        before,
    )


def test_a_wrong_row_fails_with_its_line_and_loads_nothing(manage, price_file):
    path = price_file("other,house-1,1,2,,,", "other,house-2,free,2,,,")
    with pytest.raises(CommandError, match="line 3, input"):
        manage("refresh_prices", "--file", path)
    assert not ModelPrice.objects.filter(model="house-1").exists()


def test_an_unknown_vendor_fails(manage, price_file):
    with pytest.raises(CommandError, match="Unknown vendor 'acme'"):
        manage("refresh_prices", "--file", price_file("acme,house-1,1,2,,,"))


def test_a_missing_file_fails_in_one_line(manage, tmp_path):
    with pytest.raises(CommandError, match="Cannot read the price list") as caught:
        manage("refresh_prices", "--file", str(tmp_path / "nope.csv"))
    assert "\n" not in str(caught.value)
