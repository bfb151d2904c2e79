"""The benchmark's database: a fresh one per run, set up through the services, and the usage
records the gateway wrote into it."""

from host import BenchFailed

GATEWAY_SLUG = "bench"
PROXY_SLUG = "bench-chat"


def setup_database(*, upstream_port: int, gateway_port: int) -> str:
    """Migrate the fresh database and create what the gateway serves; returns the API key."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from deployments import services as deployment_services
    from gateways import services as gateway_services
    from proxies import services as proxy_services

    call_command("migrate", verbosity=0, interactive=False)
    provider = proxy_services.provider_create(
        name="Bench Upstream",
        template="openai-compatible",
        upstream_url=f"http://127.0.0.1:{upstream_port}/v1",
        credential="sk-bench-upstream",
    )
    proxy = proxy_services.proxy_create(name="Bench Chat", provider=provider)
    gateway = gateway_services.gateway_create(
        name="Bench", base_url=f"http://127.0.0.1:{gateway_port}"
    )
    deployment_services.deploy(proxy=proxy, gateway=gateway, reason="benchmark")
    _, secret = proxy_services.api_key_create(proxy=proxy, name="bench")
    if proxy.slug != PROXY_SLUG or gateway.slug != GATEWAY_SLUG:
        raise BenchFailed(f"Unexpected identifiers {proxy.slug!r} / {gateway.slug!r}.")
    connections.close_all()
    return secret


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
        f"{row['outcome']}/{'stream' if row['streamed'] else 'plain'}/{row['status_code']}": row[
            "n"
        ]
        for row in UsageRecord.objects.values("outcome", "streamed", "status_code")
        .annotate(n=Count("id"))
        .order_by("outcome", "streamed", "status_code")
    }
    split["with_tokens"] = UsageRecord.objects.filter(~Q(total_tokens=None)).count()
    connections.close_all()
    return total, split
