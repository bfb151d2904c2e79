"""How the bench upstream's streams arrive at an aiohttp reader: reads per stream, by concurrency.

The guarded relay settles a read of whole events in one pass and feeds a read per event
event by event, at very different costs (``instructions.py``'s ``stream-guarded-whole`` and
``stream-guarded``). Which of them ``run.py`` measures depends on how the upstream's writes (one
per event) reach the gateway; this tells, with the gateway's own client library reading them
the way the relay does (``content.iter_any()``), several streams at a time on one event loop.

    .venv/bin/python bench/reads.py                       # c=1, 8, 64, 300 streams each
    .venv/bin/python bench/reads.py --connections 8 --streams 1000
"""

import argparse
import asyncio
import collections
import subprocess
import sys
from pathlib import Path

import aiohttp
import uvloop

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from host import free_port, post_ok, wait_until  # noqa: E402

BODY = {"model": "bench-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


async def _count(url: str, connections: int, streams: int) -> collections.Counter:
    """Reads per stream, ``connections`` streams at a time, ``streams`` in all."""
    reads: collections.Counter = collections.Counter()
    left = streams

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.post(url, json=BODY) as response:
                n = 0
                async for _ in response.content.iter_any():
                    n += 1
                reads[n] += 1

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(connections)))
    return reads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", default="1,8,64", help="concurrency levels")
    parser.add_argument("--streams", type=int, default=300, help="streams per level")
    args = parser.parse_args()
    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, str(BENCH / "upstream.py"), "--port", str(port), "--placeholders"],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    try:
        wait_until(lambda: post_ok(url, "bench"), timeout=15, what="the upstream")
        print("  c | streams | reads per stream: share of streams")
        for connections in (int(c) for c in args.connections.split(",")):
            reads = uvloop.run(_count(url, connections, args.streams))
            total = sum(reads.values())
            shares = ", ".join(
                f"{n}: {100 * count / total:.1f} %" for n, count in sorted(reads.items())
            )
            print(f"{connections:>3} | {total:>7} | {shares}")
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
