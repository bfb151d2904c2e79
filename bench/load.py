"""Load with wrk: one measurement, the soak, the profiled load, and the results table."""

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from database import usage_summary
from host import (
    BENCH,
    BUSY_CORES,
    OUT,
    PYTHON,
    ROOT,
    BenchFailed,
    ForeignLoad,
    Placement,
    cpu_seconds,
    rss_kb,
    thread_seconds,
    wait_for_quiet,
)
from profiles import summarise_profile

WRK_LINE = re.compile(r"^BENCH_RESULT (\{.*\})$", re.M)
ERROR_FIELDS = ("non_2xx", "connect_errors", "read_errors", "write_errors", "timeouts")


@dataclass
class Result:
    target: str
    mode: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    other_cores: float = 0.0
    # CPU time the gateway worker spent per request: what one dedicated core could serve
    # (1e6 / cpu_us), even when other processes disturbed the measured rate.
    cpu_us: float | None = None
    # ``cpu_us`` split three ways: the event loop's thread in user and in system mode, and
    # the worker's other threads; tells a slower loop from a busier usage writer.
    cpu_split: tuple[float, float, float] | None = None
    # Which round of ``--rounds`` measured it: comparisons pair measurements of one round.
    round: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def capacity(self) -> float | None:
        return 1e6 / self.cpu_us if self.cpu_us else None

    def line(self) -> str:
        text = (
            f"  {self.target:<7} {self.mode:<6} c={self.connections:<3} {self.rps:9,.0f} req/s  "
            f"p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms"
        )
        if self.cpu_us:
            text += f"  worker CPU {self.cpu_us:4.0f} us/req (1 core: {self.capacity:,.0f}/s)"
        if self.other_cores >= BUSY_CORES:
            text += f"  (other processes used {self.other_cores:.2f} cores: unreliable)"
        return text + (f"  ERRORS {self.errors}" if self.errors else "")


@dataclass
class Bench:
    """The running setup: where things are pinned, the URLs, the key, and what was sent."""

    place: Placement
    # Per target ("gateway", "guarded", "limited", "direct"): the URL wrk calls and its key.
    urls: dict[str, str]
    keys: dict[str, str]
    # The user message wrk sends (None: chat.lua's default).
    content: str | None = None
    gateway_pid: int | None = None
    own_pids: list[int] = field(default_factory=list)
    loads: list[subprocess.Popen] = field(default_factory=list)
    gateway_requests: int = 0
    failures: list[str] = field(default_factory=list)

    def wrk(self, *, target: str, mode: str, connections: int, seconds: float) -> subprocess.Popen:
        """Start wrk. It shares the upstream's core when measuring the gateway and takes the
        idle gateway core when measuring the upstream alone."""
        core = self.place.gateway if target == "direct" else self.place.upstream
        url = self.urls[target]
        cmd = [
            *("wrk", "-t1", f"-c{connections}", f"-d{max(round(seconds), 1)}s"),
            *("--timeout", "5s", "--latency", "-s", str(BENCH / "chat.lua"), url),
        ]
        env = {
            **os.environ,
            "BENCH_KEY": self.keys.get(target, self.keys["gateway"]),
            "BENCH_STREAM": "1" if mode == "stream" else "0",
        }
        if self.content:
            env["BENCH_CONTENT"] = self.content
        if target == "bedrock":
            env["BENCH_API"] = "converse"
        proc = subprocess.Popen(
            self.place.pin(core, cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.loads.append(proc)
        return proc

    def stop_load(self) -> None:
        """Stop any wrk still running (after an interruption)."""
        for proc in self.loads:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.loads.clear()

    def collect(
        self, proc: subprocess.Popen, *, target: str, mode: str, connections: int, label: str
    ) -> Result:
        """Wait for wrk, parse its summary, count gateway requests and record any errors."""
        out = proc.communicate()[0].decode(errors="replace")
        match = WRK_LINE.search(out)
        if not match:
            raise BenchFailed(f"wrk failed ({label}):\n{out}")
        data = json.loads(match.group(1))
        result = Result(
            target=target,
            mode=mode,
            connections=connections,
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            p50_ms=data["p50_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            errors={name: data[name] for name in ERROR_FIELDS if data[name]},
        )
        if target != "direct":
            self.gateway_requests += result.requests
        if result.errors:
            self.failures.append(f"{label}: {result.errors}")
        return result

    def measure(self, *, target: str, mode: str, connections: int, seconds: float) -> Result:
        foreign = ForeignLoad(self.own_pids)
        worker = self.gateway_pid if target != "direct" else None
        cpu_before = cpu_seconds(worker) if worker else 0.0
        split_before = thread_seconds(worker) if worker else None
        proc = self.wrk(target=target, mode=mode, connections=connections, seconds=seconds)
        label = f"{target} {mode} c={connections}"
        result = self.collect(proc, target=target, mode=mode, connections=connections, label=label)
        result.other_cores = round(foreign.cores(), 3)
        if worker and result.requests:
            result.cpu_us = round((cpu_seconds(worker) - cpu_before) / result.requests * 1e6, 1)
            split = zip(thread_seconds(worker), split_before, strict=True)
            result.cpu_split = tuple(
                round((after - before) / result.requests * 1e6, 1) for after, before in split
            )
        return result

    def steady_measure(
        self, *, target: str, mode: str, connections: int, seconds: float, retries: int
    ) -> Result:
        """Measure; when other processes competed for the CPU, wait for quiet and measure
        again (up to ``retries`` times), keeping the least disturbed measurement."""
        best = None
        for attempt in range(retries + 1):
            if attempt:
                wait_for_quiet(self.own_pids, limit=BUSY_CORES, patience=30)
            result = self.measure(
                target=target, mode=mode, connections=connections, seconds=seconds
            )
            print(result.line(), flush=True)
            if best is None or result.other_cores < best.other_cores:
                best = result
            if result.other_cores < BUSY_CORES:
                break
        return best

    # --- soak --------------------------------------------------------------------------------

    def soak(self, *, seconds: int, interval: float) -> dict[str, Any]:
        """Plain (c=32) and streamed (c=32) load at once; sample the worker's RSS throughout."""
        pid = self.gateway_pid
        start_kb = rss_kb(pid)
        procs = {
            mode: self.wrk(target="gateway", mode=mode, connections=32, seconds=seconds)
            for mode in ("plain", "stream")
        }
        began = time.monotonic()
        samples = [(0.0, start_kb)]
        while any(p.poll() is None for p in procs.values()):
            time.sleep(interval)
            samples.append((round(time.monotonic() - began, 1), rss_kb(pid)))
            if len(samples) % max(round(30 / interval), 1) == 1:  # a line about every 30 s
                print(f"  soak {samples[-1][0]:6.0f}s  worker RSS {samples[-1][1] / 1024:6.1f} MB")
        loaded = [kb for _, kb in samples[1:-1]] or [start_kb]
        for mode, proc in procs.items():
            result = self.collect(
                proc, target="gateway", mode=mode, connections=32, label=f"soak {mode}"
            )
            print(f"  soak {mode}: {result.requests:,} requests, {result.rps:,.0f} req/s")
        return {
            "start_mb": start_kb / 1024,
            "first_loaded_mb": loaded[0] / 1024,
            "peak_mb": max(loaded) / 1024,
            "end_mb": loaded[-1] / 1024,
            "after_mb": rss_kb(pid) / 1024,
            "samples": samples,
        }

    # --- profiling ---------------------------------------------------------------------------

    def profile(
        self, *, seconds: int, mode: str, target: str = "gateway", connections: int = 64
    ) -> str:
        """Sample the worker with py-spy under load; write a flamegraph, return a summary."""
        pyspy = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
        if not Path(pyspy).exists():
            raise BenchFailed("--profile needs py-spy (pip install py-spy).")
        OUT.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        raw = OUT / f"profile-{target}-{mode}-{stamp}.txt"
        svg = OUT / f"profile-{target}-{mode}-{stamp}.svg"
        load = self.wrk(target=target, mode=mode, connections=connections, seconds=seconds * 3)
        time.sleep(1)  # let the load reach a steady state before sampling
        try:
            for fmt, path in (("raw", raw), ("flamegraph", svg)):
                subprocess.run(
                    [
                        *(pyspy, "record", "--pid", str(self.gateway_pid)),
                        *("--duration", str(seconds), "--rate", "250", "--nonblocking", "--gil"),
                        *("--format", fmt, "--output", str(path)),
                    ],
                    check=True,
                    capture_output=True,
                )
        except subprocess.CalledProcessError as exc:
            raise BenchFailed(f"py-spy failed: {exc.stderr.decode(errors='replace')}") from None
        finally:
            load.send_signal(signal.SIGINT)  # wrk prints its summary when interrupted
            label = f"profile {target} {mode}"
            self.collect(load, target=target, mode=mode, connections=connections, label=label)
        return summarise_profile(raw) + f"\n  flamegraph: {svg.relative_to(ROOT)}"

    # --- usage records -----------------------------------------------------------------------

    def check_usage(self) -> dict[str, Any]:
        """Every completed request through the gateway must have left a usage record."""
        total, split = usage_summary()
        print(f"usage records: {total:,} for {self.gateway_requests:,} completed gateway requests")
        for name, count in split.items():
            print(f"  {name}: {count:,}")
        if total < self.gateway_requests:
            self.failures.append(
                f"only {total:,} usage records for {self.gateway_requests:,} completed requests"
            )
        if split["rejected_429"]:
            self.failures.append(f"{split['rejected_429']:,} requests were rejected with 429")
        return {"total": total, "expected_at_least": self.gateway_requests, "split": split}


def table(results: list[Result]) -> str:
    """A Markdown table: one row per mode and concurrency, gateway next to direct."""
    by = {(r.target, r.mode, r.connections): r for r in results}
    rows = sorted({(r.mode, r.connections) for r in results}, key=lambda k: (k[0] != "plain", k))
    head = (
        "| mode    |  c | gateway req/s | gw p50 ms | gw p99 ms | direct req/s | direct p50 ms "
        "| direct p99 ms | added p50 ms | gw CPU us/req | 1-core capacity |"
    )
    lines = [head, "|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|"]

    def cell(r: Result | None, attr: str, fmt: str) -> str:
        value = getattr(r, attr) if r else None
        return "-" if value is None else format(value, fmt)

    for mode, conns in rows:
        gw, direct = by.get(("gateway", mode, conns)), by.get(("direct", mode, conns))
        added = f"{gw.p50_ms - direct.p50_ms:+.2f}" if gw and direct else "-"
        busy = any(r and r.other_cores >= BUSY_CORES for r in (gw, direct))
        lines.append(
            f"| {mode + ('*' if busy else ''):<7} | {conns:>2} | {cell(gw, 'rps', ',.0f'):>13} "
            f"| {cell(gw, 'p50_ms', '.2f'):>9} | {cell(gw, 'p99_ms', '.2f'):>9} "
            f"| {cell(direct, 'rps', ',.0f'):>12} | {cell(direct, 'p50_ms', '.2f'):>13} "
            f"| {cell(direct, 'p99_ms', '.2f'):>13} | {added:>12} "
            f"| {cell(gw, 'cpu_us', '.0f'):>13} | {cell(gw, 'capacity', ',.0f'):>15} |"
        )
    if any(r.other_cores >= BUSY_CORES for r in results):
        lines.append(f"\n\\* other processes used ≥ {BUSY_CORES} cores during this row.")
    return "\n".join(lines)


# Throughput a configuration must keep, as a share of the same run without it (issues 4, 5).
# The floors: three content guardrails cost at most 20 %, two Redis-backed limits 35 %; a
# Bedrock Converse call signed with SigV4 at most twice the CPU of an OpenAI JSON call (issue
# 25), a floor on the CPU ratio rather than on throughput; a two-provider failover route at
# most 10 % when nothing fails, and at least half the throughput while its first provider
# fails everything (issue 26).
FLOORS = {"guarded": 0.80, "limited": 0.65, "bedrock": 0.50, "routed": 0.90, "storm": 0.50}
CPU_FLOORS = frozenset({"bedrock"})
LABELS = {
    "guarded": "3 guardrails",
    "limited": "2 limits (Redis)",
    "bedrock": "Bedrock SigV4",
    "routed": "failover route",
    "storm": "failover storm",
}
# Targets measured in some modes only (Bedrock's Converse: plain answers).
MODES = {"bedrock": ("plain",)}


def floor_text(target: str) -> str:
    floor = FLOORS[target]
    return f"≤ {1 / floor:.0f}x CPU" if target in CPU_FLOORS else f"≥ {floor:.0%}"


def comparison(results: list[Result], target: str) -> tuple[str, list[dict[str, Any]]]:
    """A Markdown table of ``target`` against the plain gateway, measured in the same run:
    throughput, the ratio, the worker's CPU per request, and the verdict against the floor.

    With several rounds, each round's ratio pairs two measurements taken one after the
    other, and the table gives the median ratio (the verdict's) and the range: the machine's
    speed drifts by more than the difference being measured within a minute."""
    by = {(r.target, r.mode, r.connections, r.round): r for r in results}
    floor = FLOORS[target]
    head = (
        f"| mode    |  c | none req/s | {LABELS[target]} req/s | ratio | range     "
        f"| none CPU us/req | with CPU us/req | CPU ratio | {floor_text(target)} |"
    )
    lines = [head, "|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|"]
    rows = []
    splits = []
    for mode, conns in sorted(
        {(r.mode, r.connections) for r in results if r.target == target},
        key=lambda k: (k[0] != "plain", k),
    ):
        pairs = [
            (by[("gateway", mode, conns, n)], by[(target, mode, conns, n)])
            for n in sorted({r.round for r in results})
            if ("gateway", mode, conns, n) in by and (target, mode, conns, n) in by
        ]
        pairs = [(base, other) for base, other in pairs if base.rps]
        if not pairs:
            continue
        ratios = [other.rps / base.rps for base, other in pairs]
        ratio = statistics.median(ratios)
        # Capacity ratio: what one dedicated core sustains with / without (noise-resistant).
        cpu_ratios = [b.cpu_us / o.cpu_us for b, o in pairs if b.cpu_us and o.cpu_us]
        cpu_ratio = statistics.median(cpu_ratios) if cpu_ratios else None
        busy = any(r.other_cores >= BUSY_CORES for pair in pairs for r in pair)
        judged = cpu_ratio if target in CPU_FLOORS else ratio
        verdict = "met" if judged is not None and judged >= floor else "MISSED"
        base_rps = statistics.median(b.rps for b, _ in pairs)
        other_rps = statistics.median(o.rps for _, o in pairs)
        base_cpu = statistics.median(b.cpu_us or 0 for b, _ in pairs)
        other_cpu = statistics.median(o.cpu_us or 0 for _, o in pairs)
        split = {
            name: [statistics.median(r.cpu_split[i] for r in runs) for i in range(3)]
            for name, runs in (("none", [b for b, _ in pairs]), ("with", [o for _, o in pairs]))
            if all(r.cpu_split for r in runs)
        }
        rows.append(
            {"mode": mode, "connections": conns, "ratio": ratio, "cpu_ratio": cpu_ratio}
            | {"ratios": ratios, "verdict": verdict, "busy": busy, "cpu_split": split}
        )
        if len(split) == 2:
            splits.append(
                f"  {mode} c={conns}: "
                + ", ".join(f"{k} {' / '.join(f'{v:.0f}' for v in split[k])}" for k in split)
            )
        cpu_text = "-" if cpu_ratio is None else f"{cpu_ratio:.2f}"
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else "-"
        lines.append(
            f"| {mode + ('*' if busy else ''):<7} | {conns:>2} | {base_rps:>10,.0f} "
            f"| {other_rps:>{len(LABELS[target]) + 6},.0f} | {ratio:5.2f} | {spread:<9} "
            f"| {base_cpu:>15.0f} | {other_cpu:>15.0f} | {cpu_text:>9} "
            f"| {verdict:>{len(floor_text(target))}} |"
        )
    if splits:
        lines += ["", "Worker CPU per request, median us (loop user / loop system / other threads)"]
        lines += splits
    return "\n".join(lines), rows
