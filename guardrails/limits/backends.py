"""Counter storage: Redis (shared by every gateway process) or in-process (one process).

Both backends offer the same operations with the same semantics:

- ``await admit(ops)`` checks every counter of one request and, only when all pass, applies
  each op's increment, atomically. A request counter passes when ``used + increment <=
  limit``; token and cost counters pass while ``used < limit`` (they block once exhausted). A
  cost counter is a hash of settled spend ``s`` and outstanding reservations ``r``; its
  ``used`` is their sum and its increment is a reservation.
- ``adjust(ops)`` settles or releases: adds tokens, moves a reservation into spend, never
  leaves a negative reservation. It returns at once; ``await flush()`` waits until every
  adjustment queued so far has been applied (or has failed: failures of adjustments nobody
  waits for go to ``on_failure``, once per failed call).
- ``await read(keys)`` returns the counters' values for display.
- ``await close()`` applies what is queued, then lets go of the store.

Keys carry their window start, so a new window starts from zero without any reset; every
key expires shortly after its window ends.
"""

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

REQUESTS = "r"
TOKENS = "t"
COST = "c"

# Admissions, each checked and counted on its own, all or nothing, in the order given.
# KEYS: every admission's counter keys, one admission after the other. ARGV[1]: JSON, per
# admission a list of [kind, limit, increment, TTL in ms], one per counter.
# Returns per admission {allowed (1 or 0), then per counter: used, spent}.
ADMIT_SCRIPT = """
local results = {}
local key_index = 0
for _, counters in ipairs(cjson.decode(ARGV[1])) do
  local allowed = 1
  local used = {}
  local spent = {}
  for i, counter in ipairs(counters) do
    local key = KEYS[key_index + i]
    local kind, limit, increment = unpack(counter)
    if kind == 'c' then
      local values = redis.call('HMGET', key, 's', 'r')
      spent[i] = tonumber(values[1]) or 0
      used[i] = spent[i] + (tonumber(values[2]) or 0)
    else
      used[i] = tonumber(redis.call('GET', key)) or 0
      spent[i] = used[i]
    end
    -- A request must fit its request counter; token and cost counters block once exhausted.
    if kind == 'r' then
      if used[i] + increment > limit then allowed = 0 end
    elseif used[i] >= limit then
      allowed = 0
    end
  end
  if allowed == 1 then
    for i, counter in ipairs(counters) do
      local key = KEYS[key_index + i]
      local kind, _, increment, ttl = unpack(counter)
      if increment > 0 then
        if kind == 'c' then
          redis.call('HINCRBY', key, 'r', increment)
        else
          redis.call('INCRBY', key, increment)
        end
        if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ttl) end
        used[i] = used[i] + increment
      end
    end
  end
  local result = {allowed}
  for i = 1, #counters do
    result[2 * i] = used[i]
    result[2 * i + 1] = spent[i]
  end
  results[#results + 1] = result
  key_index = key_index + #counters
end
return results
"""

# Settles and releases, in the order given. KEYS: the counters' keys. ARGV[1]: JSON, per key
# [kind, first, second, TTL in ms]: for tokens, the tokens to add (first); for cost, the
# change of the reservations (first) and the spend to add (second). A cost counter that has
# expired is not brought back by a release alone, and its reservations never go below zero.
ADJUST_SCRIPT = """
for i, adjustment in ipairs(cjson.decode(ARGV[1])) do
  local key = KEYS[i]
  local kind, first, second, ttl = unpack(adjustment)
  if kind == 'c' then
    if second ~= 0 or redis.call('EXISTS', key) == 1 then
      if first ~= 0 and redis.call('HINCRBY', key, 'r', first) < 0 then
        redis.call('HSET', key, 'r', 0)
      end
      if second ~= 0 then redis.call('HINCRBY', key, 's', second) end
      if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ttl) end
    end
  elseif first ~= 0 then
    redis.call('INCRBY', key, first)
    if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ttl) end
  end
end
return 1
"""


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


def release_ops(ops: list[AdmitOp]) -> list[AdjustOp]:
    """What gives back the reservations an admission of ``ops`` made."""
    return [
        AdjustOp(op.key, COST, -op.increment, 0, op.ttl_ms)
        for op in ops
        if op.kind == COST and op.increment > 0
    ]


class LoopPassBatch:
    """The admissions and adjustments issued during one pass of the event loop, handed to
    ``send`` together at the start of the next pass; while that call is out, what the
    following passes issue gathers for the call after it (one call in flight at a time).

    Why: a round trip through redis-py costs the gateway worker more CPU than its script
    costs Redis, and under load many requests reach the limiter in the same pass, or while
    the previous call is out; one round trip for all of them pays that cost once instead of
    once or twice per request. Nothing waits for company: when no call is out, a pass's
    batch leaves in the very next pass.
    """

    # Measured (bench/run.py --limits, plain): the limits cost 28-29 % of the throughput at
    # c=8 and 5-11 % at c=64, against 47 % and 14 % with a script call per admission and settle.

    def __init__(
        self,
        send: Callable[
            [list[tuple[list[AdmitOp], asyncio.Future]], list[AdjustOp]], Awaitable[None]
        ],
    ) -> None:
        self.send = send  # handles its own errors: nobody awaits the sender
        self.admissions: list[tuple[list[AdmitOp], asyncio.Future]] = []
        self.adjustments: list[AdjustOp] = []
        self.sender: asyncio.Task | None = None  # sends until nothing is queued

    def add_admission(self, ops: list[AdmitOp], admitted: asyncio.Future) -> None:
        self.admissions.append((ops, admitted))
        self._start_sender()

    def add_adjustments(self, ops: list[AdjustOp]) -> None:
        self.adjustments.extend(ops)
        self._start_sender()

    def _start_sender(self) -> None:
        if self.sender is None:
            # A new task's first step runs in the next pass, after this pass's requests.
            self.sender = asyncio.get_running_loop().create_task(self._send_queued())

    async def _send_queued(self) -> None:
        try:
            while self.admissions or self.adjustments:
                admissions, self.admissions = self.admissions, []
                adjustments, self.adjustments = self.adjustments, []
                await self.send(admissions, adjustments)
        finally:
            self.sender = None

    async def drain(self) -> None:
        """Wait until everything queued so far has been sent and answered."""
        while self.sender is not None:
            await asyncio.wait([self.sender])


class RedisBackend:
    """Counters in Redis through redis-py's asyncio client (hiredis parses the replies).
    Every operation is one script call, so N processes and M hosts share each counter
    exactly. Needs a single Redis (or a primary behind Sentinel): the keys of one request may
    live in different Cluster slots.

    The admissions of one batch (a loop pass, see ``LoopPassBatch``) travel in one call of
    ``ADMIT_SCRIPT``, its settles and releases in one call of ``ADJUST_SCRIPT``, the two
    pipelined in one round trip when a batch has both, adjustments first, so an admission
    sees every settle issued before it. Each caller awaits its own future, so a cancelled
    caller leaves the others alone; an admission whose caller was cancelled while its call
    was in flight has its cost reservations released as soon as the answer is in.
    """

    def __init__(self, client: aioredis.Redis, *, cooldown: float = 1.0) -> None:
        self.client = client
        self.admit_script = client.register_script(ADMIT_SCRIPT)
        self.adjust_script = client.register_script(ADJUST_SCRIPT)
        # After a failure, fail at once for a moment instead of paying a timeout per request.
        self._cooldown = cooldown
        self._down_until = 0.0
        self.batch = LoopPassBatch(self._send)
        # Told once per failed call of adjustments (nobody waits for those).
        self.on_failure: Callable[[BackendUnavailable], None] | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 1.0, cooldown: float = 1.0) -> "RedisBackend":
        """A backend on ``url`` (``redis://``, ``rediss://``, ``unix://``). No retries: a
        script that timed out may have run, and running it again would count twice; the
        failure mode of each limit decides instead."""
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, cooldown=cooldown)

    async def ping(self) -> bool:
        """Whether Redis answers now (for readiness checks)."""
        try:
            return bool(await self.client.ping())
        except Exception:  # RedisError, OSError: not reachable
            return False

    def _check_available(self) -> None:
        if self._down_until and time.monotonic() < self._down_until:
            raise BackendUnavailable("Redis is unavailable (cooling down after an error).")

    def _failed(self, exc: BaseException) -> BackendUnavailable:
        """Start the cool-down; the error to report."""
        self._down_until = time.monotonic() + self._cooldown
        return BackendUnavailable(f"Redis is unavailable: {exc.__class__.__name__}")

    async def admit(self, ops: list[AdmitOp]) -> AdmitResult:
        self._check_available()
        admitted = asyncio.get_running_loop().create_future()
        self.batch.add_admission(ops, admitted)
        return await admitted

    def adjust(self, ops: list[AdjustOp]) -> None:
        """Queue ``ops`` for the next call (see ``LoopPassBatch``). Raises
        ``BackendUnavailable`` at once while cooling down."""
        if ops:
            self._check_available()
            self.batch.add_adjustments(ops)

    async def _send(
        self, admissions: list[tuple[list[AdmitOp], asyncio.Future]], adjustments: list[AdjustOp]
    ) -> None:
        """One batch: its adjustments, then its admissions, in one round trip."""
        # A caller cancelled before the call left is simply not admitted.
        admissions = [(ops, admitted) for ops, admitted in admissions if not admitted.done()]
        calls = []
        if adjustments:
            # Each op is (key, kind, first, second, ttl_ms): the script takes all but the key.
            entries = orjson.dumps([op[1:] for op in adjustments])
            calls.append((self.adjust_script, [op.key for op in adjustments], entries))
        if admissions:
            # Each op is (key, kind, limit, increment, ttl_ms): likewise.
            entries = orjson.dumps([[op[1:] for op in ops] for ops, _ in admissions])
            keys = [op.key for ops, _ in admissions for op in ops]
            calls.append((self.admit_script, keys, entries))
        if not calls:
            return
        try:
            replies = await self._call_scripts(calls)
        except asyncio.CancelledError:
            for _, admitted in admissions:
                admitted.cancel()
            raise
        except Exception as exc:  # RedisError, OSError; anything else must not hang callers
            replies = [exc] * len(calls)
        error = next((reply for reply in replies if isinstance(reply, Exception)), None)
        if error is None:
            self._down_until = 0.0
        else:
            failure = self._failed(error)
            if adjustments and isinstance(replies[0], Exception) and self.on_failure is not None:
                self.on_failure(failure)
        if admissions:
            self._admitted(admissions, replies[-1])

    async def _call_scripts(self, calls: list[tuple[AsyncScript, list[str], bytes]]) -> list:
        """The replies of ``(script, keys, argument)`` calls made in one round trip, an
        exception in place of a call's error reply. A script Redis has forgotten (a restart,
        ``SCRIPT FLUSH``) is loaded and its call made again, as ``AsyncScript`` does."""
        if len(calls) == 1:
            script, keys, argument = calls[0]
            return [await script(keys=keys, args=[argument])]
        pipeline = self.client.pipeline(transaction=False)
        for script, keys, argument in calls:
            pipeline.evalsha(script.sha, len(keys), *keys, argument)
        replies = await pipeline.execute(raise_on_error=False)
        for index, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                script, keys, argument = calls[index]
                replies[index] = await script(keys=keys, args=[argument])
        return replies

    def _admitted(self, admissions: list[tuple[list[AdmitOp], asyncio.Future]], reply) -> None:
        """Hand each caller its admission's result, or the store's failure."""
        if isinstance(reply, Exception):
            for _, admitted in admissions:
                if not admitted.done():
                    # One exception each: raising one adds a traceback to it.
                    error = BackendUnavailable(f"Redis is unavailable: {type(reply).__name__}")
                    error.__cause__ = reply
                    admitted.set_exception(error)
            return
        for (ops, admitted), result in zip(admissions, reply, strict=True):
            allowed = result[0] == 1
            if not admitted.done():
                admitted.set_result(AdmitResult(allowed, result[1::2], result[2::2]))
            elif allowed and (releases := release_ops(ops)):
                # Its caller was cancelled while the call was in flight: nobody will settle
                # or release this admission, so its reservations are given back now.
                self.batch.add_adjustments(releases)

    async def flush(self) -> None:
        """Wait until the admissions and adjustments issued so far have been answered, and
        the releases those answers queued (for callers gone meanwhile) applied."""
        await self.batch.drain()

    async def read(self, keys: list[tuple[str, str]]) -> list[tuple[int, int]]:
        """``(used, reserved)`` for each ``(key, kind)``; ``reserved`` is 0 except for cost.
        One round trip: the reads are pipelined (not batched: the admin reads, not requests)."""
        self._check_available()
        pipeline = self.client.pipeline(transaction=False)
        for key, kind in keys:
            if kind == COST:
                pipeline.hmget(key, "s", "r")
            else:
                pipeline.get(key)
        try:
            replies = await pipeline.execute()
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        self._down_until = 0.0
        out = []
        for (_, kind), reply in zip(keys, replies, strict=True):
            if kind == COST:
                out.append((int(reply[0] or 0), int(reply[1] or 0)))
            else:
                out.append((int(reply or 0), 0))
        return out

    async def close(self) -> None:
        """Apply what is queued, then close the connections."""
        await self.flush()
        await self.client.aclose()


class MemoryBackend:
    """Counters in this process, with the same semantics as Redis: for a single gateway
    process (no ``REDIS_URL``), or tests. Never unavailable, and applies everything at once
    (an admission never waits, so no caller can be cancelled in the middle of one)."""

    def __init__(self) -> None:
        # key -> [used or spent, reserved, expires at (monotonic)]
        self._counters: dict[str, list] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0
        self.on_failure: Callable[[BackendUnavailable], None] | None = None  # never called

    async def ping(self) -> bool:
        return True

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

    def adjust(self, ops: list[AdjustOp]) -> None:
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

    async def flush(self) -> None:
        return None

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
