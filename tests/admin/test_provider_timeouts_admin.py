"""A provider's first-byte and total timeouts in the admin."""

import pytest
from django.urls import reverse

from proxies.models import Provider
from tests.admin.form_data import provider_form, text_of
from tests.factories import template

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:proxies_provider_add")


def test_first_byte_and_total_timeouts_are_saved(admin_client):
    data = provider_form(template("openai-compatible"), first_byte_timeout="5", total_timeout="90")
    admin_client.post(ADD_URL, data)

    provider = Provider.objects.get(name="Acme LLM")
    assert (provider.first_byte_timeout, provider.total_timeout) == (5.0, 90.0)


def test_blank_first_byte_and_total_timeouts_mean_no_limit(admin_client):
    admin_client.post(ADD_URL, provider_form(template("openai-compatible")))

    provider = Provider.objects.get(name="Acme LLM")
    assert (provider.first_byte_timeout, provider.total_timeout) == (None, None)


def test_a_first_byte_timeout_longer_than_the_total_is_a_form_error(admin_client):
    data = provider_form(template("openai-compatible"), first_byte_timeout="60", total_timeout="30")
    response = admin_client.post(ADD_URL, data)

    assert "cannot be given longer than the whole exchange" in text_of(response)
    assert not Provider.objects.exists()
