"""Counter storage: Redis (shared by every gateway process) or in-process (one process).

Both backends run the same three operations, each atomic:

- ``admit(ops)`` checks every counter of a request and, only when all pass, applies each
  op's increment (one Redis round trip: a single Lua script). A request counter passes when
  ``used + increment <= limit``; token and cost counters pass while ``used < limit`` (they
  block once exhausted). A cost counter is a hash of settled spend ``s`` and outstanding
  reservations ``r``; its ``used`` is their sum and its increment is a reservation.
- ``adjust(ops)`` settles or releases: adds tokens, moves a reservation into spend, never
  leaves a negative reservation (one round trip). On Redis, adjustments wait up to
  ``SETTLE_DELAY`` for the next admit, are merged by counter and applied by that admit's own
  script call, ahead of its checks (or by a call of their own when no admit comes); each
  caller returns once the call carrying its ops was applied.
- ``read(keys)`` returns the counters' values for display.

Keys carry their window start, so a new window starts from zero without any reset; every
key expires shortly after its window ends.
"""

import asyncio
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from guardrails.limits.resp import LeanRedis, RedisReplyError

REQUESTS = "r"
TOKENS = "t"
COST = "c"

# The scripts' two parts, written against offsets so that one call can run both: the
# adjustments use KEYS[1..m] with their arguments from ARGV[ab + 1]; the admission the keys
# after them with its arguments from ARGV[aa + 1].
_ADJUST_PART = """
for i = 1, m do
  local b = ab + (i - 1) * 4
  local kind = ARGV[b + 1]
  local first = tonumber(ARGV[b + 2])
  local second = tonumber(ARGV[b + 3])
  if kind == 'c' then
    if second ~= 0 or redis.call('EXISTS', KEYS[i]) == 1 then
      if first ~= 0 then
        if redis.call('HINCRBY', KEYS[i], 'r', ARGV[b + 2]) < 0 then
          redis.call('HSET', KEYS[i], 'r', 0)
        end
      end
      if second ~= 0 then redis.call('HINCRBY', KEYS[i], 's', ARGV[b + 3]) end
      if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[b + 4]) end
    end
  elseif first ~= 0 then
    redis.call('INCRBY', KEYS[i], ARGV[b + 2])
    if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[b + 4]) end
  end
end
"""

_ADMIT_PART = """
local n = #KEYS - m
local used = {}
local spent = {}
local ok = 1
for i = 1, n do
  local b = aa + (i - 1) * 4
  local key = KEYS[m + i]
  local kind = ARGV[b + 1]
  local u
  if kind == 'c' then
    local v = redis.call('HMGET', key, 's', 'r')
    spent[i] = tonumber(v[1]) or 0
    u = spent[i] + (tonumber(v[2]) or 0)
  else
    u = tonumber(redis.call('GET', key)) or 0
    spent[i] = u
  end
  used[i] = u
  local limit = tonumber(ARGV[b + 2])
  if kind == 'r' then
    if u + tonumber(ARGV[b + 3]) > limit then ok = 0 end
  elseif u >= limit then
    ok = 0
  end
end
if ok == 1 then
  for i = 1, n do
    local b = aa + (i - 1) * 4
    local key = KEYS[m + i]
    if tonumber(ARGV[b + 3]) > 0 then
      if ARGV[b + 1] == 'c' then
        redis.call('HINCRBY', key, 'r', ARGV[b + 3])
      else
        redis.call('INCRBY', key, ARGV[b + 3])
      end
      if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[b + 4]) end
      used[i] = used[i] + tonumber(ARGV[b + 3])
    end
  end
end
local out = {ok}
for i = 1, n do
  out[2 * i] = used[i]
  out[2 * i + 1] = spent[i]
end
return out
"""

_ADMIT = "local m, aa = 0, 0\n" + _ADMIT_PART
_ADJUST = "local m, ab = #KEYS, 0\n" + _ADJUST_PART + "return 1\n"
# Adjustments waiting for company, then an admission, in one call: ARGV[1] is the number
# of adjusted keys.
_ADJUST_THEN_ADMIT = (
    "local m = tonumber(ARGV[1])\nlocal ab, aa = 1, 1 + 4 * m\n" + _ADJUST_PART + _ADMIT_PART
)


class AdmitOp(NamedTuple):
    """Check ``key`` against ``limit`` and, if the whole request passes, add ``increment``."""

    key: str
    kind: str
    limit: int
    increment: int
    ttl_ms: int


class AdjustOp(NamedTuple):
    """Tokens: add ``first``. Cost: add ``first`` to the reservations (negative to release)
    and ``second`` to the settled spend."""

    key: str
    kind: str
    first: int
    second: int
    ttl_ms: int


class AdmitResult(NamedTuple):
    allowed: bool
    used: list[int]  # per op: after the increments when allowed, before them otherwise
    spent: list[int]  # per op: settled spend of cost counters (equals ``used`` for others)


class BackendUnavailable(Exception):
    """The shared store could not be reached; the limit's failure mode decides."""


# How long settles wait for an admit to travel with before they are sent alone.
SETTLE_DELAY = 0.002


class _AdjustBatch:
    """The adjustments issued before the next admit goes out, merged per counter: token increments
    summed; a cost counter's reservation and spend deltas summed. Releases (negative
    reservation deltas) are kept apart from positive ones, so the script's clamp of a
    reservation at 0 gives what applying the ops one by one in some order would give."""

    __slots__ = ("handle", "loop", "merged", "unwatched", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.handle: asyncio.Handle | None = None
        self.merged: dict[tuple[str, str, bool], list[int]] = {}
        self.waiters: list[asyncio.Future] = []
        self.unwatched = False  # some ops came without a waiter: report a failure once

    def add(self, ops: list[AdjustOp]) -> None:
        merged = self.merged
        for op in ops:
            slot = (op.key, op.kind, op.first > 0)
            entry = merged.get(slot)
            if entry is None:
                merged[slot] = [op.first, op.second, op.ttl_ms]
            else:
                entry[0] += op.first
                entry[1] += op.second
                if op.ttl_ms > entry[2]:
                    entry[2] = op.ttl_ms

    def script_args(self) -> tuple[list[str], list[object]]:
        keys: list[str] = []
        args: list[object] = []
        for (key, kind, _), (first, second, ttl_ms) in self.merged.items():
            keys.append(key)
            args += (kind, first, second, ttl_ms)
        return keys, args


class RedisBackend:
    """Counters in Redis. Every operation is one script call, so N processes and M hosts
    share each counter exactly. Needs a single Redis (or a primary behind Sentinel): the
    keys of one request may live in different Cluster slots. Talks to Redis through
    ``LeanRedis`` (one pipelined connection), which costs a fraction of redis-py's client
    per call on the request path. Settles are coalesced: they wait (at most
    ``SETTLE_DELAY``) for the next admit and leave with it, merged and applied by the
    admit's own script call before its checks: one call and one reply for both. A round
    trip to Redis costs the worker more CPU than the script does, and under load the next
    admit is never far off."""

    def __init__(self, client: LeanRedis, *, cooldown: float = 1.0):
        self.client = client
        self._errors = (RedisReplyError, OSError)
        # After a failure, fail at once for a moment instead of paying a timeout per request.
        self._cooldown = cooldown
        self._down_until = 0.0
        self._batch: _AdjustBatch | None = None  # adjustments of this loop iteration
        self._applying: set[asyncio.Future] = set()  # their script calls in flight
        # Told once per failed batch of adjustments nobody waits for (``adjust_later``).
        self.on_failure: Callable[[BaseException], None] | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 1.0) -> "RedisBackend":
        return cls(LeanRedis(url, timeout=timeout))

    def _guard(self) -> None:
        if self._down_until and time.monotonic() < self._down_until:
            raise BackendUnavailable("Redis is unavailable (cooling down after an error).")

    def _failed(self, exc: BaseException) -> BackendUnavailable:
        self._down_until = time.monotonic() + self._cooldown
        return BackendUnavailable(f"Redis is unavailable: {exc.__class__.__name__}")

    async def admit(self, ops: list[AdmitOp]) -> AdmitResult:
        if self._down_until:
            self._guard()
        keys: list[str] = []
        args: list[object] = []
        for op in ops:
            keys.append(op[0])
            args += op[1:]  # kind, limit, increment, ttl_ms
        batch = self._batch
        try:
            if batch is None or batch.loop is not asyncio.get_running_loop():
                reply = await self.client.script_soon(_ADMIT, keys, args)
            else:
                # Settles waiting for company are applied by this admit's own script call,
                # ahead of it, so the admit sees them counted: one call, one reply.
                batch.handle.cancel()
                self._batch = None
                adjusted, adjust_args = batch.script_args()
                try:
                    call = self.client.script_soon(
                        _ADJUST_THEN_ADMIT, adjusted + keys, [len(adjusted), *adjust_args, *args]
                    )
                except Exception as exc:  # e.g. the connection was lost in this iteration
                    call = batch.loop.create_future()
                    call.set_exception(exc)
                self._track(batch, call)
                if batch.waiters or not self.client.connected:
                    # Cancelling this admit must not cancel the settles' call: others wait
                    # on it, or it has not been sent yet.
                    call = asyncio.shield(call)
                reply = await call
        except self._errors as exc:
            raise self._failed(exc) from exc
        self._down_until = 0.0
        return tuple.__new__(AdmitResult, (bool(reply[0]), reply[1::2], reply[2::2]))

    async def adjust(self, ops: list[AdjustOp]) -> None:
        """Join the pending batch (the first caller schedules it) and wait until the script
        call carrying it has been applied; raises ``BackendUnavailable`` if that call
        failed."""
        await self.adjust_soon(ops)

    def adjust_soon(self, ops: list[AdjustOp]) -> asyncio.Future:
        """``adjust`` without waiting: the future settles once the ops are applied (or with
        ``BackendUnavailable``). Raises ``BackendUnavailable`` at once while cooling down."""
        batch = self._join(ops)
        waiter = batch.loop.create_future()
        batch.waiters.append(waiter)
        return waiter

    def adjust_later(self, ops: list[AdjustOp]) -> None:
        """``adjust`` for a caller that does not wait (the request path settling): no future
        per call; a failure of the batch reaches ``on_failure`` once. Raises
        ``BackendUnavailable`` at once while cooling down."""
        self._join(ops).unwatched = True

    def _join(self, ops: list[AdjustOp]) -> _AdjustBatch:
        self._guard()
        loop = asyncio.get_running_loop()
        batch = self._batch
        if batch is None or batch.loop is not loop:
            batch = self._batch = _AdjustBatch(loop)
            batch.handle = loop.call_later(SETTLE_DELAY, self._send, batch)
        batch.add(ops)
        return batch

    def _send(self, batch: _AdjustBatch) -> None:
        if self._batch is batch:
            self._batch = None
        keys, args = batch.script_args()
        try:
            reply = self.client.script_soon(_ADJUST, keys, args)
        except Exception as exc:  # e.g. the connection was lost in this iteration
            reply = batch.loop.create_future()
            reply.set_exception(exc)
        self._track(batch, reply)

    def _track(self, batch: _AdjustBatch, reply: asyncio.Future) -> None:
        """Settle the batch's waiters (or report its failure) once ``reply`` is in."""
        self._applying.add(reply)
        reply.add_done_callback(lambda _: self._applied(batch, reply))

    def _applied(self, batch: _AdjustBatch, reply: asyncio.Future) -> None:
        self._applying.discard(reply)
        waiters = [waiter for waiter in batch.waiters if not waiter.done()]
        if reply.cancelled():
            for waiter in waiters:
                waiter.cancel()
            return
        exc = reply.exception()
        if exc is None:
            self._down_until = 0.0
            for waiter in waiters:
                waiter.set_result(None)
            return
        if isinstance(exc, self._errors):
            failure = self._failed(exc)
            for waiter in waiters:
                error = BackendUnavailable(*failure.args)  # one each: a raise adds a traceback
                error.__cause__ = exc
                waiter.set_exception(error)
        else:
            failure = exc
            for waiter in waiters:
                waiter.set_exception(exc)
        if batch.unwatched and self.on_failure is not None:
            self.on_failure(failure)

    async def read(self, keys: list[tuple[str, str]]) -> list[tuple[int, int]]:
        """``(used, reserved)`` for each ``(key, kind)``; ``reserved`` is 0 except for cost."""
        self._guard()
        commands = [
            ("HMGET", key, "s", "r") if kind == COST else ("GET", key) for key, kind in keys
        ]
        try:
            replies = await self.client.execute_many(commands)
        except self._errors as exc:
            raise self._failed(exc) from exc
        out = []
        for (_, kind), reply in zip(keys, replies, strict=True):
            if kind == COST:
                out.append((int(reply[0] or 0), int(reply[1] or 0)))
            else:
                out.append((int(reply or 0), 0))
        return out

    async def close(self) -> None:
        """Apply the adjustments already issued, then close the connection."""
        loop = asyncio.get_running_loop()
        batch = self._batch
        if batch is not None and batch.loop is loop:
            batch.handle.cancel()
            self._send(batch)
        applying = [reply for reply in self._applying if reply.get_loop() is loop]
        if applying:
            await asyncio.wait(applying)
        await self.client.aclose()


class MemoryBackend:
    """Counters in this process, with the same semantics as Redis: for a single gateway
    process (no ``REDIS_URL``), or tests. Never unavailable."""

    def __init__(self) -> None:
        # key -> [used or spent, reserved, expires at (monotonic)]
        self._counters: dict[str, list] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def _get(self, key: str, now: float) -> list | None:
        entry = self._counters.get(key)
        if entry is not None and entry[2] <= now:
            del self._counters[key]
            return None
        return entry

    def _entry(self, key: str, now: float, ttl_ms: int) -> list:
        entry = self._get(key, now)
        if entry is None:
            entry = self._counters[key] = [0, 0, now + ttl_ms / 1000]
        return entry

    def _purge(self, now: float) -> None:
        if now >= self._next_purge:
            self._next_purge = now + 5.0
            for key in [k for k, e in self._counters.items() if e[2] <= now]:
                del self._counters[key]

    async def admit(self, ops: list[AdmitOp]) -> AdmitResult:
        now = time.monotonic()
        with self._lock:
            self._purge(now)
            used, spent, allowed = [], [], True
            for op in ops:
                entry = self._get(op.key, now)
                value, reserved = (entry[0], entry[1]) if entry else (0, 0)
                total = value + reserved
                used.append(total)
                spent.append(value)
                if op.kind == REQUESTS:
                    allowed = allowed and total + op.increment <= op.limit
                else:
                    allowed = allowed and total < op.limit
            if allowed:
                for index, op in enumerate(ops):
                    if op.increment > 0:
                        entry = self._entry(op.key, now, op.ttl_ms)
                        entry[1 if op.kind == COST else 0] += op.increment
                        used[index] += op.increment
            return AdmitResult(allowed, used, spent)

    async def adjust(self, ops: list[AdjustOp]) -> None:
        self.adjust_soon(ops)

    def adjust_later(self, ops: list[AdjustOp]) -> None:
        self.adjust_soon(ops)

    def adjust_soon(self, ops: list[AdjustOp]) -> None:
        """Applied at once: nothing to wait for."""
        now = time.monotonic()
        with self._lock:
            for op in ops:
                if op.kind == COST:
                    if op.second == 0 and self._get(op.key, now) is None:
                        continue
                    entry = self._entry(op.key, now, op.ttl_ms)
                    entry[1] = max(0, entry[1] + op.first)
                    entry[0] += op.second
                elif op.first:
                    self._entry(op.key, now, op.ttl_ms)[0] += op.first

    async def read(self, keys: list[tuple[str, str]]) -> list[tuple[int, int]]:
        now = time.monotonic()
        with self._lock:
            out = []
            for key, _kind in keys:
                entry = self._get(key, now)
                out.append((entry[0], entry[1]) if entry else (0, 0))
            return out

    async def close(self) -> None:
        return None
