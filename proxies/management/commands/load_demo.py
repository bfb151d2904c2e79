"""Load a demo: an admin user, a provider on the local fake upstream, a proxy, a gateway and a
deployment, so the product works offline straight away. Safe to run again."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from deployments import services as deployment_services
from deployments.selectors import current_deployment
from gateways import services as gateway_services
from gateways.models import Gateway
from proxies import services as proxy_services
from proxies.models import Provider, Proxy


class Command(BaseCommand):
    help = "Create demo data: admin user, demo provider on the local fake upstream, proxy, gateway."

    def add_arguments(self, parser):
        parser.add_argument(
            "--upstream",
            default=os.environ.get("GATEHOUSE_DEMO_UPSTREAM", "http://127.0.0.1:8090/v1"),
        )
        parser.add_argument(
            "--base-url", default=os.environ.get("GATEHOUSE_DEMO_BASE_URL", "http://127.0.0.1:8000")
        )

    def handle(self, *args, upstream, base_url, **options):
        from django.conf import settings

        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("Created superuser admin / admin (change the password).")
        provider = Provider.objects.filter(slug="demo-provider").first()
        if provider is None:
            provider = proxy_services.provider_create(
                name="Demo Provider",
                template="openai-compatible",
                upstream_url=upstream,
                credential="sk-demo-upstream",
            )
        proxy = Proxy.objects.filter(slug="demo-chat").first() or proxy_services.proxy_create(
            name="Demo Chat", provider=provider
        )
        slug = settings.GATEHOUSE_DEFAULT_GATEWAY
        gateway = Gateway.objects.filter(slug=slug).first() or gateway_services.gateway_create(
            name=slug, base_url=base_url, description="The all-in-one server's gateway."
        )
        if current_deployment(proxy=proxy, gateway=gateway) is None:
            deployment_services.deploy(proxy=proxy, gateway=gateway, reason="demo")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: proxy '{proxy.slug}' deployed on gateway '{gateway.slug}' "
                f"({gateway.invoke_base}/{proxy.slug})."
            )
        )
