"""The provider's Rate Limiting tab in a real browser: consumption read from Redis, and a limit
added through the side panel (an inline error first)."""

import pytest
from django.contrib.auth import get_user_model

from guardrails import services
from tests.admin.limits_world import consume, redis_settings
from tests.factories import ProviderFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def limits_redis():
    yield from redis_settings()


def test_rate_limiting_tab_shows_consumption_and_adds_a_limit(
    page, screenshot, live_server, transactional_db, limits_redis
):
    get_user_model().objects.create_superuser("admin", "admin@example.com", "correct horse")
    provider = ProviderFactory(name="Local LLM")
    limit = services.attachment_create(
        policy="basic-ratelimit",
        params={"limits": [{"requests": 5, "unit": "day"}]},
        provider=provider,
    )
    consume(limits_redis, limit, 3)
    admin = f"{live_server.url}/admin"
    page.goto(f"{admin}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")

    page.goto(f"{admin}/proxies/provider/{provider.pk}/change/#ratelimits")
    row = page.locator(f".gh-limit-item[data-attachment='{limit.pk}'] .gh-usage-row")
    assert row.locator(".gh-usage-text").text_content() == "3 / 5"
    screenshot("consumption")

    page.click("#gh-add-limit")
    page.click("[data-policy=token-based-ratelimit]")
    page.fill("[name='p.totalTokenLimits.0.count']", "0")
    page.click(".gh-policy-form button[type=submit]")
    page.wait_for_selector(".gh-rows .gh-field-error")
    screenshot("inline-error")
    page.fill("[name='p.totalTokenLimits.0.count']", "10000")
    page.click(".gh-policy-form button[type=submit]")
    page.wait_for_selector(".gh-limit-item[data-policy=token-based-ratelimit]")
    assert page.locator("[data-tab=ratelimits]").get_attribute("class") == "active"
    screenshot("limit-added")
