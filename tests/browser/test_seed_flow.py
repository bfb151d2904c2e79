"""The seed flow of SPEC §1 in a real browser: register a provider, create a proxy, attach a
guardrail through the side panel, deploy it to a running gateway, generate a key, call the
invoke URL with the OpenAI SDK, see the call on Insights, stop the deployment and see 404."""

import openai
import pytest
from django.contrib.auth import get_user_model

from gateways import services as gateway_services
from proxies.models import ProviderTemplate
from tests.gateway.conftest import wait_for_revision, wait_until

pytestmark = pytest.mark.browser

MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def admin_login(transactional_db):
    get_user_model().objects.create_superuser("admin", "admin@example.com", "correct horse")
    return "admin", "correct horse"


@pytest.fixture
def running_gateway(transactional_db, start_gateway):
    """A gateway whose process is running; its base URL is where that process listens."""
    gateway = gateway_services.gateway_create(name="edge", base_url="http://127.0.0.1:9")
    server = start_gateway(gateway.slug)
    gateway = gateway_services.gateway_update(gateway=gateway, base_url=server.url)
    yield gateway, server
    server.stop()


def chat(invoke_url: str, key: str) -> str:
    client = openai.OpenAI(base_url=invoke_url, api_key=key, max_retries=0, timeout=10)
    completion = client.chat.completions.create(model="fake-model", messages=MESSAGES)
    return completion.choices[0].message.content


def answers_404(invoke_url: str, key: str) -> bool:
    try:
        chat(invoke_url, key)
    except openai.NotFoundError:
        return True
    return False


def test_seed_flow_from_provider_to_stopped_deployment(
    page, screenshot, live_server, admin_login, running_gateway, fake_upstream
):
    gateway, server = running_gateway
    admin = f"{live_server.url}/admin"
    page.on("dialog", lambda dialog: dialog.accept())

    # Sign in.
    page.goto(f"{admin}/login/")
    page.fill("#id_username", admin_login[0])
    page.fill("#id_password", admin_login[1])
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")

    # 1. Register a provider from the OpenAI-compatible template, pointing at the fake upstream.
    page.goto(f"{admin}/proxies/provider/add/")
    template = ProviderTemplate.objects.get(slug="openai-compatible")
    page.select_option("#id_template", value=str(template.pk))
    page.fill("#id_name", "Local LLM")
    page.fill("#id_upstream_url", f"{fake_upstream.url}/v1")
    page.fill("#id_credential", "sk-upstream-secret")
    screenshot("provider-form")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    screenshot("provider-created")

    # 2. Create a proxy; the Proxy ID is previewed as the name is typed.
    page.goto(f"{admin}/proxies/proxy/add/")
    page.fill("#id_name", "Support Bot")
    assert page.text_content(".gh-id-preview code") == "support-bot"
    assert page.locator("#id_provider option:checked").text_content() == "Local LLM"
    screenshot("proxy-form")
    page.click("input[name=_save]")
    page.wait_for_selector(".gh-header")
    screenshot("proxy-created")

    # 3. Attach a guardrail through the side panel; a missing setting is an inline error.
    page.click("[data-tab=guardrails]")
    page.click("#gh-add-guardrail")
    page.click("[data-policy=word-count-guardrail]")
    page.click(".gh-policy-form button[type=submit]")
    page.wait_for_selector(".gh-field-error")
    screenshot("guardrail-inline-error")
    page.fill("[name='p.request.max']", "100")
    page.click(".gh-policy-form button[type=submit]")
    page.wait_for_selector(".gh-chain-item[data-policy=word-count-guardrail]")
    screenshot("guardrail-attached")

    # 4. Deploy to the running gateway.
    page.click("#gh-deploy-button")
    card = page.locator(f".gh-gateway-card[data-gateway={gateway.slug}]")
    assert card.locator("h3 .gh-tag").text_content() == "Active"
    card.locator("button", has_text="Deploy").click()
    page.wait_for_selector(".messagelist .success")
    screenshot("deployed")
    page.click("#gh-back-to-proxy")

    # 5. Generate an API key: shown once in a dialog.
    page.click("#gh-generate-key")
    page.fill("#gh-key-dialog #id_name", "browser test key")
    page.click("#gh-key-dialog button[type=submit]")
    page.wait_for_selector("[data-key-step=done]:not([hidden])")
    key = page.input_value("#gh-new-key")
    screenshot("key-generated")
    page.click("[data-key-step=done] [data-dialog-close]")
    page.wait_for_selector(".gh-keys")
    assert key not in page.content()
    invoke_url = page.input_value("#gh-invoke-url")
    assert invoke_url == f"{server.url}/support-bot"

    # 6. Call the invoke URL with the provider's own SDK.
    wait_for_revision(server, timeout=10)
    assert chat(invoke_url, key) == "echo: Hello"

    # 7. The call shows on Insights (records are written in batches: reload until it is there).
    def insights_count() -> bool:
        page.goto(f"{admin}/gateways/usagerecord/insights/?proxy=support-bot&range=1h")
        return page.text_content("#gh-total-requests").strip() == "1"

    wait_until(insights_count, timeout=20, interval=0.5)
    screenshot("insights")

    # 8. Stop the deployment (with confirmation); the invoke URL answers 404.
    page.goto(f"{admin}/proxies/proxy/")
    page.click("text=Support Bot")
    page.click("#gh-deploy-button")
    card = page.locator(f".gh-gateway-card[data-gateway={gateway.slug}]")
    card.locator("summary").click()
    screenshot("deployment-details")
    card.locator("button", has_text="Stop").click()
    page.wait_for_selector(".messagelist .success")
    screenshot("stopped")
    wait_until(lambda: answers_404(invoke_url, key), timeout=10, interval=0.2)
