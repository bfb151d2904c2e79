"""Instructions the gateway runs for its guardrails and limits, per request, counted exactly.

Throughput on a shared machine drifts by tens of percent between runs minutes apart, so
changes of a few percent to the guarded path cannot be told apart with ``run.py``. This
counts CPU instructions instead (valgrind's cachegrind without cache simulation), which do
not depend on what else the machine does. Each case runs in-process, with the benchmark's
own prompt, answers and policies, on the same code the gateway runs; the count per
iteration is the difference between a run with ``--iterations`` iterations and one with
none (both after the same warm-up), divided by the iterations.

    .venv/bin/python bench/instructions.py                     # every case, ~5 minutes
    .venv/bin/python bench/instructions.py guarded-request stream-plain --iterations 500

Cases:

- ``plain-request``: what every request through the gateway does with its body: parse it.
- ``guarded-request``: parse, the three guardrails' request phase, serialise the masked
  body, restore the placeholders in the raw answer, the usage record's guardrail details.
- ``stream-plain`` / ``stream-guarded``: relaying the bench upstream's placeholder stream
  (20 content events, usage, ``[DONE]``, one read each) without and with the guardrails'
  response phase (the request phase is done once, outside the count).
- ``stream-plain-whole`` / ``stream-guarded-whole``: the same stream arriving in one read, as
  it mostly does under load.
- ``limits``: admitting a request against the request and token limits and settling its
  usage, with the in-process counter store.
- ``limits-redis``: the same against Redis (``REDIS_URL``, default
  ``redis://127.0.0.1:6379/7``; keys under a prefix of their own, deleted afterwards), one
  request after another on an event loop: the client's work both ways, the loop's, not Redis's.

Needs valgrind (``apt-get install -y valgrind``).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CASES = (
    "plain-request",
    "guarded-request",
    "stream-plain",
    "stream-guarded",
    "stream-plain-whole",
    "stream-guarded-whole",
    "limits",
    "limits-redis",
)
WARMUP = 200


def _drive(coroutine):
    """Run a coroutine that never waits, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("the case waited on something")


def build_cases() -> dict:
    """Each case as a function running one iteration (Django is set up here)."""
    sys.path[:0] = [str(ROOT), str(BENCH)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import orjson
    import upstream
    from database import GUARDRAILS, LIMITS
    from run import PII_CONTENT

    from gateways.dataplane.adapters import OpenAICompatibleAdapter
    from gateways.relay import Exchange, _relay_sse, _relay_sse_guarded
    from guardrails.engine import EMPTY_CHAIN, compile_chain
    from guardrails.limits import compile_limits
    from guardrails.limits.backends import MemoryBackend
    from guardrails.limits.limiter import LimitContext, Limiter

    def attachments(policies):
        return [
            {"id": i, "policy": name, "version": "v1", "params": params}
            for i, (name, params) in enumerate(policies)
        ]

    chain = compile_chain(attachments(GUARDRAILS), [])
    body = orjson.dumps(
        {"model": "bench-model", "messages": [{"role": "user", "content": PII_CONTENT}]}
    )
    answer = upstream._completion("bench-model", 20, True)
    adapter = OpenAICompatibleAdapter({"adapter": "openai-compatible"})
    # The stream as the gateway reads it: one SSE event per read, HTTP chunking removed.
    reads = [frame.split(b"\r\n", 1)[1][:-2] for frame in upstream._stream("bench-model", 22, True)]
    reads = [r for r in reads if r]

    class Content:
        async def iter_any(self):
            for read in reads:
                yield read

    class Upstream:
        content = Content()

    class WholeContent:
        async def iter_any(self):
            yield b"".join(reads)

    class WholeUpstream:
        content = WholeContent()

    class Route:
        def __init__(self, chain):
            self.adapter, self.chain = adapter, chain

    guarded_route, plain_route = Route(chain), Route(EMPTY_CHAIN)
    masked: dict = {}
    _drive(chain.run_request(orjson.loads(body), masked))

    async def send(message):
        pass

    def stopped():
        pass

    def plain_request():
        orjson.loads(body)

    def guarded_request():
        parsed = orjson.loads(body)
        exchange = Exchange("bench-model")
        exchange.state = {}
        result = _drive(chain.run_request(parsed, exchange.state))
        exchange.note_guardrails(result.events)
        orjson.dumps(result.body)
        answered = chain.run_response_raw(answer, exchange.state)
        exchange.note_guardrails(answered.events)
        orjson.dumps(exchange.details)

    def stream(route, relay, state, upstream=Upstream):
        def one():
            exchange = Exchange("bench-model")
            exchange.status = 200
            exchange.state = dict(state) if state is not None else None
            _drive(relay(upstream, route, send, exchange, [], stopped))

        return one

    # The counted paths must do the work they stand for: the originals come back.
    sent: list[bytes] = []

    async def keep(message):
        sent.append(message.get("body", b""))

    relayed = []
    for upstream_reads in (Upstream, WholeUpstream):
        sent.clear()
        exchange = Exchange("bench-model")
        exchange.status, exchange.state = 200, dict(masked)
        _drive(_relay_sse_guarded(upstream_reads, guarded_route, keep, exchange, [], stopped))
        relayed.append(b"".join(sent))
    restored = chain.run_response_raw(answer, dict(masked)).body
    for text in (*relayed, restored):
        if b"jane.doe@example.com" not in text or b"[EMAIL_0000]" in text:
            raise SystemExit("the guarded paths did not restore the placeholders")

    limits = compile_limits(attachments(LIMITS), [])
    limiter = Limiter(MemoryBackend())
    usage = {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}
    request = orjson.loads(body)

    def limited():
        context = LimitContext("key", "POST /chat/completions", "bench-model", request, len(body))
        decision = _drive(limiter.admit(limits, context))
        limiter.settle_soon(decision.reservation, usage)

    return {
        "plain-request": plain_request,
        "guarded-request": guarded_request,
        "stream-plain": stream(plain_route, _relay_sse, None),
        "stream-guarded": stream(guarded_route, _relay_sse_guarded, masked),
        "stream-plain-whole": stream(plain_route, _relay_sse, None, WholeUpstream),
        "stream-guarded-whole": stream(guarded_route, _relay_sse_guarded, masked, WholeUpstream),
        "limits": limited,
    }


def inner(case: str, iterations: int) -> None:
    if case == "limits-redis":
        _limits_on_redis(WARMUP + iterations)
        return
    one = build_cases()[case]
    for _ in range(WARMUP + iterations):
        one()


def _limits_on_redis(times: int) -> None:
    build_cases()  # sets Django up
    import redis
    import uvloop
    from database import LIMITS

    from guardrails.limits import compile_limits
    from guardrails.limits.backends import RedisBackend
    from guardrails.limits.limiter import LimitContext, Limiter

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7"
    prefix = f"gatehouse:instructions:{os.getpid()}:"
    limits = compile_limits(
        [{"id": i, "policy": n, "version": "v1", "params": p} for i, (n, p) in enumerate(LIMITS)],
        [],
    )
    body = {"model": "bench-model", "messages": [{"role": "user", "content": "hi"}]}
    usage = {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}

    async def run() -> None:
        limiter = Limiter(RedisBackend.from_url(url), prefix=prefix)
        for _ in range(times):
            context = LimitContext("key", "POST /chat/completions", "bench-model", body, 80)
            decision = await limiter.admit(limits, context)
            if not decision.allowed:
                raise SystemExit(f"limits-redis: rejected ({decision.message})")
            limiter.settle_soon(decision.reservation, usage)
        await limiter.close()

    try:
        uvloop.run(run())
    finally:
        client = redis.Redis.from_url(url)
        stale = list(client.scan_iter(match=f"{prefix}*"))
        if stale:
            client.delete(*stale)


def count(valgrind: str, case: str, iterations: int) -> int:
    """Instructions of one process running ``case`` ``iterations`` times after the warm-up."""
    out = subprocess.run(
        [
            *(valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"),
            *(sys.executable, __file__, "--inner", case, str(iterations)),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=False,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"{case}: valgrind failed:\n{out.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help=f"any of {', '.join(CASES)} (default: all)")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--inner", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner[0], int(args.inner[1]))
        return 0
    unknown = [case for case in args.cases if case not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}: choose from {', '.join(CASES)}")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("needs valgrind: apt-get install -y valgrind", file=sys.stderr)
        return 1
    for case in args.cases or CASES:
        per = (count(valgrind, case, args.iterations) - count(valgrind, case, 0)) / args.iterations
        print(f"{case:16s} {per:>10,.0f} instructions per iteration", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
