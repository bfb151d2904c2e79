"""Deployments: deploy, stop, restore and history under a proxy, plus a flat read-only list."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import error_responses
from core.api.viewsets import PROXY_PARAMETER, ProxyChildMixin, ServiceViewSet
from deployments import services
from deployments.api.serializers import (
    DeploymentDetailSerializer,
    DeploymentSerializer,
    RestoreSerializer,
)
from deployments.errors import DeploymentNotFound
from deployments.models import Deployment, DeploymentStatus
from deployments.selectors import deployments_for, latest_ids

DETAIL_ERRORS = error_responses(401, 403, 404)


def latest_per_pair(deployments: Iterable[Deployment]) -> set:
    """IDs of the newest deployment per (proxy, gateway) among the given ones' proxies."""
    proxy_ids = {d.proxy_id for d in deployments}
    history = Deployment.objects.filter(proxy_id__in=proxy_ids).only(
        "id", "proxy_id", "gateway_id", "created_at"
    )
    by_proxy = defaultdict(list)
    for row in history:
        by_proxy[row.proxy_id].append(row)
    return set().union(*(latest_ids(rows) for rows in by_proxy.values()))


class DeploymentFilter(filters.FilterSet):
    proxy = filters.CharFilter(field_name="proxy__slug", help_text="Proxy ID")
    gateway = filters.CharFilter(field_name="gateway__slug", help_text="Gateway ID")
    status = filters.ChoiceFilter(choices=DeploymentStatus.choices)

    class Meta:
        model = Deployment
        fields = ["proxy", "gateway", "status"]


class ProxyDeploymentFilter(DeploymentFilter):
    class Meta:
        model = Deployment
        fields = ["gateway", "status"]


class DeploymentListMixin:
    """History rows need the Latest tag, which depends on the rest of the history."""

    def list(self, request: Request, *args, **kwargs) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(queryset) if page is None else page
        data = self.render(rows, many=True)
        return Response(data) if page is None else self.get_paginated_response(data)

    def render(self, deployments, *, many: bool = False):
        rows = deployments if many else [deployments]
        context = {**self.get_serializer_context(), "latest_ids": latest_per_pair(rows)}
        return self.get_serializer_class()(deployments, many=many, context=context).data

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return Response(self.render(self.get_object()))


@extend_schema(tags=["deployments"])
@extend_schema_view(
    list=extend_schema(summary="List deployments of every proxy"),
    retrieve=extend_schema(
        summary="Get a deployment", responses={200: DeploymentDetailSerializer, **DETAIL_ERRORS}
    ),
)
class DeploymentViewSet(
    DeploymentListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet
):
    """Read-only view across proxies; deploy, stop and restore live under each proxy."""

    not_found = DeploymentNotFound
    filterset_class = DeploymentFilter

    def get_queryset(self) -> QuerySet[Deployment]:
        return deployments_for()

    def get_serializer_class(self):
        return DeploymentSerializer if self.action == "list" else DeploymentDetailSerializer


@extend_schema(tags=["deployments"], parameters=[PROXY_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="A proxy's deployment history, newest first"),
    retrieve=extend_schema(
        summary="Get a deployment with its snapshot",
        responses={200: DeploymentDetailSerializer, **DETAIL_ERRORS},
    ),
)
class ProxyDeploymentViewSet(
    ProxyChildMixin,
    DeploymentListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ServiceViewSet,
):
    """Deploy a proxy to a gateway, stop it, restore an earlier snapshot, read the history."""

    not_found = DeploymentNotFound
    filterset_class = ProxyDeploymentFilter
    action_permissions = {"stop": ["change"], "restore": ["change"]}

    def get_queryset(self) -> QuerySet[Deployment]:
        if not self.has_parent():
            return Deployment.objects.none()
        return deployments_for(proxy=self.proxy)

    def get_serializer_class(self):
        return DeploymentSerializer if self.action == "list" else DeploymentDetailSerializer

    @extend_schema(
        summary="Deploy the proxy to a gateway",
        description="Snapshots the proxy's current configuration; the gateway serves it within "
        "seconds and the previous deployment there is archived.",
        request=DeploymentSerializer,
        responses={201: DeploymentDetailSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def create(self, request: Request, proxy_slug: str) -> Response:
        serializer = DeploymentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deployment = services.deploy(
            proxy=self.proxy, user=request.user, **serializer.validated_data
        )
        return self.created(deployment, self.render(deployment))

    @extend_schema(
        summary="Stop (undeploy)",
        description="The gateway stops serving this proxy. 409 DEPLOYMENT_NOT_ACTIVE if the "
        "deployment is not live.",
        request=None,
        responses={200: DeploymentDetailSerializer, **error_responses(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, proxy_slug: str, pk: str) -> Response:
        deployment = services.stop(deployment=self.get_object(), user=request.user)
        return Response(self.render(deployment))

    @extend_schema(
        summary="Restore an earlier snapshot",
        description="Serves this deployment's snapshot again as a new deployment. 409 "
        "DEPLOYMENT_RESTORE_CONFLICT if it is the one already deployed.",
        request=RestoreSerializer,
        responses={201: DeploymentDetailSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, proxy_slug: str, pk: str) -> Response:
        serializer = RestoreSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deployment = services.restore(
            deployment=self.get_object(), user=request.user, **serializer.validated_data
        )
        return self.created(deployment, self.render(deployment))

    @extend_schema(
        summary="Delete a deployment record",
        description="Refused with 409 DEPLOYMENT_ACTIVE while the deployment is live.",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def destroy(self, request: Request, proxy_slug: str, pk: str) -> Response:
        services.delete_record(deployment=self.get_object())
        return self.deleted()
