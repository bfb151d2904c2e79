"""Usage retention as the production guide schedules it: its crontab line's command deletes
the usage records older than the retention and keeps the rest."""

from datetime import timedelta

from django.utils import timezone

from gateways.models import UsageRecord
from tests.operations import guide
from tests.operations.conftest import ROOT, production_env


def usage(days_ago: int) -> UsageRecord:
    return UsageRecord.objects.create(
        created_at=timezone.now() - timedelta(days=days_ago),
        gateway="g",
        proxy="retained",
        method="POST",
        status_code=200,
        outcome="ok",
        latency_ms=1.0,
    )


def test_the_scheduled_prune_deletes_only_records_older_than_the_retention(committed, database_url):
    old, recent = usage(days_ago=91), usage(days_ago=89)
    guide.run("prune-usage", production_env(database_url, GATEHOUSE_HOME=str(ROOT)))
    kept = set(UsageRecord.objects.filter(proxy="retained").values_list("pk", flat=True))
    assert kept == {recent.pk}
    assert old.pk not in kept
