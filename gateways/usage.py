"""Usage records, written off the request path.

The request path appends a plain tuple to a deque (no model instances, no I/O); a background
thread inserts them as ``UsageRecord`` rows every half second or every
``BATCH_SIZE`` records, and records the last-used time of API keys in the same pass. ``stop``
drains everything, so a graceful shutdown (lifespan shutdown, SIGTERM) loses nothing.

Every value is first made fit for its column (``gateways.usage_rows``: control characters
removed, text cut to length, impossible numbers emptied), so what a client sent or an upstream
reported does not fail an insert. Failures are of two kinds. The database being unreachable
(``OperationalError`` / ``InterfaceError``, and a missing table, which a migration renaming it
also causes) is transient: the batch goes back to the queue and is retried with exponential
backoff, the queue holding at most ``max_pending`` records (the oldest are dropped and counted
beyond that). Any other error (a missing column, a constraint, a value no repair foresaw) would
fail again on every retry: the batch is then inserted row by row, and only the rows that fail
alone are set aside (kept in ``set_aside``, counted in
``gatehouse_usage_rows_set_aside_total{reason}``, logged with their proxy ids), so a bad record
never costs its neighbours.
"""

import contextlib
import logging
import operator
import threading
import time
from collections import deque
from datetime import UTC, datetime

from django.db import InterfaceError, OperationalError, ProgrammingError, connection, transaction

from gateways.metrics import USAGE_ROWS_SET_ASIDE
from gateways.models import UsageRecord
from gateways.usage_rows import UsageRowCleaner, printable
from proxies.services import api_keys_touch

log = logging.getLogger("gatehouse.gateway")

FLUSH_INTERVAL = 0.5
BATCH_SIZE = 500
MAX_PENDING = 200_000  # beyond this (database down for long) the oldest records are dropped
MAX_SET_ASIDE = 10_000  # records refused even alone, kept for inspection, newest last
MAX_LOGGED_PROXIES = 5
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
    "cached_tokens",
    "cost_usd",  # a Decimal (USD) or None
    "latency_ms",
    "upstream_latency_ms",
    "first_byte_ms",
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
        self.set_aside_count = 0  # records refused even alone
        self.cleaner = UsageRowCleaner()
        self.key_last_used: dict[str, float] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_touch = time.monotonic()
        self._failing = False
        self._retry_delay = RETRY_FIRST
        self._retry_at = 0.0
        self._reported: set[str] = set()  # reasons already logged at error level

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
                "full), %d set aside (refused by the database)",
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
        (backoff) before the next attempt; rows refused for good are set aside one by one."""
        if not final and time.monotonic() < self._retry_at:
            return
        while self.pending:
            batch = []
            while self.pending and len(batch) < BATCH_SIZE:
                batch.append(self.pending.popleft())
            try:
                refused = self._write(batch)
            except Exception as exc:  # nothing of the batch was written
                if is_transient(exc):
                    self.cleaner.forget_repairs()
                    self._requeue(batch)
                    self._failed(exc)
                    return
                refused = [(row, exc) for row in batch]  # even the row-by-row pass failed
            self.cleaner.count_repairs()
            if refused:
                self._put_aside(refused)
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

    def _write(self, batch: list[tuple]) -> list[tuple[tuple, Exception]]:
        """Insert a batch in one statement, or row by row when that fails for good. Returns
        the rows refused even alone, each with its error; raises on a transient failure, when
        nothing of the batch was written."""
        statement = _insert_statement()
        rows, params, refused = self._prepare(batch)
        if not params:
            return refused
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(statement, params)
        except Exception as exc:
            if is_transient(exc):
                raise
            refused.extend(_insert_each(statement, rows, params))
        return refused

    def _prepare(self, batch: list[tuple]) -> tuple[list[tuple], list[tuple], list]:
        """Each row's repaired values, converted for this database. The gateway writes
        thousands of rows a second from a thread that shares the GIL with the event loop, so
        this skips model instances and ``bulk_create`` (about ten times the CPU) and converts
        only the typed columns. Returns the rows, their parameters, and the rows that could
        not be converted with their errors."""
        to_time, to_uuid, to_json = _converters()
        clean = self.cleaner.clean
        gateway = self.gateway_id
        rows, params, refused = [], [], []
        for row in batch:
            try:
                when, proxy, deployment, api_key, *rest, details = clean(row)
                values = (
                    gateway,
                    to_time(when),
                    proxy,
                    to_uuid(deployment) if deployment else None,
                    to_uuid(api_key) if api_key else None,
                    *rest,
                    to_json(details),
                )
            except Exception as exc:  # a value no repair foresaw: this row alone fails
                refused.append((row, exc))
            else:
                rows.append(row)
                params.append(values)
        return rows, params, refused

    def _put_aside(self, refused: list[tuple[tuple, Exception]]) -> None:
        """Keep, count and log the rows refused even alone: an error-level line the first time
        a reason is seen, a warning after that (one line per reason and flush)."""
        by_reason: dict[str, list[tuple]] = {}
        for row, exc in refused:
            by_reason.setdefault(type(exc).__name__, []).append(row)
            self.set_aside.append(row)
        self.set_aside_count += len(refused)
        for reason, rows in by_reason.items():
            USAGE_ROWS_SET_ASIDE.labels(reason).inc(len(rows))
            # Proxy ids only, made printable: the other values may carry customer data, and
            # the proxy id of an unrouted request is whatever its path said.
            proxies = sorted({self._proxy_of(row) for row in rows})
            shown = ", ".join(proxies[:MAX_LOGGED_PROXIES])
            if len(proxies) > MAX_LOGGED_PROXIES:
                shown += f" and {len(proxies) - MAX_LOGGED_PROXIES} more"
            level = logging.WARNING if reason in self._reported else logging.ERROR
            self._reported.add(reason)
            log.log(
                level,
                "gateway %s: %d usage records set aside, the database refused them (%s); "
                "proxies %s; the rest of their batch was written",
                self.gateway_id,
                len(rows),
                reason,
                shown,
            )

    def _proxy_of(self, row: tuple) -> str:
        proxy = row[1] if isinstance(row, tuple) and len(row) > 1 else None
        return printable(proxy, self.cleaner.proxy_length)

    def _touch_keys(self) -> None:
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


def _insert_statement() -> str:
    """One row's INSERT into the usage table: the gateway's id, then ``FIELDS``."""
    meta = UsageRecord._meta
    fields = [meta.get_field(name) for name in ("gateway", *FIELDS)]
    quote = connection.ops.quote_name
    return "INSERT INTO {} ({}) VALUES ({})".format(
        quote(meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )


def _insert_each(statement: str, rows: list[tuple], params: list[tuple]) -> list:
    """Insert rows one at a time, each in its own savepoint of one transaction (one commit),
    so a row the database refuses takes nothing else with it. Returns the refused rows with
    their errors; raises on a transient failure, which undoes the whole transaction."""
    refused = []
    with transaction.atomic(), connection.cursor() as cursor:
        for row, values in zip(rows, params, strict=True):
            try:
                with transaction.atomic():
                    cursor.execute(statement, values)
            except Exception as exc:
                if is_transient(exc):
                    raise
                refused.append((row, exc))
    return refused


def _converters():
    """Timestamp, UUID and JSON conversions for this database, cheap for SQLite's text columns.
    Details arrive as JSON text already (``gateways.usage_rows``, through orjson)."""
    if connection.features.has_native_uuid_field:
        to_uuid = _unchanged
    else:
        to_uuid = operator.attrgetter("hex")
    if connection.vendor == "sqlite":
        return _sqlite_time, to_uuid, _unchanged
    created = UsageRecord._meta.get_field("created_at")

    def to_time(when: float):
        return created.get_db_prep_save(datetime.fromtimestamp(when, tz=UTC), connection)

    if connection.vendor == "postgresql":
        # The PostgreSQL driver is loaded only where PostgreSQL is the database.
        from django.db.backends.postgresql.psycopg_any import Jsonb

        def to_json(text: str):
            return Jsonb(text, dumps=_unchanged)

        return to_time, to_uuid, to_json
    return to_time, to_uuid, _unchanged


def _sqlite_time(when: float) -> str:
    return datetime.fromtimestamp(when, tz=UTC).replace(tzinfo=None).isoformat(" ")


def _unchanged(value):
    return value
