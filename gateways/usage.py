"""Usage records, written off the request path.

The request path appends a plain tuple to a deque (no model instances, no I/O); a background
thread inserts them as ``UsageRecord`` rows every half second or every
``BATCH_SIZE`` records, and records the last-used time of API keys in the same pass. ``stop``
drains everything, so a graceful shutdown (lifespan shutdown, SIGTERM) loses nothing; if the
database is unreachable the batch is kept and retried.
"""

import contextlib
import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime

from django.db import connection, transaction

log = logging.getLogger("gatehouse.gateway")

FLUSH_INTERVAL = 0.5
BATCH_SIZE = 500
MAX_PENDING = 200_000  # beyond this (database down for long) the oldest records are dropped
KEY_TOUCH_INTERVAL = 5.0

# Field order of the tuples passed to ``UsageWriter.record``.
FIELDS = (
    "created_at",
    "proxy",
    "deployment",
    "api_key",
    "provider",
    "model",
    "method",
    "resource",
    "status_code",
    "outcome",
    "reason",
    "streamed",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "latency_ms",
    "upstream_latency_ms",
    "details",  # a dict (e.g. ``{"guardrails": [...]}``) or None for an empty one
)


class UsageWriter:
    def __init__(self, gateway_id: str):
        self.gateway_id = gateway_id
        self.pending: deque[tuple] = deque(maxlen=MAX_PENDING)
        self.key_last_used: dict[str, float] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_touch = time.monotonic()
        self._failing = False

    def record(self, row: tuple) -> None:
        """Queue one record (a tuple in ``FIELDS`` order). Called on the event loop."""
        self.pending.append(row)
        if len(self.pending) >= BATCH_SIZE:
            self._wake.set()

    def touch_key(self, key_hash: str, when: float) -> None:
        self.key_last_used[key_hash] = when

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gatehouse-usage", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write everything still queued, then end the thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._thread is None or not self._thread.is_alive():
            self.flush(final=True)
            connection.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            self.flush()
        connection.close()

    def flush(self, final: bool = False) -> None:
        """Write queued records in batches; keep them queued when the database fails."""
        while self.pending:
            batch = []
            while self.pending and len(batch) < BATCH_SIZE:
                batch.append(self.pending.popleft())
            try:
                self._insert(batch)
            except Exception as exc:
                self.pending.extendleft(reversed(batch))
                self._failed(exc)
                return
            self._recovered()
        now = time.monotonic()
        if self.key_last_used and (final or now - self._last_touch >= KEY_TOUCH_INTERVAL):
            self._last_touch = now
            self._touch_keys()

    def _insert(self, batch: list[tuple]) -> None:
        """One multi-row INSERT per batch. The gateway writes thousands of rows a second from
        a thread that shares the GIL with the event loop, so this skips model instances and
        ``bulk_create`` (about ten times the CPU) and converts only the typed columns."""
        from gateways.models import UsageRecord

        meta = UsageRecord._meta
        names = ("gateway", *FIELDS)
        fields = [meta.get_field(name) for name in names]
        quote = connection.ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({})".format(
            quote(meta.db_table),
            ", ".join(quote(f.column) for f in fields),
            ", ".join(["%s"] * len(fields)),
        )
        details_field = meta.get_field("details")
        empty = details_field.get_db_prep_save({}, connection)
        to_time, to_uuid = _converters()
        gateway = self.gateway_id
        params = [
            (
                gateway,
                to_time(when),
                proxy,
                to_uuid(deployment) if deployment else None,
                to_uuid(api_key) if api_key else None,
                *rest,
                details_field.get_db_prep_save(details, connection) if details else empty,
            )
            for (when, proxy, deployment, api_key, *rest, details) in batch
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def _touch_keys(self) -> None:
        from proxies.services import api_keys_touch

        touched, self.key_last_used = self.key_last_used, {}
        try:
            api_keys_touch(
                last_used={h: datetime.fromtimestamp(t, tz=UTC) for h, t in touched.items()}
            )
        except Exception as exc:
            for key_hash, when in touched.items():
                self.key_last_used.setdefault(key_hash, when)
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        if not self._failing:
            log.warning(
                "gateway %s: cannot write usage records (%s); %d queued, retrying",
                self.gateway_id,
                type(exc).__name__,
                len(self.pending),
            )
            self._failing = True
        with contextlib.suppress(Exception):
            connection.close()

    def _recovered(self) -> None:
        if self._failing:
            log.warning("gateway %s: usage records are being written again", self.gateway_id)
            self._failing = False


def _converters():
    """Timestamp and UUID conversions for this database, cheap for SQLite's text columns."""
    from gateways.models import UsageRecord

    if connection.vendor == "sqlite":
        return (
            lambda when: datetime.fromtimestamp(when, tz=UTC).replace(tzinfo=None).isoformat(" "),
            lambda value: value.replace("-", ""),
        )
    created = UsageRecord._meta.get_field("created_at")
    uuid_field = UsageRecord._meta.get_field("deployment")
    return (
        lambda when: created.get_db_prep_save(datetime.fromtimestamp(when, tz=UTC), connection),
        lambda value: uuid_field.get_db_prep_save(value, connection),
    )
