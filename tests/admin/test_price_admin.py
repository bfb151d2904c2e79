"""The pricing table in the admin: cache-write prices, and loading the shipped price list."""

from decimal import Decimal

import pytest
from django.urls import reverse

from guardrails.models import ModelPrice
from tests.admin.form_data import text_of

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:guardrails_modelprice_changelist")
REFRESH = reverse("admin:guardrails_modelprice_refresh")


def test_the_list_offers_to_load_the_shipped_price_list(admin_client):
    assert "Load the shipped price list" in text_of(admin_client.get(CHANGELIST))


def test_loading_the_shipped_list_restores_a_price_changed_behind_its_back(admin_client):
    ModelPrice.objects.filter(model="gpt-4o").update(input_per_million=99)
    admin_client.post(REFRESH)
    assert ModelPrice.objects.get(model="gpt-4o").input_per_million == Decimal("2.5")


def test_loading_says_what_it_did(admin_client):
    ModelPrice.objects.filter(model="gpt-4o").delete()
    page = text_of(admin_client.post(REFRESH, follow=True))
    assert "Loaded the shipped price list: 1 added, 0 updated." in page


def test_a_viewer_is_not_offered_the_load(viewer_client):
    assert "Load the shipped price list" not in text_of(viewer_client.get(CHANGELIST))


def test_a_viewer_cannot_load(viewer_client):
    assert viewer_client.post(REFRESH).status_code == 403


def test_a_cache_write_price_is_edited_like_the_others(admin_client):
    price = ModelPrice.objects.get(model="claude-sonnet-4-5")
    url = reverse("admin:guardrails_modelprice_change", args=[price.pk])
    data = {
        "vendor": "anthropic",
        "input_per_million": "3",
        "output_per_million": "15",
        "cached_input_per_million": "0.3",
        "cache_write_per_million": "4.5",
        "checked_on": "2026-12-01",
    }
    admin_client.post(url, data)
    price.refresh_from_db()
    assert (price.cache_write_per_million, price.edited) == (Decimal("4.5"), True)
