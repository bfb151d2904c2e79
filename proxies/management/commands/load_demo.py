"""Load a demo: an admin user, a provider on the local fake upstream, a proxy, a gateway and a
deployment, so the product works offline straight away. Safe to run again.

The admin user's password is "admin", so with DEBUG off (production) it runs only when told
to with --allow-production."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from core.commands import ServiceCommand
from deployments import services as deployment_services
from deployments.selectors import current_deployment
from gateways import services as gateway_services
from gateways.errors import GatewayNotFound
from gateways.models import Gateway
from gateways.selectors import gateway_get
from proxies import services as proxy_services
from proxies.errors import ProviderNotFound, ProxyNotFound, UserNotFound
from proxies.models import APIKeyStatus, Provider, Proxy
from proxies.selectors import api_key_list, provider_get, proxy_get, user_get

DEMO_KEY_NAME = "demo"


class Command(ServiceCommand):
    help = (
        "Create demo data: admin user, demo provider on the local fake upstream, proxy, "
        "gateway, deployment and a demo API key. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--upstream",
            default=os.environ.get("GATEHOUSE_DEMO_UPSTREAM", "http://127.0.0.1:8090/v1"),
        )
        parser.add_argument(
            "--base-url", default=os.environ.get("GATEHOUSE_DEMO_BASE_URL", "http://127.0.0.1:8000")
        )
        parser.add_argument("--no-key", action="store_true", help="Do not create the demo API key.")
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run even with DEBUG off, creating the superuser admin / admin.",
        )

    def run(
        self,
        *args,
        upstream: str,
        base_url: str,
        no_key: bool,
        allow_production: bool,
        **options,
    ) -> None:
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "load_demo creates the superuser admin / admin, so it runs only with DEBUG on; "
                "pass --allow-production to run it anyway."
            )
        self._ensure_admin()
        provider = self._ensure_provider(upstream)
        proxy = self._ensure_proxy(provider)
        gateway = self._ensure_gateway(base_url)
        if current_deployment(proxy=proxy, gateway=gateway) is None:
            deployment_services.deploy(proxy=proxy, gateway=gateway, reason="demo")
        invoke_url = f"{gateway.invoke_base}/{proxy.slug}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: proxy '{proxy.slug}' deployed on gateway '{gateway.slug}' "
                f"({invoke_url})."
            )
        )
        if not no_key:
            self._ensure_key(proxy, invoke_url)

    def _ensure_admin(self) -> None:
        try:
            user_get("admin")
        except UserNotFound:
            get_user_model().objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("Created superuser admin / admin (change the password).")

    def _ensure_provider(self, upstream: str) -> Provider:
        try:
            return provider_get("demo-provider")
        except ProviderNotFound:
            return proxy_services.provider_create(
                name="Demo Provider",
                template="openai-compatible",
                upstream_url=upstream,
                credential="sk-demo-upstream",
            )

    def _ensure_proxy(self, provider: Provider) -> Proxy:
        try:
            return proxy_get("demo-chat")
        except ProxyNotFound:
            return proxy_services.proxy_create(name="Demo Chat", provider=provider)

    def _ensure_gateway(self, base_url: str) -> Gateway:
        slug = settings.GATEHOUSE_DEFAULT_GATEWAY
        try:
            return gateway_get(slug)
        except GatewayNotFound:
            return gateway_services.gateway_create(
                name=slug, base_url=base_url, description="The all-in-one server's gateway."
            )

    def _ensure_key(self, proxy: Proxy, invoke_url: str) -> None:
        """One active key named "demo"; its secret can be printed only when it is created."""
        keys = api_key_list(proxy=proxy).filter(name=DEMO_KEY_NAME, status=APIKeyStatus.ACTIVE)
        if keys.exists():
            self.stdout.write(
                f"Demo API key '{DEMO_KEY_NAME}' exists ({keys.first().masked}); it was shown "
                "when created. Revoke it and run load_demo again for a new one."
            )
            return
        _, secret = proxy_services.api_key_create(proxy=proxy, name=DEMO_KEY_NAME)
        self.stdout.write(f"Demo API key (shown once, store it now): {secret}")
        self.stdout.write(
            f'Try: curl {invoke_url}/chat/completions -H "Authorization: Bearer {secret}" '
            '-H "Content-Type: application/json" '
            '-d \'{"model": "demo", "messages": [{"role": "user", "content": "Hello"}]}\''
        )
