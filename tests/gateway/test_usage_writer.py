"""The usage writer keeps a bounded queue while the database is unreachable and sets aside
batches that can never be written, so neither memory nor CPU runs away."""

import logging
import time

import pytest
from django.db import connection
from prometheus_client import REGISTRY

from gateways.models import UsageRecord
from gateways.usage import UsageWriter


def row(proxy: str, status_code: int | None = 200, method: str = "POST") -> tuple:
    """One record in ``gateways.usage.FIELDS`` order."""
    return (
        *(time.time(), proxy, None, None, "provider", "model", method, "/chat/completions"),
        *(status_code, "ok", "", False, 1, 2, 3, None, None, 1.5, 1.0, None, None),
    )


def written(prefix: str) -> list[str]:
    return sorted(
        UsageRecord.objects.filter(proxy__startswith=prefix).values_list("proxy", flat=True)
    )


@pytest.fixture
def table_away():
    """Rename the usage table while the test runs (inserts fail as if it were missing)."""

    def rename(old: str, new: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")

    moved = []

    def away() -> None:
        rename("gateways_usagerecord", "gateways_usagerecord_away")
        moved.append(True)

    def back() -> None:
        if moved:
            rename("gateways_usagerecord_away", "gateways_usagerecord")
            moved.clear()

    yield away, back
    back()


def test_a_full_queue_drops_its_oldest_records_and_counts_them():
    writer = UsageWriter("gw", max_pending=5)
    for index in range(8):
        writer.record(row(f"p{index}"))
    assert [queued[1] for queued in writer.pending] == ["p3", "p4", "p5", "p6", "p7"]
    assert writer.dropped == 3


def test_records_kept_through_a_missing_table_are_written_once_it_is_back(committed, table_away):
    away, back = table_away
    writer = UsageWriter("gw", max_pending=5)
    away()
    for index in range(7):
        writer.record(row(f"bounded-{index}"))
    writer.flush()
    assert len(writer.pending) == 5
    back()
    writer.flush(final=True)
    assert written("bounded-") == [f"bounded-{index}" for index in range(2, 7)]
    assert (writer.dropped, len(writer.pending)) == (2, 0)


def test_a_transient_failure_delays_the_next_attempt(committed, table_away):
    away, back = table_away
    writer = UsageWriter("gw")
    away()
    writer.record(row("backoff-0"))
    writer.flush()
    back()
    writer.flush()
    assert written("backoff-") == []
    assert len(writer.pending) == 1


def test_a_batch_that_can_never_be_written_is_set_aside_and_later_ones_go_through(committed):
    writer = UsageWriter("gw")
    writer.record(row("aside-bad", status_code=None))
    writer.flush()
    writer.record(row("aside-good"))
    writer.flush()
    assert written("aside-") == ["aside-good"]
    assert (writer.set_aside_count, len(writer.pending)) == (1, 0)
    assert writer.set_aside[0][1] == "aside-bad"


def test_a_set_aside_batch_is_logged_once_by_error_class_without_its_data(committed, caplog):
    writer = UsageWriter("gw")
    with caplog.at_level(logging.ERROR, logger="gatehouse.gateway"):
        for _ in range(3):
            writer.record(row("logged", status_code=None))
            writer.flush()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert "IntegrityError" in messages[0]
    assert "model" not in messages[0].replace("1 usage records", "")
    assert writer.set_aside_count == 3


def test_repairs_of_a_batch_retried_after_an_outage_are_counted_once(committed, table_away):
    def method_repairs() -> float:
        labels = {"field": "method"}
        return REGISTRY.get_sample_value("gatehouse_usage_values_clamped_total", labels) or 0.0

    away, back = table_away
    before = method_repairs()
    writer = UsageWriter("gw")
    away()
    writer.record(row("repaired-once", method="UNSUBSCRIBE"))
    writer.flush()
    back()
    writer.flush(final=True)
    assert (written("repaired-once"), method_repairs() - before) == (["repaired-once"], 1)
