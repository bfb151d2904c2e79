"""Gateway management commands: run_gateway, prune_usage and the all-in-one run_all."""

import os
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from gateways.models import UsageRecord
from tests.gateway.conftest import DEADLINE, ROOT, free_port, wait_until


def test_run_gateway_refuses_an_unknown_gateway(db):
    with pytest.raises(CommandError, match="nowhere"):
        call_command("run_gateway", "nowhere", "--port", "0")


def usage(created_at):
    return UsageRecord.objects.create(
        created_at=created_at,
        gateway="g",
        proxy="p",
        method="POST",
        status_code=200,
        outcome="ok",
        latency_ms=1.0,
    )


def test_prune_usage_deletes_only_records_older_than_the_cutoff(db):
    old = usage(timezone.now() - timedelta(days=40))
    recent = usage(timezone.now() - timedelta(days=2))
    call_command("prune_usage", "--older-than-days", "30")
    assert list(UsageRecord.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not UsageRecord.objects.filter(pk=old.pk).exists()


def test_run_all_serves_the_admin_and_the_default_gateway(committed, database_url):
    from django.conf import settings

    from deployments.services import deploy
    from tests.factories import GatewayFactory, api_key
    from tests.gateway.conftest import make_openai_proxy

    upstream_port, port = free_port(), free_port()
    gateway = GatewayFactory(name=settings.GATEHOUSE_DEFAULT_GATEWAY)
    proxy = make_openai_proxy(f"http://127.0.0.1:{upstream_port}", "all in one")
    deploy(proxy=proxy, gateway=gateway)
    _, key = api_key(proxy)
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_all",
            "--port",
            str(port),
            "--fake-upstream-port",
            str(upstream_port),
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def get(path):
        try:
            return httpx.get(f"{base}{path}", timeout=2)
        except httpx.HTTPError:
            return None

    try:
        admin = wait_until(lambda: get("/admin/login/"), timeout=DEADLINE)
        invoke = httpx.post(
            f"{base}/{proxy.slug}/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        )
    finally:
        process.terminate()
        process.wait(timeout=DEADLINE)
    assert admin.status_code == 200
    assert invoke.status_code == 200
    assert invoke.json()["choices"][0]["message"]["content"] == "echo: hi"
