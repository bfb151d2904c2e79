"""Usage records gateways write, read-only: a filtered list, one record, and the summary the
admin's Insights page shows, computed by the same selectors so the two never drift."""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import error_responses
from core.api.viewsets import ServiceViewSet
from gateways.insights import (
    DEFAULT_RANGE,
    RANGES,
    UsageFilter,
    errors_by_kind,
    routing_by_proxy,
    spend_by,
    spend_by_key,
    traffic_by_proxy,
    usage_records,
    usage_summary,
    usage_trend,
)
from gateways.models import UsageOutcome, UsageRecord


def usd(**kwargs: Any) -> serializers.DecimalField:
    """An amount in USD, exact to the nano-dollar, as a JSON number."""
    return serializers.DecimalField(
        max_digits=20, decimal_places=9, coerce_to_string=False, read_only=True, **kwargs
    )


class UsageRecordSerializer(serializers.ModelSerializer):
    """One request through a gateway, as the gateway recorded it. ``prompt_tokens`` counts
    every input token, ``cached_tokens`` those read from a prompt cache (cache writes are in
    ``details.cache_write_tokens``); ``cost_usd`` is null when nothing could be priced."""

    cost_usd = usd(
        allow_null=True,
        help_text="What the tokens cost at the pricing table's prices; null without tokens or "
        "without a price for the model.",
    )

    class Meta:
        model = UsageRecord
        fields = "__all__"


class UsageRecordFilter(filters.FilterSet):
    proxy = filters.CharFilter(help_text="Proxy ID")
    gateway = filters.CharFilter(help_text="Gateway ID")
    api_key = filters.UUIDFilter(help_text="API key ID")
    provider = filters.CharFilter(help_text="Provider ID")
    model = filters.CharFilter(help_text="Model name, exactly as recorded")
    outcome = filters.ChoiceFilter(choices=UsageOutcome.choices)
    status_code = filters.NumberFilter(help_text="HTTP status returned to the client")
    streamed = filters.BooleanFilter()
    priced = filters.BooleanFilter(
        field_name="cost_usd",
        lookup_expr="isnull",
        exclude=True,
        help_text="Records with a cost (true) or without one (false).",
    )
    min_cost_usd = filters.NumberFilter(
        field_name="cost_usd", lookup_expr="gte", help_text="Records that cost at least this."
    )
    max_cost_usd = filters.NumberFilter(
        field_name="cost_usd", lookup_expr="lte", help_text="Records that cost at most this."
    )
    since = filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text="Records created at or after this ISO 8601 date-time.",
    )
    until = filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        help_text="Records created before this ISO 8601 date-time (exclusive).",
    )

    class Meta:
        model = UsageRecord
        fields = [
            "proxy",
            "gateway",
            "api_key",
            "provider",
            "model",
            "outcome",
            "status_code",
            "streamed",
            "priced",
            "min_cost_usd",
            "max_cost_usd",
            "since",
            "until",
        ]


class SummaryQuerySerializer(serializers.Serializer):
    """The query of the summary: the Insights page's filter bar."""

    proxy = serializers.CharField(required=False, default="")
    gateway = serializers.CharField(required=False, default="")
    api_key = serializers.UUIDField(required=False, default=None)
    model = serializers.CharField(required=False, default="")
    range = serializers.ChoiceField(choices=list(RANGES), default=DEFAULT_RANGE)


class PercentilesSerializer(serializers.Serializer):
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)


class UsageTotalsSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    avg_latency_ms = serializers.FloatField()
    latency_ms = PercentilesSerializer(
        help_text="Latency percentiles (nearest rank), in milliseconds; null without requests."
    )
    first_byte_ms = PercentilesSerializer(
        help_text="Streamed answers: time to the first byte sent to the client, percentiles "
        "in milliseconds; null without streams."
    )
    success_rate = serializers.FloatField(
        allow_null=True, help_text="Percent of requests answered 2xx/3xx; null without requests."
    )
    tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField(help_text="Input tokens read from a prompt cache.")
    cost_usd = usd(help_text="The records' cost summed.")
    unpriced = serializers.IntegerField(
        help_text="Records that reported tokens for a model without a price (no cost)."
    )


class TrendBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    requests = serializers.IntegerField()
    errors = serializers.IntegerField(help_text="Requests answered 4xx or 5xx.")
    prompt = serializers.IntegerField(help_text="Prompt tokens.")
    completion = serializers.IntegerField(help_text="Completion tokens.")
    cost_usd = usd(help_text="Spend of the bucket's records.")


class ProxyTrafficSerializer(serializers.Serializer):
    proxy = serializers.CharField(help_text="Proxy ID, or 'other' for the rest summed.")
    requests = serializers.IntegerField()


class SpendSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    tokens = serializers.IntegerField()
    cost_usd = usd()
    other = serializers.BooleanField(help_text="The rest, beyond the 8 largest, summed.")


class ProxySpendSerializer(SpendSerializer):
    proxy = serializers.CharField(allow_null=True, help_text="Proxy ID; null for the rest.")


class KeySpendSerializer(SpendSerializer):
    api_key = serializers.UUIDField(
        allow_null=True, help_text="API key ID; null for calls without a key, or the rest."
    )
    name = serializers.CharField(help_text="The key's name, proxy and masked form, if it exists.")


class ModelSpendSerializer(SpendSerializer):
    model = serializers.CharField(allow_null=True, help_text="Model; null for the rest.")


class ProxyRoutingSerializer(serializers.Serializer):
    proxy = serializers.CharField(help_text="Proxy ID.")
    retried = serializers.IntegerField()
    failovers = serializers.IntegerField()


class RoutingSummarySerializer(serializers.Serializer):
    """What routing did, from the attempts routed calls list in their records' details."""

    retried = serializers.IntegerField(help_text="Requests that took more than one attempt.")
    failovers = serializers.IntegerField(
        help_text="Requests answered by a target other than the proxy's own provider."
    )
    by_proxy = ProxyRoutingSerializer(many=True, help_text="Proxies with any, most first.")


class ErrorKindSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="guardrail, rate_limit, upstream, auth or other.")
    label = serializers.CharField()
    count = serializers.IntegerField()


class SummaryRangeSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="1h, 24h, 7d or 30d.")
    label = serializers.CharField()
    since = serializers.DateTimeField(help_text="Records after this moment are counted.")
    until = serializers.DateTimeField(help_text="When the summary was computed.")
    bucket_seconds = serializers.IntegerField(help_text="Width of each trend bucket.")


class UsageSummarySerializer(serializers.Serializer):
    """Totals, a trend over time, the traffic split, spend by proxy, key and model, retries
    and failovers, and errors by kind for a time range."""

    summary = UsageTotalsSerializer()
    trend = TrendBucketSerializer(many=True)
    traffic_by_proxy = ProxyTrafficSerializer(many=True)
    spend_by_proxy = ProxySpendSerializer(many=True)
    spend_by_key = KeySpendSerializer(many=True)
    spend_by_model = ModelSpendSerializer(many=True)
    routing = RoutingSummarySerializer()
    errors_by_kind = ErrorKindSerializer(many=True)
    range = SummaryRangeSerializer()


SUMMARY_PARAMETERS = [
    OpenApiParameter("proxy", str, required=False, description="Proxy ID"),
    OpenApiParameter("gateway", str, required=False, description="Gateway ID"),
    OpenApiParameter("api_key", OpenApiTypes.UUID, required=False, description="API key ID"),
    OpenApiParameter("model", str, required=False, description="Model, exactly as recorded"),
    OpenApiParameter(
        "range",
        str,
        required=False,
        enum=list(RANGES),
        default=DEFAULT_RANGE,
        description="How far back to look.",
    ),
]


@extend_schema(tags=["usage"])
@extend_schema_view(
    list=extend_schema(
        summary="List usage records",
        description="Newest first. Each record is one request through a gateway.",
    ),
    retrieve=extend_schema(
        summary="Get a usage record",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        responses={200: UsageRecordSerializer, **error_responses(401, 403, 404)},
    ),
)
class UsageRecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ServiceViewSet):
    """Read-only: gateways write usage records, nobody edits them."""

    serializer_class = UsageRecordSerializer
    filterset_class = UsageRecordFilter
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet[UsageRecord]:
        # The id breaks ties between records of the same instant, so pages never overlap.
        return UsageRecord.objects.order_by("-created_at", "-id")

    @extend_schema(
        summary="Summarise usage",
        description=(
            "What the Insights page shows, for the records of the last `range` matching the "
            "proxy, gateway, API key and model given: totals (spend included), a trend over "
            "time, the traffic split, spend by proxy, key and model, retries and failovers, "
            "and errors by kind."
        ),
        parameters=SUMMARY_PARAMETERS,
        responses={200: UsageSummarySerializer, **error_responses(400, 401, 403)},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def summary(self, request: Request) -> Response:
        query = SummaryQuerySerializer(
            data={key: value for key, value in request.query_params.items() if value}
        )
        query.is_valid(raise_exception=True)
        params = query.validated_data
        usage_filter = UsageFilter(
            proxy=params["proxy"],
            gateway=params["gateway"],
            api_key=str(params["api_key"] or ""),
            model=params["model"],
            range=params["range"],
        )
        time_range = usage_filter.time_range
        now = timezone.now()
        records = usage_records(usage_filter, now=now)
        data: dict[str, Any] = {
            "summary": usage_summary(records),
            "trend": usage_trend(records, time_range, now=now),
            "traffic_by_proxy": traffic_by_proxy(records),
            "spend_by_proxy": spend_by(records, "proxy"),
            "spend_by_key": spend_by_key(records),
            "spend_by_model": spend_by(records, "model"),
            "routing": routing_by_proxy(records),
            "errors_by_kind": errors_by_kind(records),
            "range": {
                "key": time_range.key,
                "label": time_range.label,
                "since": now - time_range.span,
                "until": now,
                "bucket_seconds": int(time_range.bucket.total_seconds()),
            },
        }
        return Response(UsageSummarySerializer(data).data)
