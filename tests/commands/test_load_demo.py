import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from deployments.models import Deployment, DeploymentStatus
from gateways.models import Gateway
from proxies import crypto
from proxies.models import APIKey, Provider, Proxy

KEY_LINE = re.compile(r"^Demo API key \(shown once, store it now\): (\S+)$", re.MULTILINE)


@pytest.fixture(autouse=True)
def development(settings):
    """The demo is for development (``dev.py up`` runs it with DEBUG on)."""
    settings.DEBUG = True


def test_creates_the_demo_objects(manage):
    manage("load_demo")
    provider = Provider.objects.get(slug="demo-provider")
    assert (provider.name, provider.template.slug, provider.upstream_url) == (
        "Demo Provider",
        "openai-compatible",
        "http://127.0.0.1:8090/v1",
    )


def test_admin_superuser_can_log_in_with_the_demo_password(manage):
    manage("load_demo")
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("admin")


def test_proxy_is_deployed_on_the_default_gateway(manage):
    manage("load_demo")
    deployment = Deployment.objects.get()
    assert (deployment.proxy.slug, deployment.gateway.slug, deployment.status) == (
        "demo-chat",
        settings.GATEHOUSE_DEFAULT_GATEWAY,
        DeploymentStatus.DEPLOYED,
    )


def test_gateway_uses_the_local_base_url(manage):
    manage("load_demo")
    gateway = Gateway.objects.get(slug=settings.GATEHOUSE_DEFAULT_GATEWAY)
    assert gateway.base_url == "http://127.0.0.1:8000"


def test_prints_a_demo_key_stored_only_as_its_hash(manage):
    out, _ = manage("load_demo")
    printed = KEY_LINE.search(out).group(1)
    key = APIKey.objects.get(name="demo")
    assert key.key_hash == crypto.hash_secret(printed) and key.proxy.slug == "demo-chat"


def test_running_again_creates_nothing_new(manage):
    manage("load_demo")
    counts = [m.objects.count() for m in (Provider, Proxy, Gateway, Deployment, APIKey)]
    manage("load_demo")
    assert [m.objects.count() for m in (Provider, Proxy, Gateway, Deployment, APIKey)] == counts


def test_running_again_does_not_print_a_key(manage):
    manage("load_demo")
    out, _ = manage("load_demo")
    assert KEY_LINE.search(out) is None and "exists" in out


def test_no_key_option_skips_the_demo_key(manage):
    manage("load_demo", "--no-key")
    assert not APIKey.objects.exists()


def test_refuses_to_run_with_debug_off(manage, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--allow-production"):
        manage("load_demo")


def test_creates_no_user_when_it_refuses(manage, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        manage("load_demo")
    assert not get_user_model().objects.exists()


def test_allow_production_runs_it_with_debug_off(manage, settings):
    settings.DEBUG = False
    manage("load_demo", "--allow-production", "--no-key")
    assert Provider.objects.filter(slug="demo-provider").exists()
