"""Usage rows made fit for their columns before the writer inserts them.

A record carries what a client sent (its path, its method, the model it named) and what an
upstream reported (token counts): one malformed value must cost at most its own row, never the
batch it is inserted with. PostgreSQL refuses what SQLite stores (NUL in text, ``\\u0000`` in
jsonb, strings longer than the column), so every value is held to the stricter rules, the same
on both, and repaired where a repair is honest:

- text: control characters (C0, DEL, C1; NUL above all) and lone surrogates removed, then cut
  to the column's length;
- method: a standard HTTP method, else ``_OTHER`` (OpenTelemetry's marker for the same case);
- outcome: one of ``UsageOutcome``, else ``failed``;
- token counts: whole numbers within the column's range (0 to 2,147,483,647), else empty;
- cost: a finite amount from 0 to the column's largest (an int or float is taken as USD),
  rounded to the column's nine decimals, else empty;
- latencies: finite and non-negative (a negative one is 0); otherwise ``latency_ms`` is 0 and
  ``upstream_latency_ms`` empty;
- deployment and API key: UUIDs, else empty; ``streamed``: true only when it is ``True``;
- created_at: a time between 1970 and 9999, else the time of writing;
- details: a dict whose strings (keys too, at any depth) lose their control characters, and
  whose values JSON cannot hold (integers beyond 64 bits, NaN, sets, objects) become null.

A status code outside its column's range (0 to 32,767) or missing is not invented: the row is
left to the database to refuse, and set aside. Each repaired value is counted in
``gatehouse_usage_values_clamped_total{field}`` once its row has left the queue (written or set
aside), so a batch retried after an outage is not counted twice.

Most rows need no repair, so each value is first checked in the cheapest way that proves it
fine (a type test, a length, ``str.isprintable``, a regular expression over the JSON that
will be inserted anyway); only a value that fails the check takes the slower, repairing path.
"""

import math
import re
import time
import uuid
from collections import Counter
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import orjson
from django.db.backends.base.operations import BaseDatabaseOperations

from gateways.metrics import USAGE_VALUES_CLAMPED
from gateways.models import UsageOutcome, UsageRecord

OTHER_METHOD = "_OTHER"
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
UNKNOWN_OUTCOME = "failed"
LATEST_TIMESTAMP = 253402300799.0  # 9999-12-31 23:59:59 UTC, the last second a datetime holds
LARGEST_FLOAT = 1.7976931348623157e308
# orjson's integer range; the details of a record never need more.
JSON_INT_MIN, JSON_INT_MAX = -(2**63), 2**64 - 1
MAX_DETAILS_DEPTH = 64
EMPTY_DETAILS = "{}"

UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# What orjson's output shows of a control character: an escape (it escapes C0 ones), DEL or a
# C1 control as it is. An escaped backslash before one of these letters matches too, which
# only costs that row the slow path.
CONTROL_IN_JSON = re.compile(rb"\\[bfnrtu]|\x7f|\xc2[\x80-\x9f]")


class UsageRowCleaner:
    """Checks and repairs rows in ``gateways.usage.FIELDS`` order, with the limits of the
    ``UsageRecord`` columns."""

    def __init__(self) -> None:
        field = UsageRecord._meta.get_field
        self.proxy_length = field("proxy").max_length
        self.provider_length = field("provider").max_length
        self.model_length = field("model").max_length
        self.resource_length = field("resource").max_length
        self.reason_length = field("reason").max_length
        # The portable range of each column (SQLite would take any 64-bit integer), so a row
        # reads the same whichever database it was written to.
        ranges = BaseDatabaseOperations.integer_field_ranges
        self.max_status = ranges[field("status_code").get_internal_type()][1]
        self.max_tokens = ranges[field("prompt_tokens").get_internal_type()][1]
        cost = field("cost_usd")
        self.cost_step = Decimal(1).scaleb(-cost.decimal_places)
        self.max_cost = Decimal(10) ** (cost.max_digits - cost.decimal_places) - self.cost_step
        self.outcomes = frozenset(UsageOutcome.values)
        self.repairs: list[str] = []  # the field of each repair since the last count

    def count_repairs(self) -> None:
        """Add the repairs made since the last call to the metric: the rows they were made
        to have been written or set aside."""
        for field, repaired in Counter(self.repairs).items():
            USAGE_VALUES_CLAMPED.labels(field).inc(repaired)
        self.repairs.clear()

    def forget_repairs(self) -> None:
        """Drop the repairs made since the last count: their rows go back to the queue and
        will be repaired (and counted) again."""
        self.repairs.clear()

    def clean(self, row: tuple) -> tuple:
        """The row with every value fit for its column (``details`` as JSON text)."""
        (
            when,
            proxy,
            deployment,
            api_key,
            provider,
            model,
            method,
            resource,
            status,
            outcome,
            reason,
            streamed,
            prompt,
            completion,
            total,
            cached,
            cost,
            latency,
            upstream,
            first_byte,
            details,
        ) = row
        if type(when) is not float or not 0.0 < when <= LATEST_TIMESTAMP:
            when = self.timestamp(when)
        if type(proxy) is not str or len(proxy) > self.proxy_length or not proxy.isprintable():
            proxy = self.text("proxy", proxy, self.proxy_length)
        if deployment is not None:
            deployment = self.identifier("deployment", deployment)
        if api_key is not None:
            api_key = self.identifier("api_key", api_key)
        if (
            type(provider) is not str
            or len(provider) > self.provider_length
            or not provider.isprintable()
        ):
            provider = self.text("provider", provider, self.provider_length)
        if type(model) is not str or len(model) > self.model_length or not model.isprintable():
            model = self.text("model", model, self.model_length)
        if type(method) is not str or method not in HTTP_METHODS:
            self.repairs.append("method")
            method = OTHER_METHOD
        if (
            type(resource) is not str
            or len(resource) > self.resource_length
            or not resource.isprintable()
        ):
            resource = self.text("resource", resource, self.resource_length)
        if type(status) is not int or not 0 <= status <= self.max_status:
            status = None  # not invented: the database refuses the row and it is set aside
        if type(outcome) is not str or outcome not in self.outcomes:
            self.repairs.append("outcome")
            outcome = UNKNOWN_OUTCOME
        if type(reason) is not str or len(reason) > self.reason_length or not reason.isprintable():
            reason = self.text("reason", reason, self.reason_length)
        top = self.max_tokens
        if prompt is not None and (type(prompt) is not int or not 0 <= prompt <= top):
            prompt = self.count("prompt_tokens", prompt)
        if completion is not None and (type(completion) is not int or not 0 <= completion <= top):
            completion = self.count("completion_tokens", completion)
        if total is not None and (type(total) is not int or not 0 <= total <= top):
            total = self.count("total_tokens", total)
        if cached is not None and (type(cached) is not int or not 0 <= cached <= top):
            cached = self.count("cached_tokens", cached)
        if cost is not None and (
            type(cost) is not Decimal
            or not cost.is_finite()
            or not 0 <= cost <= self.max_cost
            or cost.as_tuple().exponent < -9
        ):
            cost = self.cost(cost)
        if type(latency) is not float or not 0.0 <= latency <= LARGEST_FLOAT:
            latency = self.latency("latency_ms", latency)
            if latency is None:
                latency = 0.0  # the column takes no empty value, and the row is worth keeping
        if upstream is not None and (
            type(upstream) is not float or not 0.0 <= upstream <= LARGEST_FLOAT
        ):
            upstream = self.latency("upstream_latency_ms", upstream)
        if first_byte is not None and (
            type(first_byte) is not float or not 0.0 <= first_byte <= LARGEST_FLOAT
        ):
            first_byte = self.latency("first_byte_ms", first_byte)
        return (
            when,
            proxy,
            deployment,
            api_key,
            provider,
            model,
            method,
            resource,
            status,
            outcome,
            reason,
            streamed is True,
            prompt,
            completion,
            total,
            cached,
            cost,
            latency,
            upstream,
            first_byte,
            self.details(details),
        )

    def timestamp(self, value: Any) -> float:
        if is_number(value) and 0 < value <= LATEST_TIMESTAMP:
            return float(value)  # an int, or a float subclass: not a repair
        self.repairs.append("created_at")
        return time.time()

    def text(self, field: str, value: Any, length: int) -> str:
        cleaned = printable(value, length)
        if cleaned != value and value is not None:
            self.repairs.append(field)
        return cleaned

    def identifier(self, field: str, value: Any) -> uuid.UUID | None:
        parsed = uuid_or_none(value)
        if parsed is None:
            self.repairs.append(field)
        return parsed

    def count(self, field: str, value: Any) -> int | None:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # e.g. 13.0: a JSON number written with a fraction
        if is_number(value) and 0 <= value <= self.max_tokens:
            return int(value)
        self.repairs.append(field)
        return None

    def cost(self, value: Any) -> Decimal | None:
        """A cost in USD the column holds: rounded up to its last decimal (an amount too
        fine for the column is no repair), else empty."""
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            try:
                amount = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
            except (InvalidOperation, ValueError):
                amount = None
            if amount is not None and amount.is_finite() and 0 <= amount <= self.max_cost:
                return amount.quantize(self.cost_step, rounding=ROUND_CEILING)
        self.repairs.append("cost_usd")
        return None

    def latency(self, field: str, value: Any) -> float | None:
        # The comparisons also rule out NaN, and ints too large for a float.
        if is_number(value) and -LARGEST_FLOAT <= value <= LARGEST_FLOAT:
            if value >= 0:
                return float(value)  # an int, or a float subclass: not a repair
            self.repairs.append(field)
            return 0.0
        self.repairs.append(field)
        return None

    def details(self, details: Any) -> str:
        """The details as JSON text a jsonb column takes: serialised once, and walked (to
        repair them) only when the serialiser refuses them or its output shows a control
        character."""
        if not details:
            if details is not None and not isinstance(details, dict):
                self.repairs.append("details")
            return EMPTY_DETAILS
        if type(details) is dict:
            try:
                text = orjson.dumps(details)
            except TypeError:  # orjson.JSONEncodeError included
                pass
            else:
                # Three scans at memchr speed settle most details; the expression, the rest.
                if (
                    b"\\" not in text and b"\x7f" not in text and text.isascii()
                ) or CONTROL_IN_JSON.search(text) is None:
                    return text.decode()
        repaired = json_safe(details) if isinstance(details, dict) else {}
        if repaired != details:
            self.repairs.append("details")
        return orjson.dumps(repaired).decode()


def printable(value: Any, length: int) -> str:
    """``value`` without control characters or lone surrogates, cut to ``length``; "" when it
    is not a string. A plain str, also when ``value`` is a subclass."""
    if not isinstance(value, str):
        return ""
    return UNPRINTABLE.sub("", value)[:length]


def is_number(value: Any) -> bool:
    """An int or a float, and not a bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@lru_cache(maxsize=4096)
def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def uuid_or_none(value: Any) -> uuid.UUID | None:
    """A deployment or key id as a UUID; None when it is not one. Parsed through a cache: the
    same few ids come again and again."""
    if isinstance(value, uuid.UUID):
        return value
    return _parse_uuid(value) if isinstance(value, str) else None


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` with control characters removed from its strings and what JSON cannot hold
    replaced by None; dict keys that are numbers become strings, other non-string keys go."""
    if isinstance(value, str):
        return UNPRINTABLE.sub("", value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if JSON_INT_MIN <= value <= JSON_INT_MAX else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_DETAILS_DEPTH:
        return None
    if isinstance(value, dict):
        safe = {}
        for key, item in value.items():
            if isinstance(key, str):
                safe[UNPRINTABLE.sub("", key)] = json_safe(item, depth + 1)
            elif isinstance(key, int | float) and not isinstance(key, bool):
                safe[str(key)] = json_safe(item, depth + 1)
        return safe
    if isinstance(value, list | tuple):
        return [json_safe(item, depth + 1) for item in value]
    return None
