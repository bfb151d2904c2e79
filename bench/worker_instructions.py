"""Instructions the whole gateway worker runs per request, with and without guardrails.

``run.py``'s throughput ratios move by 0.1 and more between runs on a shared machine, and
``instructions.py`` counts the guarded code in isolation. This counts everything the real
worker does per request, uvicorn, aiohttp and the event loop included: the worker runs under
valgrind's callgrind, the bench upstream answers at full speed, and an in-process client sends
exactly ``--requests`` requests (8 at a time) per target and mode. Counters are zeroed before
each measurement and dumped after it, so each count covers those requests alone.

The event loop's thread is what serves requests; the worker's other threads (usage writer,
configuration watcher, heartbeat) are reported apart, since their polling runs per second of
wall time, and a worker slowed down fifty times by valgrind polls fifty times as often per
request. The loop's ratio (without / with) is the noise-free counterpart of ``run.py``'s
throughput ratio, less what instructions do not show (cache misses, batching under load).

    .venv/bin/python bench/worker_instructions.py [--requests 400] [--repeat 2]   # ~5 minutes

Needs valgrind (``apt-get install -y valgrind``).
"""

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from host import PYTHON, ROOT, free_port, fresh_environment, post_ok, start, wait_until

TARGETS = ("gateway", "guarded")
LOOP_FRAME = "uvloop_4loop_4Loop__run "  # the event loop's run, in callgrind's names
THREAD_FRAME = "thread_run"


def _load(url: str, key: str, content: str, stream: bool, requests: int) -> None:
    """Send exactly ``requests`` chat completions, 8 at a time; each must answer 200."""
    import aiohttp

    body = {"model": "bench-model", "messages": [{"role": "user", "content": content}]}
    data = json.dumps(body | ({"stream": True} if stream else {})).encode()
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


def _inclusive(dump: Path, frame: str) -> int | None:
    """The inclusive instructions of the first function whose name holds ``frame``, or None
    when no function does."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="per target and mode")
    parser.add_argument("--repeat", type=int, default=2, help="measurements of each")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("needs valgrind: apt-get install -y valgrind", file=sys.stderr)
        return 1
    tmp, env = fresh_environment("gatehouse-worker-", PYTHONHASHSEED="0")
    sys.path.insert(0, str(ROOT))
    from database import setup_database
    from run import PII_CONTENT

    upstream_port, gateway_port = free_port(), free_port()
    proxies = setup_database(
        upstream_port=upstream_port, gateway_port=gateway_port, targets=list(TARGETS)
    )
    base_url = f"http://127.0.0.1:{gateway_port}"
    urls = {t: f"{base_url}/{slug}/chat/completions" for t, (slug, _) in proxies.items()}
    keys = {t: key for t, (_, key) in proxies.items()}
    upstream_cmd = [PYTHON, "bench/upstream.py", "--port", str(upstream_port), "--placeholders"]
    upstream = start("upstream", upstream_cmd, env=env, logs=tmp)
    gateway_cmd = [
        *("valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp / 'callgrind'}.%p"),
        *(PYTHON, "manage.py", "run_gateway", "bench"),
        *("--host", "127.0.0.1", "--port", str(gateway_port), "--workers", "1"),
    ]
    gateway = start("gateway", gateway_cmd, env=env, logs=tmp)
    pid = gateway.popen.pid
    try:
        wait_until(
            lambda: post_ok(urls["gateway"], keys["gateway"]),
            timeout=300,
            what="the gateway under valgrind",
        )
        for target in TARGETS:  # warm up both paths, every branch compiled and cached
            for stream in (False, True):
                _load(urls[target], keys[target], PII_CONTENT, stream, 300)
        results: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        for _ in range(args.repeat):
            for stream in (False, True):
                for target in TARGETS:
                    _load(urls[target], keys[target], PII_CONTENT, stream, 50)
                    time.sleep(1)  # the usage writer's last batch
                    subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True)
                    _load(urls[target], keys[target], PII_CONTENT, stream, args.requests)
                    time.sleep(1)
                    before = set(tmp.glob(f"callgrind.{pid}.*"))
                    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True)
                    (dump,) = set(tmp.glob(f"callgrind.{pid}.*")) - before
                    loop = _inclusive(dump, LOOP_FRAME)
                    if loop is None:
                        raise SystemExit(f"{dump}: the event loop's function is not named there")
                    threads = _inclusive(dump, THREAD_FRAME) or 0
                    results.setdefault((target, stream), []).append(
                        (loop / args.requests, threads / args.requests)
                    )
    finally:
        gateway.stop(timeout=60)
        upstream.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("| mode | target | event loop instructions per request | other threads |")
    print("|---|---|---|---|")
    for (target, stream), counts in results.items():
        loops = " / ".join(f"{loop:,.0f}" for loop, _ in counts)
        threads = " / ".join(f"{other:,.0f}" for _, other in counts)
        print(f"| {'stream' if stream else 'plain'} | {target} | {loops} | {threads} |")
    for stream in (False, True):
        base = min(loop for loop, _ in results[("gateway", stream)])
        guarded = min(loop for loop, _ in results[("guarded", stream)])
        mode = "stream" if stream else "plain"
        extra = guarded - base
        print(f"{mode}: guardrails add {extra:,.0f} per request, ratio {base / guarded:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
