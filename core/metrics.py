"""The control plane's Prometheus metrics at ``GET /metrics``: deployments by status and
gateways active or not (read from the database at each scrape), and management API errors by
status and code (counted as they happen). No IDs and no names in the labels.

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory)
for the API error counts to be summed over the workers, as the gateways do."""

from collections.abc import Iterator

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

import core.api.errors  # noqa: F401  (registers the API error counts served here)
from deployments.models import Deployment
from gateways.metrics import CONTENT_TYPE, exposition
from gateways.selectors import gateways_with_status


class ConfigurationCollector(Collector):
    """Counts read from the database when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        deployments = GaugeMetricFamily(
            "gatehouse_deployments",
            "Deployment records by status (DEPLOYED, UNDEPLOYED, ARCHIVED ...).",
            labels=["status"],
        )
        rows = Deployment.objects.values("status").annotate(count=Count("id"))
        for row in rows.order_by("status"):
            deployments.add_metric([row["status"]], row["count"])
        yield deployments
        gateways = GaugeMetricFamily(
            "gatehouse_gateways",
            "Gateways by whether a process of theirs sent a heartbeat recently.",
            labels=["active"],
        )
        active = sum(1 for gateway in gateways_with_status() if gateway.is_active)
        total = gateways_with_status().count()
        gateways.add_metric(["true"], active)
        gateways.add_metric(["false"], total - active)
        yield gateways


CONFIGURATION = ConfigurationCollector()


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The control plane's metrics in Prometheus' text format."""
    return HttpResponse(exposition(CONFIGURATION), content_type=CONTENT_TYPE.decode())
