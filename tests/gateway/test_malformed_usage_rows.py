"""A malformed usage record costs at most itself: the writer repairs what it can (a NUL in a
path, a method longer than its column, negative token counts, a NaN latency ...) and sets aside
only the rows the database still refuses, never their neighbours in the batch."""

import logging
import math
import time
import uuid
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from gateways.models import UsageRecord
from gateways.usage import FIELDS, UsageWriter

GOOD = {
    "created_at": 0.0,
    "proxy": "",
    "deployment": "6f1c2a3e-8d4b-4f5a-9c7e-1a2b3c4d5e6f",
    "api_key": None,
    "provider": "provider",
    "model": "fake-model",
    "method": "POST",
    "resource": "/chat/completions",
    "status_code": 200,
    "outcome": "ok",
    "reason": "",
    "streamed": False,
    "prompt_tokens": 10,
    "completion_tokens": 3,
    "total_tokens": 13,
    "cached_tokens": 6,
    "cost_usd": Decimal("0.000003300"),
    "latency_ms": 12.5,
    "upstream_latency_ms": 10.0,
    "first_byte_ms": None,
    "details": None,
}

MALFORMED = {
    "nul_in_resource": {"resource": "/nope/\x00"},
    "nul_in_model": {"model": "fake\x00model"},
    "nul_in_reason": {"reason": "bad\x00reason"},
    "nul_in_details": {"details": {"guardrails": [{"policy": "p\x00", "action": "modified"}]}},
    "nul_in_a_details_key": {"details": {"k\x00": 1}},
    "overlong_method": {"method": "UNSUBSCRIBE"},
    "overlong_resource": {"resource": "/" + "x" * 600},
    "negative_tokens": {"prompt_tokens": -5, "completion_tokens": -3, "total_tokens": -8},
    "huge_tokens": {"prompt_tokens": 2**40, "total_tokens": 2**63},
    "nan_latency": {"latency_ms": math.nan},
    "infinite_upstream_latency": {"upstream_latency_ms": math.inf},
    "negative_first_byte": {"first_byte_ms": -1.0},
    "bad_outcome": {"outcome": "exploded-in-a-long-way"},
    "lone_surrogate_in_model": {"model": "fake\ud800"},
    "details_json_cannot_hold": {"details": {"big": 2**70, "items": {1, 2}, 7: "int key"}},
    "bad_deployment_id": {"deployment": "not-a-uuid"},
    "nan_timestamp": {"created_at": math.nan},
    "status_code_out_of_range": {"status_code": 70_000},
    "missing_status_code": {"status_code": None},
    "nan_cost": {"cost_usd": Decimal("NaN")},
    "huge_cost": {"cost_usd": 10**15},
    "negative_cached_tokens": {"cached_tokens": -6},
}


def row(proxy: str, **values) -> tuple:
    """One record in ``FIELDS`` order: a good one, with ``values`` changed."""
    record = {**GOOD, "created_at": time.time(), "proxy": proxy, **values}
    return tuple(record[name] for name in FIELDS)


def written(prefix: str) -> list[str]:
    return sorted(
        UsageRecord.objects.filter(proxy__startswith=prefix).values_list("proxy", flat=True)
    )


def stored(proxy: str) -> UsageRecord:
    return UsageRecord.objects.get(proxy=proxy)


def set_aside_metric(reason: str) -> float:
    labels = {"reason": reason}
    return REGISTRY.get_sample_value("gatehouse_usage_rows_set_aside_total", labels) or 0.0


def clamped_metric(field: str) -> float:
    labels = {"field": field}
    return REGISTRY.get_sample_value("gatehouse_usage_values_clamped_total", labels) or 0.0


def write_one(proxy: str, **values) -> UsageRecord:
    writer = UsageWriter("gw")
    writer.record(row(proxy, **values))
    writer.flush()
    return stored(proxy)


@pytest.mark.parametrize("kind", MALFORMED)
def test_every_good_row_beside_a_malformed_one_is_written(committed, kind):
    writer = UsageWriter("gw")
    for index in range(5):
        writer.record(row(f"good-{kind}-{index}"))
    writer.record(row(f"bad-{kind}", **MALFORMED[kind]))
    for index in range(5, 10):
        writer.record(row(f"good-{kind}-{index}"))
    writer.flush()
    assert written(f"good-{kind}-") == sorted(f"good-{kind}-{index}" for index in range(10))


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({"resource": "/nope/\x00"}, "resource", "/nope/"),
        ({"model": "fake\x00model"}, "model", "fakemodel"),
        ({"model": "a\tb\nc\x7fd\x85e"}, "model", "abcde"),
        ({"model": "fake\ud800"}, "model", "fake"),
        ({"model": "m" * 300}, "model", "m" * 200),
        ({"reason": "bad\x00reason"}, "reason", "badreason"),
        ({"resource": "/" + "x" * 600}, "resource", "/" + "x" * 499),
        ({"method": "UNSUBSCRIBE"}, "method", "_OTHER"),
        ({"method": None}, "method", "_OTHER"),
        ({"prompt_tokens": -5}, "prompt_tokens", None),
        ({"completion_tokens": 2**31}, "completion_tokens", None),
        ({"total_tokens": 13.0}, "total_tokens", 13),
        ({"total_tokens": True}, "total_tokens", None),
        ({"cached_tokens": -6}, "cached_tokens", None),
        ({"cost_usd": Decimal("NaN")}, "cost_usd", None),
        ({"cost_usd": Decimal("-0.5")}, "cost_usd", None),
        ({"cost_usd": Decimal("1e12")}, "cost_usd", None),
        ({"cost_usd": "free"}, "cost_usd", None),
        ({"cost_usd": 0.0000033}, "cost_usd", Decimal("0.000003300")),
        ({"cost_usd": Decimal("1e-10")}, "cost_usd", Decimal("0.000000001")),
        ({"latency_ms": math.nan}, "latency_ms", 0.0),
        ({"latency_ms": -3.0}, "latency_ms", 0.0),
        ({"latency_ms": 7}, "latency_ms", 7.0),
        ({"upstream_latency_ms": math.inf}, "upstream_latency_ms", None),
        ({"upstream_latency_ms": "fast"}, "upstream_latency_ms", None),
        ({"first_byte_ms": math.nan}, "first_byte_ms", None),
        ({"first_byte_ms": 4}, "first_byte_ms", 4.0),
        ({"outcome": "exploded"}, "outcome", "failed"),
        ({"deployment": "not-a-uuid"}, "deployment", None),
        ({"streamed": "yes"}, "streamed", False),
        ({"details": ["not", "a", "dict"]}, "details", {}),
        ({"details": {"a\x00": ["b\x00", {"c": "\x00d"}]}}, "details", {"a": ["b", {"c": "d"}]}),
        ({"details": {"n": 2**70, "s": {1}, "f": math.inf}}, "details", dict.fromkeys("nsf")),
        ({"details": {7: "int key", None: "dropped"}}, "details", {"7": "int key"}),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_malformed_value_is_written_clamped(committed, values, field, expected):
    record = write_one(f"clamp-{uuid.uuid4().hex}", **values)
    assert getattr(record, field) == expected


def test_an_unusable_timestamp_is_written_as_the_time_of_writing(committed):
    before = time.time()
    record = write_one("clamp-created-at", created_at=math.nan)
    assert before - 1 <= record.created_at.timestamp() <= time.time() + 1


def test_a_row_the_database_still_refuses_is_set_aside_alone(committed):
    writer = UsageWriter("gw")
    writer.record(row("alone-good-0"))
    writer.record(row("alone-bad", status_code=None))
    writer.record(row("alone-good-1"))
    writer.flush()
    assert written("alone-good-") == ["alone-good-0", "alone-good-1"]
    assert [aside[1] for aside in writer.set_aside] == ["alone-bad"]


def test_an_out_of_range_status_code_is_set_aside_rather_than_invented(committed):
    writer = UsageWriter("gw")
    writer.record(row("status-range", status_code=70_000))
    writer.flush()
    assert (written("status-range"), writer.set_aside_count) == ([], 1)


def test_set_aside_rows_are_counted_by_reason(committed):
    before = set_aside_metric("IntegrityError")
    writer = UsageWriter("gw")
    writer.record(row("counted-bad-0", status_code=None))
    writer.record(row("counted-good"))
    writer.record(row("counted-bad-1", status_code=None))
    writer.flush()
    assert set_aside_metric("IntegrityError") - before == 2


def test_clamped_values_are_counted_by_field(committed):
    before = clamped_metric("resource")
    write_one("counted-clamp", resource="/nope/\x00")
    assert clamped_metric("resource") - before == 1


def test_set_aside_rows_are_logged_with_reason_and_proxy_ids_not_content(committed, caplog):
    writer = UsageWriter("gw")
    secret = "sk-customer-prompt"
    with caplog.at_level(logging.WARNING, logger="gatehouse.gateway"):
        for _ in range(2):
            writer.record(row("logged-good"))
            writer.record(row("logged-bad", status_code=None, model=secret, reason=secret))
            writer.flush()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert all("IntegrityError" in message and "logged-bad" in message for message in messages)
    assert not any(secret in message for message in messages)
