"""The Guardrails tab: the side panel (catalog, schema form, inline errors) and the chain's
enable / disable, reorder, edit and remove buttons, on proxies and providers."""

import pytest
from django.urls import reverse

from guardrails.models import GuardrailAttachment
from tests.admin.form_data import text_of
from tests.factories import GuardrailFactory, ProviderFactory, ProxyFactory

pytestmark = pytest.mark.django_db


def url(owner, view, *args):
    model = owner._meta.model_name
    return reverse(f"admin:proxies_{model}_guardrail_{view}", args=[owner.pk, *args])


def operation_url(attachment, operation):
    owner = attachment.proxy or attachment.provider
    return url(owner, "operation", attachment.pk, operation)


def test_catalog_lists_every_policy_with_what_it_does(admin_client):
    page = text_of(admin_client.get(url(ProxyFactory(), "catalog")))

    assert "Word Count Guardrail" in page and "PII Masking Regex" in page


def test_catalog_in_the_panel_is_a_fragment(admin_client):
    response = admin_client.get(url(ProxyFactory(), "catalog") + "?panel=1")

    assert "<html" not in response.content.decode()


def test_catalog_without_javascript_is_a_full_page(admin_client):
    response = admin_client.get(url(ProxyFactory(), "catalog"))

    assert "<html" in response.content.decode()


def test_policy_form_is_generated_from_the_schema(admin_client):
    page = text_of(admin_client.get(url(ProxyFactory(), "add", "word-count-guardrail")))

    assert 'name="p.request.max"' in page and 'name="p.response.enabled"' in page


def test_policy_form_puts_advanced_settings_in_a_collapsed_section(admin_client):
    group = admin_client.get(url(ProxyFactory(), "add", "word-count-guardrail")).context["group"]

    request = group["groups"][0]
    assert [f["name"] for f in request["advanced"]] == [
        "p.request.jsonPath",
        "p.request.invert",
        "p.request.showAssessment",
    ]


def test_unknown_policy_is_not_found(admin_client):
    assert admin_client.get(url(ProxyFactory(), "add", "no-such-policy")).status_code == 404


def test_adding_through_the_panel_attaches_the_policy(admin_client):
    proxy = ProxyFactory()

    admin_client.post(
        url(proxy, "add", "word-count-guardrail"),
        {"p.request.enabled": "on", "p.request.max": "50", "panel": "1"},
    )

    attachment = GuardrailAttachment.objects.get(proxy=proxy)
    assert attachment.params["request"]["max"] == 50


def test_adding_through_the_panel_answers_with_the_page_to_reload(admin_client):
    proxy = ProxyFactory()

    response = admin_client.post(
        url(proxy, "add", "word-count-guardrail"),
        {"p.request.enabled": "on", "p.request.max": "50", "panel": "1"},
    )

    assert response.json()["redirect"].endswith(f"/{proxy.pk}/change/#guardrails")


def test_a_switched_off_section_is_left_out(admin_client):
    proxy = ProxyFactory()

    admin_client.post(
        url(proxy, "add", "word-count-guardrail"), {"p.request.enabled": "on", "p.request.max": "5"}
    )

    assert "response" not in GuardrailAttachment.objects.get(proxy=proxy).params


def test_service_validation_errors_appear_next_to_their_input(admin_client):
    response = admin_client.post(
        url(ProxyFactory(), "add", "word-count-guardrail"), {"p.request.enabled": "on"}
    )

    fields = response.context["group"]["groups"][0]["fields"]
    errors = {f["name"]: f["errors"] for f in fields if f["errors"]}
    assert (response.status_code, errors) == (400, {"p.request.max": ["This field is required."]})


def test_a_failed_add_attaches_nothing(admin_client):
    admin_client.post(
        url(ProxyFactory(), "add", "word-count-guardrail"), {"p.request.enabled": "on"}
    )

    assert not GuardrailAttachment.objects.exists()


def test_errors_without_an_input_are_shown_on_top(admin_client):
    response = admin_client.post(url(ProxyFactory(), "add", "word-count-guardrail"), {})

    assert "Provide at least one of: request, response." in response.context["top_errors"]


def test_a_non_number_is_an_inline_error(admin_client):
    response = admin_client.post(
        url(ProxyFactory(), "add", "word-count-guardrail"),
        {"p.request.enabled": "on", "p.request.max": "lots"},
    )

    assert "Enter a whole number." in text_of(response)


def test_invalid_json_in_a_list_setting_is_an_inline_error(admin_client):
    response = admin_client.post(
        url(ProxyFactory(), "add", "pii-masking-regex"),
        {"p.email": "on", "p.customPIIEntities": "[not json"},
    )

    assert "Enter valid JSON." in text_of(response)


def test_edit_form_is_prefilled_with_the_current_settings(admin_client):
    attachment = GuardrailFactory(params={"request": {"max": 77}})
    owner = attachment.proxy

    page = text_of(admin_client.get(url(owner, "edit", attachment.pk)))

    assert 'name="p.request.max" value="77"' in page


def test_editing_changes_the_settings(admin_client):
    attachment = GuardrailFactory(params={"request": {"max": 77}})

    admin_client.post(
        url(attachment.proxy, "edit", attachment.pk),
        {"p.request.enabled": "on", "p.request.max": "12"},
    )

    attachment.refresh_from_db()
    assert attachment.params["request"]["max"] == 12


def test_disable_turns_the_attachment_off(admin_client):
    attachment = GuardrailFactory()

    admin_client.post(operation_url(attachment, "disable"))

    attachment.refresh_from_db()
    assert attachment.enabled is False


def test_enable_turns_it_back_on(admin_client):
    attachment = GuardrailFactory(enabled=False)

    admin_client.post(operation_url(attachment, "enable"))

    attachment.refresh_from_db()
    assert attachment.enabled is True


def test_moving_up_swaps_with_the_previous_attachment(admin_client):
    proxy = ProxyFactory()
    first = GuardrailFactory(proxy=proxy)
    second = GuardrailFactory(proxy=proxy, policy="sentence-count-guardrail")

    admin_client.post(operation_url(second, "up"))

    chain = GuardrailAttachment.objects.filter(proxy=proxy).order_by("order")
    assert [a.pk for a in chain] == [second.pk, first.pk]


def test_moving_down_swaps_with_the_next_attachment(admin_client):
    proxy = ProxyFactory()
    first = GuardrailFactory(proxy=proxy)
    second = GuardrailFactory(proxy=proxy, policy="sentence-count-guardrail")

    admin_client.post(operation_url(first, "down"))

    chain = GuardrailAttachment.objects.filter(proxy=proxy).order_by("order")
    assert [a.pk for a in chain] == [second.pk, first.pk]


def test_remove_detaches_the_policy(admin_client):
    attachment = GuardrailFactory()

    admin_client.post(operation_url(attachment, "remove"))

    assert not GuardrailAttachment.objects.exists()


def test_operations_need_post(admin_client):
    attachment = GuardrailFactory()

    assert admin_client.get(operation_url(attachment, "remove")).status_code == 403


def test_an_attachment_of_another_proxy_is_not_found(admin_client):
    attachment = GuardrailFactory()
    other = ProxyFactory()

    response = admin_client.post(url(other, "operation", attachment.pk, "remove"))

    assert response.status_code == 404 and GuardrailAttachment.objects.exists()


def test_provider_guardrails_are_added_through_the_same_panel(admin_client):
    provider = ProviderFactory()

    admin_client.post(
        url(provider, "add", "word-count-guardrail"),
        {"p.request.enabled": "on", "p.request.max": "50"},
    )

    assert GuardrailAttachment.objects.get(provider=provider).proxy is None


def test_viewer_sees_the_chain_without_buttons(viewer_client):
    attachment = GuardrailFactory()

    page = text_of(
        viewer_client.get(reverse("admin:proxies_proxy_change", args=[attachment.proxy.pk]))
    )

    assert "Word Count Guardrail" in page and "+ Add guardrail" not in page and "Remove" not in page


def test_viewer_cannot_open_the_panel(viewer_client):
    assert viewer_client.get(url(ProxyFactory(), "catalog")).status_code == 403


def test_viewer_cannot_attach(viewer_client):
    response = viewer_client.post(
        url(ProxyFactory(), "add", "word-count-guardrail"),
        {"p.request.enabled": "on", "p.request.max": "50"},
    )

    assert response.status_code == 403 and not GuardrailAttachment.objects.exists()


@pytest.mark.parametrize("operation", ["disable", "up", "remove"])
def test_viewer_cannot_change_the_chain(viewer_client, operation):
    attachment = GuardrailFactory()

    assert viewer_client.post(operation_url(attachment, operation)).status_code == 403


def test_chain_changes_appear_in_the_owner_history(admin_client):
    attachment = GuardrailFactory()

    admin_client.post(operation_url(attachment, "disable"))

    history = reverse("admin:proxies_proxy_history", args=[attachment.proxy.pk])
    assert "Disabled Word Count Guardrail." in text_of(admin_client.get(history))


def test_the_payload_log_is_in_the_catalog_and_attached_through_its_form(admin_client):
    proxy = ProxyFactory()
    assert "Payload Log" in text_of(admin_client.get(url(proxy, "catalog")))
    form = text_of(admin_client.get(url(proxy, "add", "payload-log")))
    assert 'name="p.destination"' in form and 'name="p.maxBytes"' in form

    admin_client.post(
        url(proxy, "add", "payload-log"),
        {"p.destination": "log", "p.request": "on", "p.maxBytes": "1024", "p.email": "on"},
    )

    params = GuardrailAttachment.objects.get(proxy=proxy, policy="payload-log").params
    assert (params["destination"], params["maxBytes"], params["request"]) == ("log", 1024, True)
    assert (params["email"], params["phone"], params["response"]) == (True, False, False)
