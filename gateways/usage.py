"""Usage records, written off the request path.

The request path appends a plain tuple to a deque (no model instances, no I/O); a background
thread inserts them as ``UsageRecord`` rows every half second or every
``BATCH_SIZE`` records, and records the last-used time of API keys in the same pass. ``stop``
drains everything, so a graceful shutdown (lifespan shutdown, SIGTERM) loses nothing.

Failures are of two kinds. The database being unreachable (``OperationalError`` /
``InterfaceError``, and a missing table, which a migration renaming it also causes) is
transient: the batch goes back to the queue and is retried with exponential backoff, the queue
holding at most ``max_pending`` records (the oldest are dropped and counted beyond that). Any
other error (a missing column, a constraint, bad data) will fail again on every retry: that
batch is set aside, logged once per error class, and later records keep flowing.
"""

import contextlib
import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime

import orjson
from django.db import InterfaceError, OperationalError, ProgrammingError, connection, transaction

log = logging.getLogger("gatehouse.gateway")

FLUSH_INTERVAL = 0.5
BATCH_SIZE = 500
MAX_PENDING = 200_000  # beyond this (database down for long) the oldest records are dropped
MAX_SET_ASIDE = 10_000  # records that failed for good, kept for inspection, newest last
RETRY_FIRST = 0.5  # seconds before the first retry after a transient failure, doubling ...
RETRY_MAX = 5.0  # ... up to this
KEY_TOUCH_INTERVAL = 5.0
# SQLSTATE of PostgreSQL's undefined_table, and SQLite's wording of a missing column (which it
# reports as an OperationalError although no retry can fix it).
UNDEFINED_TABLE = "42P01"
SQLITE_PERMANENT = ("no column named", "no such column", "constraint failed")

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
    def __init__(self, gateway_id: str, max_pending: int = MAX_PENDING):
        self.gateway_id = gateway_id
        self.max_pending = max_pending
        # Bounded on the request path too: a full deque drops its oldest record on append.
        self.pending: deque[tuple] = deque(maxlen=max_pending)
        self.set_aside: deque[tuple] = deque(maxlen=MAX_SET_ASIDE)
        self.dropped = 0  # records lost to the cap while the database was unreachable
        self.set_aside_count = 0  # records in batches that failed for good
        self.key_last_used: dict[str, float] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_touch = time.monotonic()
        self._failing = False
        self._retry_delay = RETRY_FIRST
        self._retry_at = 0.0
        self._reported: set[str] = set()  # error classes already logged for set-aside batches

    def record(self, row: tuple) -> None:
        """Queue one record (a tuple in ``FIELDS`` order). Called on the event loop."""
        pending = self.pending
        if len(pending) >= self.max_pending:
            self.dropped += 1
        pending.append(row)
        if len(pending) >= BATCH_SIZE:
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
        if self.pending or self.dropped or self.set_aside_count:
            log.warning(
                "gateway %s: usage records not written: %d still queued, %d dropped (queue "
                "full), %d set aside (failed for good)",
                self.gateway_id,
                len(self.pending),
                self.dropped,
                self.set_aside_count,
            )

    def _run(self) -> None:
        while not self._stopping.is_set():
            backoff = self._retry_at - time.monotonic()
            if backoff > 0:
                self._stopping.wait(backoff)  # a full batch does not cut a backoff short
            else:
                self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            self.flush()
        connection.close()

    def flush(self, final: bool = False) -> None:
        """Write queued records in batches. A transient failure puts the batch back and waits
        (backoff) before the next attempt; a permanent one sets the batch aside."""
        if not final and time.monotonic() < self._retry_at:
            return
        while self.pending:
            batch = []
            while self.pending and len(batch) < BATCH_SIZE:
                batch.append(self.pending.popleft())
            try:
                self._insert(batch)
            except Exception as exc:
                if not is_transient(exc):
                    self._put_aside(batch, exc)
                    continue
                self._requeue(batch)
                self._failed(exc)
                return
            self._recovered()
        now = time.monotonic()
        if self.key_last_used and (final or now - self._last_touch >= KEY_TOUCH_INTERVAL):
            self._last_touch = now
            self._touch_keys()

    def _requeue(self, batch: list[tuple]) -> None:
        """Put a batch back at the front, dropping its oldest records if the queue is full
        (``extendleft`` on a full deque would drop the newest ones instead)."""
        room = self.max_pending - len(self.pending)
        if room < len(batch):
            lost = len(batch) - max(room, 0)
            self.dropped += lost
            batch = batch[lost:]
        self.pending.extendleft(reversed(batch))

    def _put_aside(self, batch: list[tuple], exc: Exception) -> None:
        self.set_aside.extend(batch)
        self.set_aside_count += len(batch)
        name = type(exc).__name__
        if name not in self._reported:
            self._reported.add(name)
            # Ids only: the rows may carry customer data in ``details``.
            proxies = sorted({row[1] for row in batch})[:5]
            log.error(
                "gateway %s: %d usage records set aside, they cannot be written (%s); proxies "
                "%s; later records are still written, further failures of this kind are only "
                "counted",
                self.gateway_id,
                len(batch),
                name,
                ", ".join(proxies),
            )
        self._reset_connection()

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
        to_time, to_uuid, to_json = _converters()
        empty = to_json({})
        gateway = self.gateway_id
        params = [
            (
                gateway,
                to_time(when),
                proxy,
                to_uuid(deployment) if deployment else None,
                to_uuid(api_key) if api_key else None,
                *rest,
                to_json(details) if details else empty,
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
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX)
        self._reset_connection()

    def _recovered(self) -> None:
        self._retry_delay = RETRY_FIRST
        self._retry_at = 0.0
        if self._failing:
            log.warning(
                "gateway %s: usage records are being written again (%d dropped meanwhile)",
                self.gateway_id,
                self.dropped,
            )
            self._failing = False

    @staticmethod
    def _reset_connection() -> None:
        with contextlib.suppress(Exception):
            connection.close()


def is_transient(exc: Exception) -> bool:
    """Whether retrying the same insert later can succeed: the database or its connection was
    unavailable, or the table is missing (a migration renaming it, or a restore under way)."""
    if isinstance(exc, ProgrammingError):
        cause = exc.__cause__
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        return state == UNDEFINED_TABLE
    if isinstance(exc, OperationalError):
        if connection.vendor == "sqlite":
            message = str(exc)
            return not any(text in message for text in SQLITE_PERMANENT)
        return True
    return isinstance(exc, InterfaceError)


def _converters():
    """Timestamp, UUID and JSON conversions for this database, cheap for SQLite's text columns.
    JSON goes through orjson (several times faster than the field's ``json.dumps``: guardrail
    details ride on many records)."""
    from gateways.models import UsageRecord

    if connection.vendor == "sqlite":
        return (
            lambda when: datetime.fromtimestamp(when, tz=UTC).replace(tzinfo=None).isoformat(" "),
            lambda value: value.replace("-", ""),
            _json_text,
        )
    created = UsageRecord._meta.get_field("created_at")
    uuid_field = UsageRecord._meta.get_field("deployment")
    if connection.vendor == "postgresql" and _psycopg3():
        from psycopg.types.json import Jsonb

        to_json = lambda value: Jsonb(value, dumps=_json_text)  # noqa: E731
    else:
        details = UsageRecord._meta.get_field("details")
        to_json = lambda value: details.get_db_prep_save(value, connection)  # noqa: E731
    return (
        lambda when: created.get_db_prep_save(datetime.fromtimestamp(when, tz=UTC), connection),
        lambda value: uuid_field.get_db_prep_save(value, connection),
        to_json,
    )


def _psycopg3() -> bool:
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


def _json_text(value) -> str:
    return orjson.dumps(value).decode()
