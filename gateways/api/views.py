"""Gateways and their registration tokens."""

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import error_responses
from core.api.viewsets import ServiceViewSet
from gateways import services
from gateways.api.serializers import (
    GatewaySerializer,
    GatewayTokenCreatedSerializer,
    GatewayTokenSerializer,
)
from gateways.errors import GatewayNotFound, GatewayTokenNotFound
from gateways.models import Gateway, GatewayToken
from gateways.selectors import gateway_get, gateways_with_status

READ_ERRORS = error_responses(401, 403, 404)


class GatewayFilter(filters.FilterSet):
    environment = filters.CharFilter()

    class Meta:
        model = Gateway
        fields = ["environment"]


@extend_schema(tags=["gateways"])
@extend_schema_view(
    list=extend_schema(summary="List gateways"),
    retrieve=extend_schema(
        summary="Get a gateway", responses={200: GatewaySerializer, **READ_ERRORS}
    ),
)
class GatewayViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    serializer_class = GatewaySerializer
    lookup_field = "slug"
    not_found = GatewayNotFound
    filterset_class = GatewayFilter

    def get_queryset(self) -> QuerySet[Gateway]:
        return gateways_with_status()

    @extend_schema(
        summary="Register a gateway",
        description="It reads Not Active until a gateway process serving it sends a heartbeat.",
        responses={201: GatewaySerializer, **error_responses(400, 401, 403, 409)},
    )
    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        gateway = services.gateway_create(**serializer.validated_data)
        return self.created(gateway, self.get_serializer(gateway).data)

    @extend_schema(
        summary="Change a gateway",
        responses={200: GatewaySerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, slug: str) -> Response:
        gateway = self.get_object()
        serializer = self.get_serializer(gateway, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        gateway = services.gateway_update(gateway=gateway, **serializer.validated_data)
        return Response(self.get_serializer(gateway).data)

    @extend_schema(
        summary="Delete a gateway",
        description="Refused with 409 GATEWAY_HAS_ACTIVE_DEPLOYMENTS until its deployments "
        "are stopped.",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def destroy(self, request: Request, slug: str) -> Response:
        services.gateway_delete(gateway=self.get_object())
        return self.deleted()


@extend_schema(
    tags=["gateways"],
    parameters=[
        OpenApiParameter("gateway_slug", str, OpenApiParameter.PATH, description="Gateway ID")
    ],
)
@extend_schema_view(
    list=extend_schema(summary="List a gateway's registration tokens"),
    retrieve=extend_schema(
        summary="Get a registration token (masked)",
        responses={200: GatewayTokenSerializer, **READ_ERRORS},
    ),
)
class GatewayTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """Registration tokens gateway processes present; at most two active per gateway."""

    serializer_class = GatewayTokenSerializer
    not_found = GatewayTokenNotFound
    gateway: Gateway

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self.gateway = gateway_get(self.kwargs["gateway_slug"])

    def get_queryset(self) -> QuerySet[GatewayToken]:
        if not hasattr(self, "gateway"):
            return GatewayToken.objects.none()
        return self.gateway.tokens.all()

    @extend_schema(
        summary="Issue a registration token",
        description="The response's `token` is shown this once. A gateway may have at most two "
        "active tokens (409 GATEWAY_TOKEN_LIMIT_REACHED).",
        request=None,
        responses={201: GatewayTokenCreatedSerializer, **error_responses(401, 403, 404, 409)},
    )
    def create(self, request: Request, gateway_slug: str) -> Response:
        token, secret = services.gateway_token_create(gateway=self.gateway)
        data = GatewayTokenCreatedSerializer(token, context={"secret": secret}).data
        return self.created(token, data)

    @extend_schema(
        summary="Revoke a registration token",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def destroy(self, request: Request, gateway_slug: str, pk: str) -> Response:
        services.gateway_token_revoke(token=self.get_object())
        return self.deleted()
