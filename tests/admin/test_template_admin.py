"""Built-in provider templates are read-only; custom ones are managed in the admin."""

import pytest
from django.urls import reverse

from proxies.models import ProviderTemplate
from tests.admin.form_data import text_of
from tests.factories import ProviderFactory, template

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:proxies_providertemplate_add")


def template_data(**overrides):
    data = {
        "slug": "in-house",
        "display_name": "In-house LLM",
        "description": "",
        "adapter": "openai-compatible",
        "upstream_url": "https://llm.internal.example.com/v1",
        "upstream_url_editable": "on",
        "upstream_auth_header": "Authorization",
        "upstream_auth_prefix": "Bearer ",
        "inbound_key_header": "Authorization",
        "inbound_key_prefix": "Bearer ",
        "model_location": "{}",
        "usage_paths": "{}",
        "resources": "POST /chat/completions",
    }
    return {**data, **overrides}


def change_url(obj):
    return reverse("admin:proxies_providertemplate_change", args=[obj.pk])


def test_builtin_template_page_is_read_only(admin_client):
    response = admin_client.get(change_url(template("openai")))

    assert response.context["has_change_permission"] is False


def test_builtin_template_cannot_be_changed(admin_client):
    builtin = template("openai")

    response = admin_client.post(change_url(builtin), template_data(display_name="Hacked"))

    assert response.status_code == 403


def test_builtin_template_cannot_be_deleted(admin_client):
    url = reverse("admin:proxies_providertemplate_delete", args=[template("openai").pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403


def test_custom_template_is_created_with_its_prefix_intact(admin_client):
    admin_client.post(ADD_URL, template_data())

    custom = ProviderTemplate.objects.get(slug="in-house")
    assert (custom.builtin, custom.upstream_auth_prefix) == (False, "Bearer ")


def test_custom_template_can_be_changed(admin_client):
    admin_client.post(ADD_URL, template_data())
    custom = ProviderTemplate.objects.get(slug="in-house")

    admin_client.post(change_url(custom), template_data(display_name="Renamed"))

    custom.refresh_from_db()
    assert custom.display_name == "Renamed"


def test_taken_template_id_is_a_form_error(admin_client):
    response = admin_client.post(ADD_URL, template_data(slug="openai"))

    assert "A template with ID 'openai' already exists." in text_of(response)


def test_deleting_a_template_in_use_shows_why(admin_client):
    admin_client.post(ADD_URL, template_data())
    custom = ProviderTemplate.objects.get(slug="in-house")
    ProviderFactory(template="in-house")
    url = reverse("admin:proxies_providertemplate_delete", args=[custom.pk])

    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert "used by providers" in text_of(response)
