"""factory-boy factories for every model; they go through the services where rules matter."""

import factory
from django.contrib.auth import get_user_model

from deployments import services as deployment_services
from gateways import services as gateway_services
from guardrails import services as guardrail_services
from proxies import services as proxy_services
from proxies.models import ProviderTemplate


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pass-word-123")


class ProviderFactory(factory.Factory):
    """Builds providers through ``provider_create`` so slugs and encryption are real."""

    class Meta:
        model = dict

    name = factory.Sequence(lambda n: f"Provider {n}")
    template = "openai-compatible"
    upstream_url = "http://127.0.0.1:9/v1"
    credential = "sk-upstream-secret"

    @classmethod
    def _create(cls, model_class, **kwargs):
        return proxy_services.provider_create(**kwargs)

    _build = _create


class ProxyFactory(factory.Factory):
    class Meta:
        model = dict

    name = factory.Sequence(lambda n: f"Proxy {n}")
    provider = factory.LazyFunction(lambda: ProviderFactory())

    @classmethod
    def _create(cls, model_class, **kwargs):
        return proxy_services.proxy_create(**kwargs)

    _build = _create


class GatewayFactory(factory.Factory):
    class Meta:
        model = dict

    name = factory.Sequence(lambda n: f"Gateway {n}")
    base_url = "http://127.0.0.1:8080"

    @classmethod
    def _create(cls, model_class, **kwargs):
        return gateway_services.gateway_create(**kwargs)

    _build = _create


class GuardrailFactory(factory.Factory):
    class Meta:
        model = dict

    proxy = factory.LazyFunction(lambda: ProxyFactory())
    policy = "word-count-guardrail"
    params = factory.LazyFunction(lambda: {"request": {"min": 0, "max": 100}})

    @classmethod
    def _create(cls, model_class, **kwargs):
        return guardrail_services.attachment_create(**kwargs)

    _build = _create


class DeploymentFactory(factory.Factory):
    class Meta:
        model = dict

    proxy = factory.LazyFunction(lambda: ProxyFactory())
    gateway = factory.LazyFunction(lambda: GatewayFactory())

    @classmethod
    def _create(cls, model_class, **kwargs):
        return deployment_services.deploy(**kwargs)

    _build = _create


def api_key(proxy, name: str = "test key", **kwargs):
    """Create a key; returns ``(APIKey, secret)``."""
    return proxy_services.api_key_create(proxy=proxy, name=name, **kwargs)


def template(slug: str) -> ProviderTemplate:
    return ProviderTemplate.objects.get(slug=slug)
