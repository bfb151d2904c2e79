"""The benchmark's database: a fresh one per run, set up through the services, and the usage
records the gateway wrote into it."""

import os
import secrets

from cryptography.fernet import Fernet
from host import BenchFailed

GATEWAY_SLUG = "bench"
PROXY_SLUG = "bench-chat"
# The proxies each target calls, all on the same gateway worker: on the same provider, no
# guardrails, three content guardrails, or a request limit and a token limit; on an AWS
# Bedrock provider signing with static keys, none; a provider failover to a second provider
# on the same upstream, from the bench provider (nothing fails) or from one whose every
# call answers 503 (the bench upstream fails paths under /down/).
PROXIES = {
    "gateway": "Bench Chat",
    "guarded": "Bench Guarded",
    "limited": "Bench Limited",
    "bedrock": "Bench Bedrock",
    "routed": "Bench Routed",
    "storm": "Bench Storm",
}
# AWS's documented example keys: the bench upstream does not check the signature.
BEDROCK_KEYS = {
    "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "region": "us-east-1",
}
# Generous on purpose: the runs measure the cost of checking, so nothing may be rejected.
GUARDRAILS = (
    ("word-count-guardrail", {"request": {"max": 10_000}}),
    ("regex-guardrail", {"request": {"regex": "(?i)ignore previous instructions", "invert": True}}),
    ("pii-masking-regex", {"email": True, "phone": True}),
)
LIMITS = (
    ("basic-ratelimit", {"limits": [{"requests": 1_000_000_000, "unit": "hour"}]}),
    ("token-based-ratelimit", {"totalTokenLimits": [{"count": 10**12, "unit": "hour"}]}),
)


def use_bench_environment() -> None:
    """Give this process, and the processes it starts, what production settings (DEBUG off)
    need: keys of their own for the run's fresh database, and the bench upstream's loopback
    address allowed as an upstream."""
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("GATEHOUSE_ENCRYPTION_KEY", Fernet.generate_key().decode())
    os.environ.setdefault("GATEHOUSE_ALLOWED_PRIVATE_NETWORKS", "127.0.0.0/8")


def setup_database(
    *, upstream_port: int, gateway_port: int, targets: list[str]
) -> dict[str, tuple[str, str]]:
    """Migrate the fresh database and create what the gateway serves; returns each target's
    proxy slug and API key."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from deployments import services as deployment_services
    from gateways import services as gateway_services
    from guardrails import services as guardrail_services
    from proxies import services as proxy_services

    call_command("migrate", verbosity=0, interactive=False)
    provider = proxy_services.provider_create(
        name="Bench Upstream",
        template="openai-compatible",
        upstream_url=f"http://127.0.0.1:{upstream_port}/v1",
        credential="sk-bench-upstream",
    )
    gateway = gateway_services.gateway_create(
        name="Bench", base_url=f"http://127.0.0.1:{gateway_port}"
    )
    providers = {"gateway": provider, "guarded": provider, "limited": provider}
    if "bedrock" in targets:
        providers["bedrock"] = proxy_services.provider_create(
            name="Bench Bedrock",
            template="aws-bedrock",
            upstream_url=f"http://127.0.0.1:{upstream_port}",
            credential=BEDROCK_KEYS,
        )
    attached = {"guarded": GUARDRAILS, "limited": LIMITS}
    if "routed" in targets or "storm" in targets:
        fallback = proxy_services.provider_create(
            name="Bench Fallback",
            template="openai-compatible",
            upstream_url=f"http://127.0.0.1:{upstream_port}/v1",
            credential="sk-bench-fallback",
        )
        providers["routed"] = provider
        providers["storm"] = proxy_services.provider_create(
            name="Bench Down",
            template="openai-compatible",
            upstream_url=f"http://127.0.0.1:{upstream_port}/down/v1",
            credential="sk-bench-down",
        )
        failover = (("provider-failover", {"targets": [{"provider": fallback.slug}]}),)
        attached |= {"routed": failover, "storm": failover}
    keys = {}
    for target in [t for t in PROXIES if t in targets or t == "gateway"]:
        proxy = proxy_services.proxy_create(name=PROXIES[target], provider=providers[target])
        for policy, params in attached.get(target, ()):
            guardrail_services.attachment_create(policy=policy, params=params, proxy=proxy)
        deployment_services.deploy(proxy=proxy, gateway=gateway, reason="benchmark")
        keys[target] = (proxy.slug, proxy_services.api_key_create(proxy=proxy, name="bench")[1])
        if target == "gateway" and proxy.slug != PROXY_SLUG:
            raise BenchFailed(f"Unexpected proxy identifier {proxy.slug!r}.")
    if gateway.slug != GATEWAY_SLUG:
        raise BenchFailed(f"Unexpected gateway identifier {gateway.slug!r}.")
    connections.close_all()
    return keys


def usage_count() -> int:
    from django.db import connections

    from gateways.models import UsageRecord

    try:
        return UsageRecord.objects.count()
    finally:
        connections.close_all()


def usage_summary() -> tuple[int, dict[str, int]]:
    """How many usage records exist, split by outcome and kind, and how many carry tokens."""
    from django.db import connections
    from django.db.models import Count, Q

    from gateways.models import UsageRecord

    total = UsageRecord.objects.count()
    split = {
        f"{row['proxy']}/{row['outcome']}/{'stream' if row['streamed'] else 'plain'}/"
        f"{row['status_code']}": row["n"]
        for row in UsageRecord.objects.values("proxy", "outcome", "streamed", "status_code")
        .annotate(n=Count("id"))
        .order_by("proxy", "outcome", "streamed", "status_code")
    }
    split["with_tokens"] = UsageRecord.objects.filter(~Q(total_tokens=None)).count()
    split["rejected_429"] = UsageRecord.objects.filter(status_code=429).count()
    connections.close_all()
    return total, split
