"""The Rate Limiting tab of providers and proxies: each limit with its consumption in the current
window and when the window resets, read from the gateways' Redis."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse

from guardrails import services
from guardrails.admin_limits import resets_in
from tests.admin.form_data import text_of
from tests.admin.limits_world import consume, readings, redis_settings
from tests.factories import ProviderFactory, ProxyFactory, api_key
from tests.limits.conftest import closed_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits_redis():
    yield from redis_settings()


def provider_page(client, provider):
    return client.get(reverse("admin:proxies_provider_change", args=[provider.pk]))


def proxy_page(client, proxy):
    return client.get(reverse("admin:proxies_proxy_change", args=[proxy.pk]))


def attach(owner, policy="basic-ratelimit", **params):
    where = "proxy" if owner._meta.model_name == "proxy" else "provider"
    return services.attachment_create(policy=policy, params=params, **{where: owner})


def next_midnight() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


def test_provider_tab_shows_a_shared_limits_use_against_its_limit(admin_client, limits_redis):
    provider = ProviderFactory()
    limit = attach(provider, limits=[{"requests": 5, "unit": "day"}])
    consume(limits_redis, limit, 2)

    [reading] = readings(provider_page(admin_client, provider))

    assert (reading["title"], reading["who"], reading["text"], reading["percent"]) == (
        "5 requests per day",
        "All callers",
        "2 / 5",
        40,
    )


def test_provider_tab_shows_when_the_window_resets(admin_client, limits_redis):
    provider = ProviderFactory()
    limit = attach(provider, limits=[{"requests": 5, "unit": "day"}])
    consume(limits_redis, limit)

    [reading] = readings(provider_page(admin_client, provider))

    assert reading["reset_at"] == next_midnight()


def test_the_page_says_how_long_until_the_reset(admin_client, limits_redis):
    provider = ProviderFactory()
    attach(provider, limits=[{"requests": 5, "unit": "day"}])

    page = text_of(provider_page(admin_client, provider))

    assert "2 / 5" not in page and "0 / 5" in page and "resets in " in page


def test_resets_in_reads_as_minutes():
    now = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)

    assert resets_in(now + timedelta(minutes=12, seconds=30), now) == "resets in 12 minutes"


def test_resets_in_counts_seconds_in_the_last_minute():
    now = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)

    assert resets_in(now + timedelta(seconds=42), now) == "resets in 42 seconds"


def test_token_limits_show_the_tokens_settled(admin_client, limits_redis):
    provider = ProviderFactory()
    limit = attach(
        provider, "token-based-ratelimit", totalTokenLimits=[{"count": 1000, "unit": "day"}]
    )
    usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    consume(limits_redis, limit, 2, usage=usage)

    [reading] = readings(provider_page(admin_client, provider))

    assert (reading["title"], reading["text"]) == ("1,000 total tokens per day", "240 / 1,000")


def test_cost_budgets_show_dollars_spent(admin_client, limits_redis):
    provider = ProviderFactory()
    limit = attach(
        provider,
        "llm-cost-based-ratelimit",
        budgetLimits=[{"amount": 10}],
        fallbackPrice={"input": 1.0, "output": 2.0},
    )
    # 500,000 tokens in at $1/M and 250,000 out at $2/M: $1.00.
    usage = {"prompt_tokens": 500_000, "completion_tokens": 250_000, "total_tokens": 750_000}
    consume(limits_redis, limit, usage=usage, model="no-such-model")

    [reading] = readings(provider_page(admin_client, provider))

    assert (reading["title"], reading["text"]) == ("$10.00 per month", "$1.00 / $10.00")


def test_proxy_tab_shows_per_key_consumption_for_each_key(admin_client, limits_redis):
    proxy = ProxyFactory()
    first, _ = api_key(proxy, name="first")
    second, _ = api_key(proxy, name="second")
    limit = attach(proxy, limits=[{"requests": 10, "unit": "day"}], scope="per_key")
    consume(limits_redis, limit, 3, key_id=str(first.pk))
    consume(limits_redis, limit, 1, key_id=str(second.pk))

    shown = {r["who"].split(" ")[0]: r["text"] for r in readings(proxy_page(admin_client, proxy))}

    assert shown == {"first": "3 / 10", "second": "1 / 10"}


def test_provider_tab_shows_per_key_consumption_of_keys_on_its_proxies(admin_client, limits_redis):
    proxy = ProxyFactory()
    key, _ = api_key(proxy, name="ops")
    limit = attach(proxy.provider, limits=[{"requests": 10, "unit": "day"}], scope="per_key")
    consume(limits_redis, limit, 4, key_id=str(key.pk))

    [reading] = readings(provider_page(admin_client, proxy.provider))

    assert (reading["who"], reading["text"]) == (f"ops ({key.masked}) on {proxy.name}", "4 / 10")


def test_a_per_key_limit_without_keys_says_so(admin_client, limits_redis):
    proxy = ProxyFactory()
    attach(proxy, limits=[{"requests": 10}], scope="per_key")

    assert "Counted per API key; no active key yet." in text_of(proxy_page(admin_client, proxy))


def test_proxy_tab_shows_the_provider_limits_that_also_apply(admin_client, limits_redis):
    proxy = ProxyFactory()
    limit = attach(proxy.provider, limits=[{"requests": 50, "unit": "day"}])
    consume(limits_redis, limit, 7)

    [reading] = readings(proxy_page(admin_client, proxy), "provider_limits")

    assert reading["text"] == "7 / 50"


def test_a_per_resource_override_is_counted_on_its_resource(admin_client, limits_redis):
    provider = ProviderFactory()
    limit = attach(
        provider,
        limits=[{"requests": 100, "unit": "day"}],
        perResource=True,
        resources=[{"resource": "POST /embeddings", "limits": [{"requests": 3, "unit": "day"}]}],
    )
    consume(limits_redis, limit, 2, resource="POST /embeddings")

    shown = readings(provider_page(admin_client, provider))

    override = next(r for r in shown if r["on"])
    assert (override["on"], override["text"]) == ("POST /embeddings", "2 / 3")


def test_a_per_resource_default_is_shown_for_each_resource(admin_client, limits_redis):
    provider = ProviderFactory()
    limit = attach(provider, limits=[{"requests": 100, "unit": "day"}], perResource=True)
    consume(limits_redis, limit, 2, resource="POST /chat/completions")

    shown = {r["resource"]: r["text"] for r in readings(provider_page(admin_client, provider))}

    assert shown["POST /chat/completions"] == "2 / 100"


def test_without_redis_the_page_says_consumption_cannot_be_read(admin_client):
    provider = ProviderFactory()
    attach(provider, limits=[{"requests": 5}])

    with override_settings(GATEHOUSE_LIMITS_REDIS_URL="", REDIS_URL=""):
        response = provider_page(admin_client, provider)

    assert response.context["limits"]["store"] == "local"
    assert "no Redis is configured" in text_of(response)


def test_without_redis_no_zero_is_shown_as_if_counted(admin_client):
    provider = ProviderFactory()
    attach(provider, limits=[{"requests": 5}])

    with override_settings(GATEHOUSE_LIMITS_REDIS_URL="", REDIS_URL=""):
        page = text_of(provider_page(admin_client, provider))

    assert "0 / 5" not in page and "not available" in page


def test_an_unreachable_redis_is_stated(admin_client):
    provider = ProviderFactory()
    attach(provider, limits=[{"requests": 5}])
    url = f"redis://127.0.0.1:{closed_port()}/0"

    with override_settings(GATEHOUSE_LIMITS_REDIS_URL=url, GATEHOUSE_LIMITS_REDIS_TIMEOUT=0.5):
        response = provider_page(admin_client, provider)

    assert response.context["limits"]["store"] == "unavailable"
    assert "Redis did not answer" in text_of(response)


def test_viewer_sees_consumption(viewer_client, limits_redis):
    provider = ProviderFactory()
    limit = attach(provider, limits=[{"requests": 5, "unit": "day"}])
    consume(limits_redis, limit, 3)

    assert "3 / 5" in text_of(provider_page(viewer_client, provider))


def test_viewer_sees_no_write_buttons_on_the_limits(viewer_client, limits_redis):
    provider = ProviderFactory()
    attach(provider, limits=[{"requests": 5, "unit": "day"}])

    page = text_of(provider_page(viewer_client, provider))

    assert not any(word in page for word in ("+ Add limit", ">Edit<", ">Disable<", ">Remove<"))


def test_provider_tab_links_to_the_pricing_table(admin_client):
    page = text_of(provider_page(admin_client, ProviderFactory()))

    assert "Prices used for cost budgets" in page
    assert reverse("admin:guardrails_modelprice_changelist") in page


def test_guardrails_tab_leaves_limits_to_their_own_tab(admin_client):
    provider = ProviderFactory()
    attach(provider, limits=[{"requests": 5}])

    response = provider_page(admin_client, provider)

    assert response.context["guardrails"]["rows"] == []
