"""Attaching guardrails and policies to proxies and providers in the admin."""

import json

import pytest
from django.urls import reverse

from guardrails.models import GuardrailAttachment
from tests.admin.form_data import text_of
from tests.factories import GuardrailFactory, ProviderFactory, ProxyFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:guardrails_guardrailattachment_add")


def attachment_data(**overrides):
    data = {
        "proxy": "",
        "provider": "",
        "policy": "word-count-guardrail",
        "params": json.dumps({"request": {"max": 500}}),
        "order": "",
        "enabled": "on",
    }
    return {**data, **overrides}


def test_attaching_a_policy_fills_in_schema_defaults(admin_client):
    proxy = ProxyFactory()

    admin_client.post(ADD_URL, attachment_data(proxy=proxy.pk))

    params = GuardrailAttachment.objects.get(proxy=proxy).params
    assert params["request"] == {**params["request"], "max": 500, "min": 0}


def test_new_attachment_goes_to_the_end_of_the_chain(admin_client):
    proxy = ProxyFactory()
    GuardrailFactory(proxy=proxy)

    admin_client.post(ADD_URL, attachment_data(proxy=proxy.pk))

    assert list(proxy.guardrails.values_list("order", flat=True)) == [1, 2]


def test_params_breaking_the_schema_are_a_form_error(admin_client):
    proxy = ProxyFactory()

    response = admin_client.post(
        ADD_URL, attachment_data(proxy=proxy.pk, params=json.dumps({"request": {"min": 1}}))
    )

    assert "request.max" in " ".join(response.context["adminform"].form.errors["params"])
    assert not GuardrailAttachment.objects.exists()


def test_params_that_are_not_json_are_a_form_error(admin_client):
    response = admin_client.post(ADD_URL, attachment_data(proxy=ProxyFactory().pk, params="{"))

    assert "params" in response.context["adminform"].form.errors


def test_attaching_to_both_a_proxy_and_a_provider_is_refused(admin_client):
    proxy = ProxyFactory()

    response = admin_client.post(
        ADD_URL, attachment_data(proxy=proxy.pk, provider=proxy.provider.pk)
    )

    assert "exactly one proxy or provider" in text_of(response)


def test_attaching_to_a_provider(admin_client):
    provider = ProviderFactory()

    admin_client.post(ADD_URL, attachment_data(provider=provider.pk))

    assert provider.guardrails.count() == 1


def test_changing_an_attachment_saves_params_order_and_enabled(admin_client):
    attachment = GuardrailFactory()
    url = reverse("admin:guardrails_guardrailattachment_change", args=[attachment.pk])

    data = {"params": json.dumps({"request": {"max": 7}}), "order": "3", "enabled": ""}
    admin_client.post(url, data)

    attachment.refresh_from_db()
    assert (attachment.params["request"]["max"], attachment.order, attachment.enabled) == (
        7,
        3,
        False,
    )


def test_changing_to_invalid_params_is_a_form_error(admin_client):
    attachment = GuardrailFactory()
    url = reverse("admin:guardrails_guardrailattachment_change", args=[attachment.pk])

    data = {"params": json.dumps({"request": {"max": -1}}), "order": "1", "enabled": "on"}
    response = admin_client.post(url, data)

    assert "params" in response.context["adminform"].form.errors


def test_proxy_page_lists_its_guardrails_in_order(admin_client):
    proxy = ProxyFactory()
    GuardrailFactory(proxy=proxy, order=2, params={"request": {"max": 9}})
    GuardrailFactory(proxy=proxy, policy="word-count-guardrail", order=1)

    tab = admin_client.get(reverse("admin:proxies_proxy_change", args=[proxy.pk])).context[
        "guardrails"
    ]

    assert [row["attachment"].order for row in tab["rows"]] == [1, 2]


def test_add_page_preselects_the_owner_from_the_link(admin_client):
    proxy = ProxyFactory()

    form = admin_client.get(f"{ADD_URL}?proxy={proxy.pk}").context["adminform"].form

    assert str(form["proxy"].value()) == str(proxy.pk)


def test_deleting_an_attachment_removes_it(admin_client):
    attachment = GuardrailFactory()
    url = reverse("admin:guardrails_guardrailattachment_delete", args=[attachment.pk])

    admin_client.post(url, {"post": "yes"})

    assert not GuardrailAttachment.objects.exists()
