"""The policy catalog, the guardrail chains of proxies and providers, and the pricing table
cost limits use."""

import uuid

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import error_responses
from core.api.viewsets import PROXY_PARAMETER, ProxyChildMixin, ServiceViewSet
from core.errors import NotFound, ValidationFailed
from guardrails import services
from guardrails.api.serializers import (
    GuardrailSerializer,
    GuardrailUsageSerializer,
    ModelPriceSerializer,
    PolicySerializer,
    PriceListSerializer,
    PriceRefreshSerializer,
    ReorderSerializer,
)
from guardrails.errors import AttachmentNotFound, PriceNotFound
from guardrails.limits.price_list import SHIPPED, parse_price_rows, shipped_prices
from guardrails.models import GuardrailAttachment, ModelPrice
from guardrails.registry import get_policy
from guardrails.selectors import attachment_limit_usage, attachments_for, catalog, model_prices
from proxies.models import Provider
from proxies.selectors import api_key_get, provider_get

PROVIDER_PARAMETER = OpenApiParameter(
    "provider_slug", str, OpenApiParameter.PATH, description="Provider ID"
)
USAGE_PARAMETERS = [
    OpenApiParameter(
        "key",
        str,
        OpenApiParameter.QUERY,
        required=False,
        description="API key ID: show the per-key counters of this key.",
    ),
    OpenApiParameter(
        "resource",
        str,
        OpenApiParameter.QUERY,
        required=False,
        description="Resource such as 'POST /chat/completions': its per-resource counters.",
    ),
]


@extend_schema(tags=["guardrails"])
class CatalogViewSet(viewsets.GenericViewSet):
    """Every policy that can be attached, with its parameter schema. Any signed-in user may
    read it: it describes the product, not anyone's data."""

    permission_classes = [IsAuthenticated]
    filter_backends = []
    serializer_class = PolicySerializer
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"

    @extend_schema(summary="List the policy catalog")
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(catalog())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Get a policy",
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, description="Policy")],
        responses={200: PolicySerializer, **error_responses(401, 404)},
    )
    def retrieve(self, request: Request, name: str) -> Response:
        policy = get_policy(name)
        if policy is None:
            raise NotFound(f"No policy named '{name}' in the catalog.")
        return Response(self.get_serializer(policy.describe()).data)


class GuardrailChainViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """A proxy's or a provider's ordered guardrail chain. Changes reach gateways on redeploy."""

    serializer_class = GuardrailSerializer
    not_found = AttachmentNotFound
    action_permissions = {"reorder": ["change"]}

    def owner(self) -> dict | None:
        """``{"proxy": proxy}`` or ``{"provider": provider}``; None before the lookup."""
        raise NotImplementedError

    def usage_key(self, value: str) -> str:
        """The API key ID whose per-key counters are asked for, checked against the owner."""
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValidationFailed(
                f"'{value}' is not an API key ID.",
                errors=[{"field": "key", "message": "Give the ID of an API key."}],
            ) from None

    def get_queryset(self) -> QuerySet[GuardrailAttachment]:
        owner = self.owner()
        if owner is None:
            return GuardrailAttachment.objects.none()
        return attachments_for(**owner)

    @extend_schema(
        summary="Attach a guardrail",
        responses={201: GuardrailSerializer, **error_responses(400, 401, 403, 404)},
    )
    def create(self, request: Request, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachment = services.attachment_create(**self.owner(), **serializer.validated_data)
        return self.created(attachment, self.get_serializer(attachment).data)

    @extend_schema(
        summary="Change a guardrail's params, order or enabled flag",
        responses={200: GuardrailSerializer, **error_responses(400, 401, 403, 404)},
    )
    def partial_update(self, request: Request, **kwargs) -> Response:
        attachment = self.get_object()
        serializer = self.get_serializer(attachment, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        attachment = services.attachment_update(attachment=attachment, **serializer.validated_data)
        return Response(self.get_serializer(attachment).data)

    @extend_schema(
        summary="Detach a guardrail", responses={204: None, **error_responses(401, 403, 404)}
    )
    def destroy(self, request: Request, **kwargs) -> Response:
        services.attachment_delete(attachment=self.get_object())
        return self.deleted()

    @extend_schema(
        summary="Current consumption of a rate-limit guardrail",
        description=(
            "Each limit's consumption in its current window and when the window resets, read "
            "from the gateways' shared counter store. Per-key limits count the key given as "
            "`key`; per-resource limits the `resource` given, or their overrides."
        ),
        parameters=USAGE_PARAMETERS,
        responses={200: GuardrailUsageSerializer, **error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["get"])
    def usage(self, request: Request, **kwargs) -> Response:
        attachment = self.get_object()
        policy = get_policy(attachment.policy)
        if policy is None or policy.category != "ratelimit":
            raise NotFound(f"Guardrail {attachment.pk} is not a rate limit; it has no usage.")
        key = request.query_params.get("key") or None
        if key is not None:
            key = self.usage_key(key)
        resource = request.query_params.get("resource") or ""
        counters = attachment_limit_usage(attachment=attachment, key_id=key, resource=resource)
        data = {
            "guardrail": attachment.pk,
            "policy": attachment.policy,
            "key": key,
            "resource": resource,
            "counters": counters,
        }
        return Response(GuardrailUsageSerializer(data).data)

    @extend_schema(
        summary="Reorder the chain",
        request=ReorderSerializer,
        responses={200: GuardrailSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    @action(detail=False, methods=["post"])
    def reorder(self, request: Request, **kwargs) -> Response:
        serializer = ReorderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data["ids"]
        chain = {a.pk: a for a in self.get_queryset()}
        if len(set(ids)) != len(ids) or set(ids) != set(chain):
            raise ValidationFailed(
                "List every guardrail of this chain exactly once.",
                errors=[{"field": "ids", "message": f"Expected each of {sorted(chain)} once."}],
            )
        services.attachments_reorder(attachments=[chain[i] for i in ids])
        return Response(self.get_serializer(self.get_queryset(), many=True).data)


@extend_schema(tags=["guardrails"], parameters=[PROXY_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="List a proxy's guardrails"),
    retrieve=extend_schema(summary="Get one of a proxy's guardrails"),
)
class ProxyGuardrailViewSet(ProxyChildMixin, GuardrailChainViewSet):
    def owner(self) -> dict | None:
        return {"proxy": self.proxy} if self.has_parent() else None

    def usage_key(self, value: str) -> str:
        return str(api_key_get(proxy=self.proxy, key_id=value).pk)


@extend_schema(tags=["guardrails"], parameters=[PROVIDER_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="List a provider's guardrails"),
    retrieve=extend_schema(summary="Get one of a provider's guardrails"),
)
class ProviderGuardrailViewSet(GuardrailChainViewSet):
    """Provider guardrails apply to every proxy on the provider."""

    provider: Provider

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self.provider = provider_get(self.kwargs["provider_slug"])

    def owner(self) -> dict | None:
        return {"provider": self.provider} if hasattr(self, "provider") else None


class ModelPriceFilter(filters.FilterSet):
    vendor = filters.ChoiceFilter(choices=ModelPrice.Vendor.choices)
    builtin = filters.BooleanFilter(help_text="Shipped with Gatehouse (true) or added (false).")

    class Meta:
        model = ModelPrice
        fields = ["vendor", "builtin"]


MODEL_PARAMETER = OpenApiParameter(
    "model",
    str,
    OpenApiParameter.PATH,
    description="Model name as stored, e.g. gpt-4o or meta-llama/llama-3-70b; it may contain "
    "'.' and '/', sent as they are or percent-encoded.",
)


@extend_schema(tags=["prices"])
@extend_schema_view(
    list=extend_schema(summary="List model prices"),
    retrieve=extend_schema(
        summary="Get a model's price",
        parameters=[MODEL_PARAMETER],
        responses={200: ModelPriceSerializer, **error_responses(401, 403, 404)},
    ),
)
class ModelPriceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """The pricing table cost limits charge by, in USD per million tokens. Rows are addressed
    by model name, which may hold '/' (``meta-llama/llama-3-70b``), so the lookup matches the
    rest of the path; nothing is routed below a price. Gateways pick changes up on their next
    configuration reload."""

    serializer_class = ModelPriceSerializer
    filterset_class = ModelPriceFilter
    not_found = PriceNotFound
    lookup_field = "model"
    lookup_value_regex = r".+"
    action_permissions = {"refresh": ["add", "change"]}

    def get_queryset(self) -> QuerySet[ModelPrice]:
        return model_prices()

    @extend_schema(
        summary="Add a model's price",
        description="409 PRICE_EXISTS if the model already has a price.",
        responses={201: ModelPriceSerializer, **error_responses(400, 401, 403, 409)},
    )
    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        price = services.model_price_create(**serializer.validated_data)
        return self.created(price, self.get_serializer(price).data)

    @extend_schema(
        summary="Change a model's price",
        description="A shipped price that is changed is no longer refreshed on upgrade.",
        parameters=[MODEL_PARAMETER],
        responses={200: ModelPriceSerializer, **error_responses(400, 401, 403, 404)},
    )
    def partial_update(self, request: Request, model: str) -> Response:
        price = self.get_object()
        serializer = self.get_serializer(price, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        price = services.model_price_update(price=price, **serializer.validated_data)
        return Response(self.get_serializer(price).data)

    @extend_schema(
        summary="Remove a model's price",
        description="Cost limits then price the model by a shorter name it starts with, if "
        "any. A shipped price comes back on the next upgrade.",
        parameters=[MODEL_PARAMETER],
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def destroy(self, request: Request, model: str) -> Response:
        services.model_price_delete(price=self.get_object())
        return self.deleted()

    @extend_schema(
        summary="Load a price list",
        description="Loads the price list Gatehouse ships, or the `prices` given, into the "
        "table: new models are added and rows a price list set are brought up to date; rows "
        "an admin edited or added are kept. 400 PRICE_LIST_INVALID names every wrong row "
        "(`prices[3].input`).",
        request=PriceListSerializer,
        responses={200: PriceRefreshSerializer, **error_responses(400, 401, 403)},
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def refresh(self, request: Request) -> Response:
        serializer = PriceListSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = serializer.validated_data.get("prices")
        if rows is None:
            prices, name = list(shipped_prices()), SHIPPED
        else:
            prices = parse_price_rows(rows, field=price_field, vendors=ModelPrice.Vendor.values)
            name = serializer.validated_data.get("name") or "api"
        result = services.model_prices_refresh(prices=prices, price_list=name)
        return Response(PriceRefreshSerializer(result).data)


def price_field(index: int, column: str) -> str:
    """Where an error in a posted price list is: ``prices[3].input``."""
    return f"prices[{index}].{column}" if column else f"prices[{index}]"
