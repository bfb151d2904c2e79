"""The guardrail and limit paths timed hot and with the CPU's caches evicted before each run.

In the gateway worker each request's guarded code runs once, between uvicorn's, aiohttp's and
the event loop's, and finds its code and data out of the caches: it costs several times what
the same code costs in a loop (``RESULTS.md``, eleventh to thirteenth rounds), and instruction
counts (``instructions.py``) miss what that costs. This runs ``instructions.py``'s cases one at
a time, each after writing a buffer twice the size of the core's L2 (or ``--evict`` KB), and
prints the median of single runs, hot and cold, with the guarded cases' extra over the plain
ones.

    .venv/bin/python bench/cold.py                       # ~5 s
    .venv/bin/python bench/cold.py --runs 1000 --evict 8192
"""

import argparse
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from instructions import build_cases  # noqa: E402

PAIRS = (
    ("plain-request", "guarded-request"),
    ("stream-plain-whole", "stream-guarded-whole"),
    ("stream-plain", "stream-guarded"),
)


def l2_kb() -> int:
    """The first core's L2 cache size in KB, 2048 when the system does not tell."""
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            if (index / "level").read_text().strip() == "2":
                return int((index / "size").read_text().strip().rstrip("K"))
        except (OSError, ValueError):
            continue
    return 2048


def median_us(run, runs: int, evict: bytearray | None) -> float:
    """Median µs of ``runs`` single calls of ``run``, each after ``evict`` is written over."""
    lines = b"\x01" * (len(evict) // 64) if evict is not None else b""
    times = []
    for _ in range(runs):
        if evict is not None:
            evict[::64] = lines  # one byte per cache line: every line written, and owned
        start = time.perf_counter_ns()
        run()
        times.append(time.perf_counter_ns() - start)
    times.sort()
    return times[len(times) // 2] / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="single runs per case and state")
    parser.add_argument("--evict", type=int, default=0, help="KB written before a cold run")
    args = parser.parse_args()
    evict_kb = args.evict or 2 * l2_kb()
    cases = build_cases()
    for run in cases.values():  # warm up, as instructions.py does
        for _ in range(200):
            run()
    evict = bytearray(evict_kb * 1024)
    hot, cold = {}, {}
    for name, run in cases.items():
        hot[name] = median_us(run, args.runs, None)
        cold[name] = median_us(run, args.runs, evict)
    print(f"median of {args.runs} single runs; cold: after writing {evict_kb:,} KB\n")
    print("| case | hot µs | cold µs |")
    print("|---|---|---|")
    for name in cases:
        print(f"| {name} | {hot[name]:.1f} | {cold[name]:.1f} |")
    print("\n| guarded extra | hot µs | cold µs |")
    print("|---|---|---|")
    for plain, guarded in PAIRS:
        print(
            f"| {guarded} | {hot[guarded] - hot[plain]:+.1f} | {cold[guarded] - cold[plain]:+.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
