"""Instructions the whole gateway worker runs per request, counted exactly.

``run.py``'s throughput moves by ±10 % between runs on a shared machine, so a change that costs
a few percent (a metric per call, a step every request takes) cannot be told apart with it.
This counts the worker's instructions instead: the worker runs under valgrind's callgrind, the
bench upstream answers at full speed, and an in-process client sends exactly ``--requests``
requests (8 at a time) to one of the benchmark's proxies (``--target``: the plain proxy,
``guarded`` with the three guardrails and the prompt carrying PII, ``routed`` with a healthy
failover route; ``--pii`` sends any target the guarded run's prompt and answer). Counters
are zeroed before each measurement and dumped after it, so each count covers those requests
alone. The event loop's thread is what serves requests; the worker's other threads (usage
writer, configuration watcher, heartbeat) are reported apart, since their polling runs per
second of wall time and valgrind slows the worker fifty times.

Run it in two checkouts (``git worktree add``) to compare commits:

    .venv/bin/python bench/instructions.py [--target routed] [--stream] [--requests 400]  # ~5 min

Needs valgrind (``apt-get install -y valgrind``).
"""

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import orjson
from database import setup_database, use_bench_environment
from host import PYTHON, ROOT, free_port, fresh_environment, post_ok, start, wait_until
from run import PII_CONTENT

LOOP_FRAME = "uvloop_4loop_4Loop__run "  # the event loop's run, in callgrind's names
THREAD_FRAME = "thread_run"
WARMUP = 300


def load(url: str, key: str, stream: bool, requests: int, content: str = "hello") -> None:
    """Send exactly ``requests`` chat completions, 8 at a time; each must answer 200."""
    body = {"model": "bench-model", "messages": [{"role": "user", "content": content}]}
    data = orjson.dumps(body | ({"stream": True} if stream else {}))
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

    async def run() -> None:
        left = [requests]
        async with aiohttp.ClientSession() as session:

            async def one_by_one() -> None:
                while left[0] > 0:
                    left[0] -= 1
                    async with session.post(url, data=data, headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            raise SystemExit(f"{url}: status {response.status}")

            await asyncio.gather(*(one_by_one() for _ in range(8)))

    asyncio.run(run())


def inclusive(dump: Path, frame: str) -> int | None:
    """The inclusive instructions of the first function whose name holds ``frame``."""
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        found = re.match(r"\s*([\d,]+) \([^)]*\)\s+(.*)$", line)
        if found and frame in found.group(2):
            return int(found.group(1).replace(",", ""))
    return None


def measure(pid: int, tmp: Path, send: Callable[[int], None], requests: int) -> tuple:
    send(50)
    time.sleep(1)  # the usage writer's last batch
    subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, check=False)
    send(requests)
    time.sleep(1)
    before = set(tmp.glob(f"callgrind.{pid}.*"))
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, check=False)
    (dump,) = set(tmp.glob(f"callgrind.{pid}.*")) - before
    loop = inclusive(dump, LOOP_FRAME)
    if loop is None:
        raise SystemExit(f"{dump}: the event loop's function is not named there")
    return loop / requests, (inclusive(dump, THREAD_FRAME) or 0) / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=2, help="measurements")
    parser.add_argument("--stream", action="store_true", help="streamed completions")
    parser.add_argument("--target", choices=("gateway", "guarded", "routed"), default="gateway")
    parser.add_argument(
        "--pii",
        action="store_true",
        help="send the guarded run's prompt (PII) and answer with placeholders, whatever the "
        "target: the plain proxy counted as run.py --guardrails compares it",
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("needs valgrind: apt-get install -y valgrind", file=sys.stderr)
        return 1
    use_bench_environment()
    tmp, env = fresh_environment("gatehouse-instructions-", PYTHONHASHSEED="0")
    upstream_port, gateway_port = free_port(), free_port()
    proxies = setup_database(
        upstream_port=upstream_port, gateway_port=gateway_port, targets=[args.target]
    )
    slug, key = proxies[args.target]
    url = f"http://127.0.0.1:{gateway_port}/{slug}/chat/completions"
    upstream_cmd = [PYTHON, str(ROOT / "bench" / "upstream.py"), "--port", str(upstream_port)]
    content = "hello"
    if args.target == "guarded" or args.pii:  # as run.py --guardrails: the same prompt and answer
        upstream_cmd.append("--placeholders")
        content = PII_CONTENT
    upstream = start("upstream", upstream_cmd, env=env, logs=tmp)
    gateway_cmd = [
        *("valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp / 'callgrind'}.%p"),
        *(PYTHON, "manage.py", "run_gateway", "bench"),
        *("--host", "127.0.0.1", "--port", str(gateway_port), "--workers", "1"),
    ]
    gateway = start("gateway", gateway_cmd, env=env, logs=tmp)
    counts = []
    try:
        wait_until(lambda: post_ok(url, key), timeout=300, what="the gateway under valgrind")

        def send(requests: int) -> None:
            load(url, key, args.stream, requests, content)

        send(WARMUP)  # every branch compiled and cached
        for _ in range(args.repeat):
            counts.append(measure(gateway.popen.pid, tmp, send, args.requests))
    finally:
        gateway.stop(timeout=60)
        upstream.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    mode = ("stream" if args.stream else "plain") + f" ({args.target}{', PII' if args.pii else ''})"
    loops = " / ".join(f"{loop:,.0f}" for loop, _ in counts)
    threads = " / ".join(f"{other:,.0f}" for _, other in counts)
    print("| mode | event loop instructions per request | other threads |")
    print("|---|---|---|")
    print(f"| {mode} | {loops} | {threads} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
