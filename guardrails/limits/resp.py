"""A lean Redis client for the limit counters: one pipelined connection, no pool.

redis-py's asyncio client spends more time per call than the limit scripts take in Redis
(pool checkout, health checks, a retry wrapper and a ``wait_for`` per read). The limits need
only a handful of commands with small replies, so this client pipelines them on one shared
connection and matches replies in order (Redis answers a connection's commands in the order
they were sent). Commands issued during one event-loop iteration leave in one socket write at
the start of the next: a write is a system call, and under load many requests reach Redis in
the same iteration. One watchdog timer per connection, not a timeout per call, drops the
connection when the oldest reply is overdue; the next call reconnects.
"""

import asyncio
import hashlib
import ssl as ssl_module
from collections import deque
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import hiredis


class RedisReplyError(Exception):
    """An error reply from Redis (``NOSCRIPT``, ``WRONGTYPE``, ...)."""


# Each argument value's RESP encoding, once: counter keys, script digests, kinds, limits and
# TTLs (whole seconds) repeat from one request to the next.
_CHUNKS: dict[str | bytes | int, bytes] = {}
_CHUNKS_KEPT = 4096


def _pack(args: tuple[str | bytes | int, ...]) -> bytes:
    """One command in RESP. Arguments are str, bytes or int (not bool or float: an encoding
    kept for 1 would answer for 1.0 and True). ``hiredis.pack_command`` costs about twice as
    much per argument as a lookup here."""
    chunks = _CHUNKS
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        chunk = chunks.get(arg)
        if chunk is None:
            data = arg if type(arg) is bytes else str(arg).encode()
            chunk = b"$%d\r\n%s\r\n" % (len(data), data)
            if len(chunks) >= _CHUNKS_KEPT:
                chunks.clear()
            chunks[arg] = chunk
        out.append(chunk)
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    """One pipelined connection: replies are matched to commands in order, so concurrent
    callers share it without a pool. Commands are corked: those issued during one loop
    iteration are joined and written once, by a callback scheduled with the first of them
    (``writes`` counts the socket writes). A single watchdog timer (not a timeout per call)
    drops the connection when the oldest reply is overdue."""

    def __init__(self, timeout: float):
        self._timeout = timeout
        self._reader = hiredis.Reader(replyError=RedisReplyError)
        # Per command: its future, when it was sent, and for an EVALSHA the script to run
        # with EVAL when Redis answers NOSCRIPT (through ``on_noscript``).
        self._pending: deque[tuple[asyncio.Future, float, tuple | None]] = deque()
        self.on_noscript: Callable[[asyncio.Future, tuple], None] | None = None
        self._transport: asyncio.Transport | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._corked: list[bytes] = []
        self.writes = 0
        self.closed = False

    def connection_made(self, transport) -> None:
        self._transport = transport

    def send(self, payload: bytes, count: int) -> list[asyncio.Future]:
        """Queue ``payload`` (``count`` commands); a future per reply."""
        if self.closed:
            raise ConnectionError("Connection closed.")
        loop = asyncio.get_running_loop()
        now = loop.time()
        futures = [loop.create_future() for _ in range(count)]
        for future in futures:
            self._pending.append((future, now, None))
        self._queue(loop, now, payload)
        return futures

    def send_one(self, payload: bytes, script: tuple | None = None) -> asyncio.Future:
        """``send`` for one command, as most calls are. ``script`` (source, keys, args) makes
        a NOSCRIPT answer run the script again with EVAL, into the same future."""
        if self.closed:
            raise ConnectionError("Connection closed.")
        loop = asyncio.get_running_loop()
        now = loop.time()
        future = loop.create_future()
        self._pending.append((future, now, script))
        self._queue(loop, now, payload)
        return future

    def _queue(self, loop: asyncio.AbstractEventLoop, now: float, payload: bytes) -> None:
        corked = self._corked
        if not corked:
            loop.call_soon(self._flush)
        corked.append(payload)
        if self._watchdog is None:
            self._watchdog = loop.call_at(now + self._timeout, self._check)

    def _flush(self) -> None:
        corked = self._corked
        if not corked:
            return  # failed meanwhile; the callers have their errors
        payload = corked[0] if len(corked) == 1 else b"".join(corked)
        corked.clear()
        self.writes += 1
        self._transport.write(payload)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        pending = self._pending
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as exc:
                self._fail(ConnectionError(f"Protocol error: {exc}"))
                return
            if reply is False:
                return
            if not pending:
                self._fail(ConnectionError("Unexpected reply."))
                return
            future, _, script = pending.popleft()
            if not future.done():
                if not isinstance(reply, RedisReplyError):
                    future.set_result(reply)
                elif script is not None and str(reply).startswith("NOSCRIPT"):
                    self.on_noscript(future, script)
                else:
                    future.set_exception(reply)

    def _check(self) -> None:
        self._watchdog = None
        if not self._pending or self.closed:
            return
        loop = asyncio.get_running_loop()
        due = self._pending[0][1] + self._timeout
        if loop.time() >= due:
            self._fail(TimeoutError("Redis did not answer in time."))
        else:
            self._watchdog = loop.call_at(due, self._check)

    def _fail(self, exc: BaseException) -> None:
        self.closed = True
        self._corked.clear()
        if self._transport is not None:
            self._transport.abort()
        while self._pending:
            future = self._pending.popleft()[0]
            if not future.done():
                future.set_exception(exc)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._fail(
            ConnectionError(f"Connection lost: {exc.__class__.__name__ if exc else 'closed'}")
        )

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._flush()  # commands already issued still reach Redis, as if written at once
            self._transport.close()


class LeanRedis:
    """The few commands the limits need over one pipelined connection (``redis://``,
    ``rediss://``, ``unix://`` URLs with password and database)."""

    def __init__(self, url: str, *, timeout: float = 1.0):
        parts = urlsplit(url)
        self._scheme = parts.scheme
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 6379
        self._path = unquote(parts.path) if parts.scheme == "unix" else ""
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        db = parts.path.strip("/") if parts.scheme != "unix" else ""
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        self._db = int(db or query.get("db") or 0)
        self._timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future | None = None
        self._shas: dict[str, bytes] = {}

    @property
    def connected(self) -> bool:
        """Whether a call now is queued on a live connection (not behind a connect)."""
        protocol = self._protocol
        return protocol is not None and not protocol.closed

    @property
    def writes(self) -> int:
        """Socket writes on the current connection: a measure of the corking."""
        return self._protocol.writes if self._protocol is not None else 0

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()

        def factory() -> _Protocol:
            protocol = _Protocol(self._timeout)
            protocol.on_noscript = self._eval_again
            return protocol

        async with asyncio.timeout(self._timeout):
            if self._scheme == "unix":
                _, protocol = await loop.create_unix_connection(factory, self._path)
            else:
                ssl = ssl_module.create_default_context() if self._scheme == "rediss" else None
                _, protocol = await loop.create_connection(factory, self._host, self._port, ssl=ssl)
            setup = []
            if self._password is not None:
                setup.append(
                    ("AUTH", self._username, self._password)
                    if self._username
                    else ("AUTH", self._password)
                )
            if self._db:
                setup.append(("SELECT", self._db))
            if setup:
                futures = protocol.send(b"".join(_pack(c) for c in setup), len(setup))
                try:
                    await asyncio.gather(*futures)
                except BaseException:
                    protocol.close()
                    raise
        return protocol

    async def _connection(self) -> _Protocol:
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            return protocol
        if self._connecting is None:
            # Concurrent callers share one connection attempt; none of them cancels it.
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(self._connected)
        return await asyncio.shield(self._connecting)

    def _connected(self, attempt: asyncio.Future) -> None:
        self._connecting = None
        if not attempt.cancelled() and attempt.exception() is None:
            self._protocol = attempt.result()

    async def execute(self, *args):
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connection()
        return await protocol.send_one(_pack(args))

    async def execute_many(self, commands: list[tuple]) -> list:
        protocol = await self._connection()
        futures = protocol.send(b"".join(_pack(c) for c in commands), len(commands))
        return await asyncio.gather(*futures)

    def _sha(self, source: str) -> str:
        sha = self._shas.get(source)
        if sha is None:
            sha = self._shas[source] = hashlib.sha1(source.encode()).hexdigest()
        return sha

    async def script(self, source: str, keys: list[str], args: list) -> object:
        """EVALSHA with the script's cached digest; EVAL once when Redis has not seen it
        (first use, or after a restart emptied its script cache)."""
        try:
            return await self.execute("EVALSHA", self._sha(source), len(keys), *keys, *args)
        except RedisReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.execute("EVAL", source, len(keys), *keys, *args)

    def script_soon(self, source: str, keys: list[str], args: list) -> asyncio.Future:
        """``script`` for a plain callback, without a task of its own where it can: on a live
        connection the EVALSHA is queued at once; otherwise (connecting, or EVAL after
        ``NOSCRIPT``) a task runs ``script``. The future holds the reply."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            return asyncio.ensure_future(self.script(source, keys, args))
        payload = _pack(("EVALSHA", self._sha(source), len(keys), *keys, *args))
        # The reply goes straight into this future (no second future and callback hop);
        # only a NOSCRIPT answer takes the detour through ``_eval_again``.
        return protocol.send_one(payload, (source, keys, args))

    def _eval_again(self, future: asyncio.Future, script: tuple) -> None:
        source, keys, args = script
        retry = asyncio.ensure_future(self.execute("EVAL", source, len(keys), *keys, *args))
        retry.add_done_callback(lambda _: _copy_outcome(retry, future))

    async def aclose(self) -> None:
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None


def _copy_outcome(source: asyncio.Future, target: asyncio.Future) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())
