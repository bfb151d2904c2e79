import pytest

from deployments.snapshot import build_proxy_snapshot
from proxies import services as proxy_services
from tests.factories import DeploymentFactory, GuardrailFactory, ProxyFactory


@pytest.mark.django_db
def test_snapshot_holds_proxy_provider_and_guardrail_chains_but_no_secret():
    proxy = ProxyFactory(name="Support Bot", context="/support")
    GuardrailFactory(proxy=proxy)
    snapshot = build_proxy_snapshot(proxy)
    assert snapshot["proxy"]["id"] == "support-bot"
    assert snapshot["proxy"]["context"] == "/support"
    assert snapshot["provider"]["adapter"] == "openai-compatible"
    assert [g["policy"] for g in snapshot["guardrails"]["proxy"]] == ["word-count-guardrail"]
    assert "sk-upstream-secret" not in str(snapshot)


@pytest.mark.django_db
def test_deployed_snapshot_is_unchanged_after_edits_and_reads_out_of_date():
    from deployments.selectors import is_out_of_date

    deployment = DeploymentFactory()
    before = dict(deployment.snapshot)
    assert not is_out_of_date(deployment)
    proxy_services.proxy_update(proxy=deployment.proxy, context="/changed")
    deployment.refresh_from_db()
    assert deployment.snapshot == before
    assert is_out_of_date(deployment)
