"""Adding and changing rate limits through the side panel of the Rate Limiting tab: the
catalog filtered to limits, a form of limit rows built from the policy schema, inline errors."""

import pytest
from django.urls import reverse

from guardrails import services
from guardrails.models import GuardrailAttachment
from tests.admin.form_data import text_of
from tests.factories import ProviderFactory, ProxyFactory

pytestmark = pytest.mark.django_db


def url(owner, view, *args):
    model = owner._meta.model_name
    return reverse(f"admin:proxies_{model}_guardrail_{view}", args=[owner.pk, *args])


def catalog_names(response) -> list[str]:
    return [p["name"] for p in response.context["policies"]]


def cells(response, list_name: str) -> dict[str, list[str]]:
    """The errors shown next to each input of a limit table."""
    group = response.context["group"]
    field = next(f for f in group["fields"] if f["name"] == list_name)
    return {cell["name"]: cell["errors"] for row in field["rows"] for cell in row if cell["errors"]}


def test_add_limit_opens_the_catalog_filtered_to_rate_limits(admin_client):
    response = admin_client.get(url(ProviderFactory(), "catalog") + "?category=ratelimit&panel=1")

    assert sorted(catalog_names(response)) == [
        "basic-ratelimit",
        "llm-cost-based-ratelimit",
        "token-based-ratelimit",
    ]


def test_add_guardrail_leaves_the_rate_limits_out(admin_client):
    response = admin_client.get(url(ProviderFactory(), "catalog"))

    assert "basic-ratelimit" not in catalog_names(response)


def test_the_rate_limiting_tab_has_the_add_limit_button(admin_client):
    provider = ProviderFactory()

    page = text_of(admin_client.get(reverse("admin:proxies_provider_change", args=[provider.pk])))

    assert 'id="gh-add-limit"' in page and "?category=ratelimit" in page


def test_the_limit_form_shows_limits_as_rows_of_inputs(admin_client):
    page = text_of(admin_client.get(url(ProviderFactory(), "add", "basic-ratelimit")))

    assert all(f'name="p.limits.0.{name}"' in page for name in ("requests", "duration", "unit"))


def test_adding_a_limit_through_the_panel_attaches_it(admin_client):
    provider = ProviderFactory()

    admin_client.post(
        url(provider, "add", "basic-ratelimit"),
        {
            "p.limits.0.requests": "100",
            "p.limits.0.duration": "1",
            "p.limits.0.unit": "minute",
            "p.limits.1.requests": "",
            "p.limits.1.duration": "",
            "p.limits.1.unit": "minute",
            "p.scope": "per_key",
            "panel": "1",
        },
    )

    params = GuardrailAttachment.objects.get(provider=provider).params
    assert (params["limits"], params["scope"]) == (
        [{"requests": 100, "duration": 1, "unit": "minute"}],
        "per_key",
    )


def test_adding_a_limit_answers_with_the_rate_limiting_tab(admin_client):
    proxy = ProxyFactory()

    response = admin_client.post(
        url(proxy, "add", "basic-ratelimit"),
        {"p.limits.0.requests": "10", "p.limits.0.unit": "hour", "panel": "1"},
    )

    assert response.json()["redirect"].endswith(f"/{proxy.pk}/change/#ratelimits")


def test_a_limit_below_the_minimum_is_an_inline_error(admin_client):
    response = admin_client.post(
        url(ProviderFactory(), "add", "basic-ratelimit"),
        {"p.limits.0.requests": "0", "p.limits.0.unit": "minute"},
    )

    assert (response.status_code, list(cells(response, "p.limits"))) == (
        400,
        ["p.limits.0.requests"],
    )


def test_a_non_number_in_a_limit_row_is_an_inline_error(admin_client):
    response = admin_client.post(
        url(ProviderFactory(), "add", "token-based-ratelimit"),
        {"p.totalTokenLimits.0.count": "lots", "p.totalTokenLimits.0.unit": "minute"},
    )

    errors = cells(response, "p.totalTokenLimits")
    assert errors == {"p.totalTokenLimits.0.count": ["Enter a whole number."]}


def test_a_row_without_its_amount_is_an_inline_error(admin_client):
    response = admin_client.post(
        url(ProviderFactory(), "add", "basic-ratelimit"),
        {"p.limits.0.requests": "", "p.limits.0.duration": "5", "p.limits.0.unit": "minute"},
    )

    errors = cells(response, "p.limits")
    assert errors == {"p.limits.0.requests": ["This field is required."]}


def test_a_limit_without_any_amount_is_refused_on_top(admin_client):
    response = admin_client.post(
        url(ProviderFactory(), "add", "basic-ratelimit"), {"p.limits.0.unit": "minute"}
    )

    assert "Set at least one limit." in response.context["top_errors"]


def test_a_refused_limit_attaches_nothing(admin_client):
    admin_client.post(
        url(ProviderFactory(), "add", "basic-ratelimit"),
        {"p.limits.0.requests": "0", "p.limits.0.unit": "minute"},
    )

    assert not GuardrailAttachment.objects.exists()


def test_the_edit_form_is_prefilled_with_the_limits(admin_client):
    provider = ProviderFactory()
    limit = services.attachment_create(
        policy="basic-ratelimit",
        params={"limits": [{"requests": 42, "unit": "hour"}]},
        provider=provider,
    )

    page = text_of(admin_client.get(url(provider, "edit", limit.pk)))

    assert 'name="p.limits.0.requests" value="42"' in page


def test_editing_a_limit_changes_it(admin_client):
    provider = ProviderFactory()
    limit = services.attachment_create(
        policy="basic-ratelimit", params={"limits": [{"requests": 42}]}, provider=provider
    )

    admin_client.post(
        url(provider, "edit", limit.pk),
        {"p.limits.0.requests": "7", "p.limits.0.duration": "2", "p.limits.0.unit": "hour"},
    )

    limit.refresh_from_db()
    assert limit.params["limits"] == [{"requests": 7, "duration": 2, "unit": "hour"}]


def test_disabling_a_limit_returns_to_the_rate_limiting_tab(admin_client):
    provider = ProviderFactory()
    limit = services.attachment_create(
        policy="basic-ratelimit", params={"limits": [{"requests": 42}]}, provider=provider
    )

    response = admin_client.post(url(provider, "operation", limit.pk, "disable"))

    limit.refresh_from_db()
    assert (limit.enabled, response.url.endswith("#ratelimits")) == (False, True)


def test_removing_a_limit_detaches_it(admin_client):
    provider = ProviderFactory()
    limit = services.attachment_create(
        policy="basic-ratelimit", params={"limits": [{"requests": 42}]}, provider=provider
    )

    admin_client.post(url(provider, "operation", limit.pk, "remove"))

    assert not GuardrailAttachment.objects.exists()


def test_moving_a_guardrail_skips_the_limits_between(admin_client):
    proxy = ProxyFactory()
    first = services.attachment_create(
        policy="word-count-guardrail", params={"request": {"max": 5}}, proxy=proxy
    )
    services.attachment_create(
        policy="basic-ratelimit", params={"limits": [{"requests": 42}]}, proxy=proxy
    )
    second = services.attachment_create(
        policy="sentence-count-guardrail", params={"request": {"max": 5}}, proxy=proxy
    )

    admin_client.post(url(proxy, "operation", second.pk, "up"))

    guardrails = response_rows(admin_client, proxy)
    assert guardrails == [second.pk, first.pk]


def response_rows(client, proxy) -> list[int]:
    response = client.get(reverse("admin:proxies_proxy_change", args=[proxy.pk]))
    return [row["attachment"].pk for row in response.context["guardrails"]["rows"]]


def test_viewer_cannot_open_the_limit_catalog(viewer_client):
    response = viewer_client.get(url(ProviderFactory(), "catalog") + "?category=ratelimit")

    assert response.status_code == 403
