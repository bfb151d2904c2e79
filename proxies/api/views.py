"""Provider templates, providers, proxies and a proxy's API keys."""

from django.db.models import Prefetch, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.errors import error_responses
from core.api.viewsets import PROXY_PARAMETER, ProxyChildMixin, ServiceViewSet
from deployments.models import CURRENT_STATUSES, Deployment
from deployments.selectors import proxy_routing_state
from proxies import services
from proxies.api.serializers import (
    APIKeyCreatedSerializer,
    APIKeySerializer,
    ProviderSerializer,
    ProxySerializer,
    RoutingStateSerializer,
    TemplateSerializer,
)
from proxies.errors import APIKeyNotFound, ProviderNotFound, ProxyNotFound, TemplateNotFound
from proxies.models import APIKey, Provider, ProviderTemplate, Proxy
from proxies.selectors import api_key_list, proxy_list

READ_ERRORS = error_responses(401, 403, 404)


@extend_schema(tags=["templates"])
@extend_schema_view(
    list=extend_schema(summary="List provider templates"),
    retrieve=extend_schema(summary="Get a provider template", responses={200: TemplateSerializer}),
)
class TemplateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """Built-in templates are read-only; custom ones can be created, edited and deleted."""

    serializer_class = TemplateSerializer
    lookup_field = "slug"
    not_found = TemplateNotFound
    queryset = ProviderTemplate.objects.all()

    @extend_schema(
        summary="Create a custom template",
        responses={201: TemplateSerializer, **error_responses(400, 401, 403, 409)},
    )
    def create(self, request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.template_create(**serializer.validated_data)
        return self.created(template, self.get_serializer(template).data)

    @extend_schema(
        summary="Change a custom template",
        responses={200: TemplateSerializer, **error_responses(400, 401, 403, 404)},
    )
    def partial_update(self, request, slug: str) -> Response:
        template = self.get_object()
        serializer = self.get_serializer(template, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        template = services.template_update(template=template, **serializer.validated_data)
        return Response(self.get_serializer(template).data)

    @extend_schema(
        summary="Delete a custom template", responses={204: None, **error_responses(403, 404, 409)}
    )
    def destroy(self, request, slug: str) -> Response:
        services.template_delete(template=self.get_object())
        return self.deleted()


class ProviderFilter(filters.FilterSet):
    template = filters.CharFilter(field_name="template__slug", help_text="Template ID")

    class Meta:
        model = Provider
        fields = ["template"]


@extend_schema(tags=["providers"])
@extend_schema_view(
    list=extend_schema(summary="List providers"),
    retrieve=extend_schema(
        summary="Get a provider", responses={200: ProviderSerializer, **READ_ERRORS}
    ),
)
class ProviderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """Registered LLM providers. The upstream credential can be set but never read back."""

    serializer_class = ProviderSerializer
    lookup_field = "slug"
    not_found = ProviderNotFound
    filterset_class = ProviderFilter

    def get_queryset(self) -> QuerySet[Provider]:
        return Provider.objects.select_related("template")

    @extend_schema(
        summary="Register a provider",
        responses={201: ProviderSerializer, **error_responses(400, 401, 403, 409)},
    )
    def create(self, request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        provider = services.provider_create(**serializer.validated_data)
        return self.created(provider, self.get_serializer(provider).data)

    @extend_schema(
        summary="Change a provider",
        description="A new `credential` takes effect on gateways without a redeploy; other "
        "changes reach gateways when the proxies using this provider are redeployed.",
        responses={200: ProviderSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request, slug: str) -> Response:
        provider = self.get_object()
        serializer = self.get_serializer(provider, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        fields.pop("template", None)  # validated unchanged by the serializer
        provider = services.provider_update(provider=provider, **fields)
        return Response(self.get_serializer(provider).data)

    @extend_schema(
        summary="Delete a provider",
        description="Refused with 409 PROVIDER_IN_USE while proxies use it.",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def destroy(self, request, slug: str) -> Response:
        services.provider_delete(provider=self.get_object())
        return self.deleted()


class ProxyFilter(filters.FilterSet):
    provider = filters.CharFilter(field_name="provider__slug", help_text="Provider ID")

    class Meta:
        model = Proxy
        fields = ["provider"]


@extend_schema(tags=["proxies"])
@extend_schema_view(
    list=extend_schema(summary="List proxies"),
    retrieve=extend_schema(summary="Get a proxy", responses={200: ProxySerializer, **READ_ERRORS}),
)
class ProxyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """Proxies: governed endpoints on a provider, served once deployed to a gateway."""

    serializer_class = ProxySerializer
    lookup_field = "slug"
    not_found = ProxyNotFound
    filterset_class = ProxyFilter

    def get_queryset(self) -> QuerySet[Proxy]:
        live = (
            Deployment.objects.filter(status__in=CURRENT_STATUSES)
            .select_related("gateway")
            .order_by("gateway__name")
        )
        return proxy_list().prefetch_related(
            Prefetch("deployments", queryset=live, to_attr="current_deployments")
        )

    @extend_schema(
        summary="Create a proxy",
        description="The Proxy ID is generated from the name. Defaults: provider = the most "
        "recently updated one, version `v1.0`, context `/`.",
        responses={201: ProxySerializer, **error_responses(400, 401, 403, 409)},
    )
    def create(self, request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proxy = services.proxy_create(**serializer.validated_data)
        return self.created(proxy, self.get_serializer(proxy).data)

    @extend_schema(
        summary="Change a proxy",
        description="The Proxy ID never changes. Gateways keep serving the deployed snapshot "
        "until the proxy is redeployed.",
        responses={200: ProxySerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request, slug: str) -> Response:
        proxy = self.get_object()
        serializer = self.get_serializer(proxy, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        proxy = services.proxy_update(proxy=proxy, **serializer.validated_data)
        return Response(self.get_serializer(proxy).data)

    @extend_schema(
        summary="Delete a proxy",
        description="Also deletes its API keys and deployments; gateways stop serving it.",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def destroy(self, request, slug: str) -> Response:
        services.proxy_delete(proxy=self.get_object())
        return self.deleted()

    @extend_schema(
        summary="Routing state of a proxy",
        description="Every upstream the proxy's current deployments may call (its provider, "
        "its failover targets, its round robin's models), with the state of its circuit as "
        "the gateways' active processes report it at their heartbeats: the worst wins.",
        responses={200: RoutingStateSerializer, **READ_ERRORS},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def routing(self, request, slug: str) -> Response:
        return Response(RoutingStateSerializer(proxy_routing_state(self.get_object())).data)


@extend_schema(tags=["api keys"], parameters=[PROXY_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="List a proxy's API keys"),
    retrieve=extend_schema(
        summary="Get an API key (masked)", responses={200: APIKeySerializer, **READ_ERRORS}
    ),
)
class ProxyAPIKeyViewSet(
    ProxyChildMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet
):
    """A proxy's API keys. The secret is returned once, by create; lists show the masked form."""

    serializer_class = APIKeySerializer
    not_found = APIKeyNotFound

    def get_queryset(self) -> QuerySet[APIKey]:
        if not self.has_parent():
            return APIKey.objects.none()
        return api_key_list(proxy=self.proxy)

    @extend_schema(
        summary="Create an API key",
        description="The response's `key` is the secret: it is shown this once and never again.",
        request=APIKeySerializer,
        responses={201: APIKeyCreatedSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def create(self, request, proxy_slug: str) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = services.api_key_create(
            proxy=self.proxy, user=request.user, **serializer.validated_data
        )
        return self.created(key, APIKeyCreatedSerializer(key, context={"secret": secret}).data)

    @extend_schema(
        summary="Revoke an API key",
        description="Gateways reject the key within a second. Revoking twice is a 409.",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def destroy(self, request, proxy_slug: str, pk: str) -> Response:
        services.api_key_revoke(api_key=self.get_object())
        return self.deleted()
