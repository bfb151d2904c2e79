"""Words the admin shows: the SPEC's "Create proxy", a correct plural, the pricing table link."""

import pytest
from django.urls import reverse

from gateways.models import GatewayProcess
from tests.admin.form_data import text_of

pytestmark = pytest.mark.django_db


def test_proxies_list_button_reads_create_proxy(admin_client):
    page = text_of(admin_client.get(reverse("admin:proxies_proxy_changelist")))

    assert "Create proxy" in page and "Add proxy" not in page


def test_proxies_list_has_no_create_button_for_a_viewer(viewer_client):
    page = text_of(viewer_client.get(reverse("admin:proxies_proxy_changelist")))

    assert "Create proxy" not in page


def test_the_new_proxy_page_is_titled_create_proxy(admin_client):
    response = admin_client.get(reverse("admin:proxies_proxy_add"))

    assert response.context["title"] == "Create proxy"


def test_gateway_processes_are_spelled_right():
    assert GatewayProcess._meta.verbose_name_plural == "gateway processes"


def test_the_admin_index_says_gateway_processes(admin_client):
    page = text_of(admin_client.get(reverse("admin:index")))

    assert "Gateway processes" in page and "processs" not in page


def test_the_admin_index_links_to_the_pricing_table(admin_client):
    page = text_of(admin_client.get(reverse("admin:index")))

    assert "Prices used for cost budgets" in page
    assert reverse("admin:guardrails_modelprice_changelist") in page
