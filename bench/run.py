"""Benchmark the gateway data plane against a fast local fake upstream, in one command.

    .venv/bin/python bench/run.py [--duration 10] [--soak 300] [--profile 20]
    .venv/bin/python bench/run.py --guardrails --limits --targets gateway

Creates a fresh SQLite database in a temporary directory, sets up a provider (on the bench
upstream), a proxy, a gateway, a deployment and an API key through the services, starts the
upstream (pinned to core 1) and one gateway worker (pinned to core 0), warms up, then runs wrk
at concurrency 1, 8 and 64 for plain and streamed chat completions, through the gateway and
directly against the upstream. Prints requests/s, p50 and p99 and the latency the gateway adds.
``--guardrails`` and ``--limits`` add proxies with three content guardrails or a request and a
token limit (on Redis) to the same gateway worker and measure them next to the plain proxy,
printing each one's throughput as a share of the plain run; ``--bedrock`` adds an AWS Bedrock
proxy whose Converse calls are signed with SigV4, and compares its CPU per request;
``--routing`` adds a two-provider failover route, healthy and with its first provider failing
every call (a failover storm). Fails
(exit 1) when any request was not 2xx or when usage records are missing.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import urllib.request
from datetime import UTC, datetime
from typing import Any

from database import GATEWAY_SLUG, setup_database, usage_count, use_bench_environment
from host import (
    BENCH,
    BUSY_CORES,
    OUT,
    PYTHON,
    ROOT,
    BenchFailed,
    Process,
    cmdline,
    ensure_wrk,
    free_port,
    fresh_environment,
    machine,
    placement,
    post_ok,
    rss_kb,
    start,
    wait_for_quiet,
    wait_until,
    worker_pid,
)
from load import FLOORS, MODES, Bench, comparison, table

RESOURCE = "/chat/completions"
CONVERSE = "/model/bench-model/converse"
# With --guardrails every gateway target sends this prompt, so the runs with and without
# guardrails differ only in the guardrails: PII masking finds an email address and a phone
# number in it, and the upstream answers with their placeholders (restored on the way back).
PII_CONTENT = (
    "Please write to jane.doe@example.com or call +1 415 555 0134 and say hello to the benchmark."
)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the gateway with wrk.")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per mode")
    parser.add_argument("--connections", default="1,8,64", help="concurrency levels")
    parser.add_argument("--modes", default="plain,stream")
    parser.add_argument("--targets", default="gateway,direct", help="gateway, direct or both")
    parser.add_argument(
        "--guardrails",
        action="store_true",
        help="also measure a proxy with word count, regex and PII masking guardrails",
    )
    parser.add_argument(
        "--limits",
        action="store_true",
        help="also measure a proxy with a request limit and a token limit on Redis",
    )
    parser.add_argument(
        "--bedrock",
        action="store_true",
        help="also measure AWS Bedrock Converse calls signed with SigV4 (static keys)",
    )
    parser.add_argument(
        "--routing",
        action="store_true",
        help="also measure a two-provider failover route, healthy and with its first "
        "provider answering 503 to everything",
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/7",
        help="Redis for --limits (keys under a prefix unique to the run, removed at the end)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure each mode and level this many times, alternating the order of the "
        "targets; comparisons give the median of the rounds' ratios",
    )
    parser.add_argument("--soak", type=int, default=0, help="seconds of load sampling RSS")
    parser.add_argument("--soak-interval", type=float, default=5)
    parser.add_argument("--profile", type=int, default=0, help="seconds of py-spy per mode")
    parser.add_argument(
        "--profile-connections", type=int, default=64, help="concurrency while profiling"
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=3,
        help="times to repeat a measurement disturbed by other processes",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120,
        help="seconds to wait for other processes to stop using CPU before measuring",
    )
    parser.add_argument(
        "--server",
        choices=("run_gateway", "uvicorn"),
        default="run_gateway",
        help="start the worker with manage.py run_gateway, or the ASGI app under bare uvicorn",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (DB and logs)")
    args = parser.parse_args()
    args.levels = [int(c) for c in args.connections.split(",") if c]
    args.modes = [m for m in args.modes.split(",") if m]
    args.targets = [t for t in args.targets.split(",") if t]
    if set(args.modes) - {"plain", "stream"} or set(args.targets) - {"gateway", "direct"}:
        parser.error("modes are plain/stream; targets are gateway/direct")
    extra = [
        target
        for target, on in (
            ("guarded", args.guardrails),
            ("limited", args.limits),
            ("bedrock", args.bedrock),
            ("routed", args.routing),
            ("storm", args.routing),
        )
        if on
    ]
    if extra and "gateway" not in args.targets:
        args.targets.insert(0, "gateway")  # the comparisons need the run without them
    args.targets += extra
    return args


def check_restored(url: str, key: str, stream: bool) -> None:
    """One request through the guarded proxy: the placeholders the upstream sent back must
    reach the client restored, so the measured runs exercise the response path."""
    body = {"model": "bench-model", "messages": [{"role": "user", "content": PII_CONTENT}]}
    request = urllib.request.Request(
        url,
        data=json.dumps(body | ({"stream": True} if stream else {})).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    if stream:
        parts = [
            json.loads(line[6:])["choices"]
            for line in text.splitlines()
            if line.startswith("data: {")
        ]
        text = "".join(c[0]["delta"].get("content") or "" for c in parts if c)
    else:
        text = json.loads(text)["choices"][0]["message"]["content"]
    if "jane.doe@example.com" not in text or "+1 415 555 0134" not in text or "[" in text:
        raise BenchFailed(
            f"PII placeholders were not restored ({'SSE' if stream else 'JSON'}): {text!r}"
        )


def redis_setup(url: str) -> tuple[Any, str, int]:
    """A client, a key prefix unique to this run, and the Redis server's pid (its CPU is the
    benchmark's, not a disturbance)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        pid = int(client.info("server")["process_id"])
    except redis.RedisError as exc:
        raise BenchFailed(f"--limits needs Redis at {url}: {exc}") from None
    prefix = f"gatehouse-bench:{os.getpid()}:{datetime.now(UTC):%Y%m%dT%H%M%S}:"
    return client, prefix, pid


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = arguments()
    # Stop cleanly (processes stopped, temp dir removed) on Ctrl-C and on SIGTERM, even when
    # started in the background with SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    ensure_wrk()
    place = placement()
    info = machine()
    print(
        f"{info['date']}  commit {info['commit']}  {info['nproc']} cores ({info['cpu']})  "
        f"Python {info['python']}  {info['wrk']}",
        flush=True,
    )
    if place.gateway is None:
        print("Fewer than two cores (or no taskset): nothing is pinned.", flush=True)

    redis_client = redis_prefix = redis_pid = None
    if args.limits:
        redis_client, redis_prefix, redis_pid = redis_setup(args.redis_url)
    use_bench_environment()
    tmp, env = fresh_environment("gatehouse-bench-", PYTHONUNBUFFERED="1")
    if args.limits:
        env |= {"REDIS_URL": args.redis_url, "GATEHOUSE_LIMITS_KEY_PREFIX": redis_prefix}
    sys.path.insert(0, str(ROOT))
    upstream_port, gateway_port = free_port(), free_port()
    processes: list[Process] = []
    bench: Bench | None = None
    failures: list[str] = []
    report: dict[str, Any] = {"machine": info}
    try:
        proxies = setup_database(
            upstream_port=upstream_port, gateway_port=gateway_port, targets=args.targets
        )
        urls = {
            target: f"http://127.0.0.1:{gateway_port}/{slug}"
            + (CONVERSE if target == "bedrock" else RESOURCE)
            for target, (slug, _) in proxies.items()
        }
        bench = Bench(
            place=place,
            urls=urls | {"direct": f"http://127.0.0.1:{upstream_port}/v1{RESOURCE}"},
            keys={target: key for target, (_, key) in proxies.items()},
            content=PII_CONTENT if args.guardrails else None,
            failures=failures,
        )
        upstream_cmd = [PYTHON, str(BENCH / "upstream.py"), "--port", str(upstream_port)]
        if args.guardrails:
            upstream_cmd.append("--placeholders")
        processes.append(
            start("upstream", place.pin(place.upstream, upstream_cmd), env=env, logs=tmp)
        )
        key = bench.keys["gateway"]
        wait_until(lambda: post_ok(bench.urls["direct"], key), timeout=15, what="the upstream")
        if "gateway" in args.targets:
            gateway_cmd = [
                *(PYTHON, "manage.py", "run_gateway", GATEWAY_SLUG),
                *("--host", "127.0.0.1", "--port", str(gateway_port), "--workers", "1"),
            ]
            if args.server == "uvicorn":
                env["GATEHOUSE_GATEWAY"] = GATEWAY_SLUG
                gateway_cmd = [
                    *(PYTHON, "-m", "uvicorn", "gateways.asgi:application", "--no-access-log"),
                    *("--host", "127.0.0.1", "--port", str(gateway_port)),
                ]
            gateway = start("gateway", place.pin(place.gateway, gateway_cmd), env=env, logs=tmp)
            processes.append(gateway)

            def gateway_ready() -> bool:
                if gateway.popen.poll() is not None:
                    raise BenchFailed("The gateway exited during startup.")
                return post_ok(bench.urls["gateway"], key)

            wait_until(gateway_ready, timeout=60, what="the gateway to serve the bench proxy")
            bench.gateway_requests += 1
            for target in args.targets:
                if target not in ("gateway", "direct"):
                    if not post_ok(bench.urls[target], bench.keys[target]):
                        raise BenchFailed(f"The {target} proxy does not answer.")
                    bench.gateway_requests += 1
            if args.guardrails:
                for stream in (False, True):
                    check_restored(bench.urls["guarded"], bench.keys["guarded"], stream)
                    bench.gateway_requests += 1
            bench.gateway_pid = worker_pid(gateway.popen.pid)
            print(f"gateway worker pid {bench.gateway_pid}: {cmdline(bench.gateway_pid)}")

        bench.own_pids = [proc.popen.pid for proc in processes]
        if bench.gateway_pid and bench.gateway_pid not in bench.own_pids:
            bench.own_pids.append(bench.gateway_pid)
        if redis_pid:
            bench.own_pids.append(redis_pid)
        load = wait_for_quiet(bench.own_pids, limit=BUSY_CORES, patience=args.quiet_wait)
        report["other_cores_before"] = load
        if load >= BUSY_CORES:
            print(f"WARNING: other processes keep {load:.2f} cores busy; figures will be low.")
        print(f"warming up ({args.warmup:.0f}s per mode and target, c=8) ...", flush=True)
        for target in args.targets:
            for mode in args.modes:
                if mode in MODES.get(target, args.modes):
                    bench.measure(target=target, mode=mode, connections=8, seconds=args.warmup)
        if bench.gateway_pid:
            report["rss_after_warmup_mb"] = rss_kb(bench.gateway_pid) / 1024
            # Fail early rather than after the whole run when nothing reaches the database.
            wait_until(
                lambda: usage_count() > 0, timeout=15, what="the first usage records", interval=1
            )

        results = []
        for mode in args.modes:
            for conns in args.levels:
                for n in range(max(args.rounds, 1)):
                    # Every other round runs the targets backwards, so a drift of the
                    # machine's speed within a round favours none of them.
                    order = args.targets if n % 2 == 0 else args.targets[::-1]
                    for target in [t for t in order if mode in MODES.get(t, args.modes)]:
                        result = bench.steady_measure(
                            target=target,
                            mode=mode,
                            connections=conns,
                            seconds=args.duration,
                            retries=args.retries,
                        )
                        result.round = n
                        results.append(result)
        print()
        print(table(results))
        report["results"] = [r.__dict__ | {"rps": r.rps, "capacity": r.capacity} for r in results]
        for target in FLOORS:
            if target in args.targets:
                text, report[f"comparison_{target}"] = comparison(results, target)
                print(f"\n{text}")

        if bench.gateway_pid:
            report["rss_after_runs_mb"] = rss_kb(bench.gateway_pid) / 1024
            print(f"\ngateway worker RSS after the runs: {report['rss_after_runs_mb']:.1f} MB")
            profiled = [t for t in args.targets if t != "direct"] if args.profile else []
            for target in profiled:
                for mode in args.modes:
                    conns = args.profile_connections
                    print(
                        f"\nprofiling the gateway worker ({target} {mode}, c={conns}) ...",
                        flush=True,
                    )
                    name = f"profile_{mode}" if target == "gateway" else f"profile_{target}_{mode}"
                    report[name] = bench.profile(
                        seconds=args.profile, mode=mode, target=target, connections=conns
                    )
                    print(report[name], flush=True)
            if args.soak:
                print(f"\nsoak: {args.soak}s of plain c=32 + streamed c=32 ...", flush=True)
                report["soak"] = soak = bench.soak(seconds=args.soak, interval=args.soak_interval)
                print(
                    f"  worker RSS: start {soak['start_mb']:.1f} MB, first loaded sample "
                    f"{soak['first_loaded_mb']:.1f} MB, peak {soak['peak_mb']:.1f} MB, "
                    f"end {soak['end_mb']:.1f} MB, idle after {soak['after_mb']:.1f} MB"
                )
            # SIGTERM is a graceful stop: the gateway flushes its pending usage records.
            code = processes[-1].stop()
            print(f"\ngateway stopped (exit code {code})")
            report["usage_records"] = bench.check_usage()
    except BenchFailed as exc:
        failures.append(str(exc))
    except KeyboardInterrupt:
        failures.append("interrupted")
    finally:
        if bench is not None:
            bench.stop_load()
        for proc in reversed(processes):
            proc.stop()
        if failures:
            for proc in processes:
                print(f"\n--- last lines of the {proc.name} log ---\n{proc.tail()}")
        OUT.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        (OUT / f"results-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
        if redis_client is not None:
            stale = list(redis_client.scan_iter(match=f"{redis_prefix}*", count=1000))
            if stale:
                redis_client.delete(*stale)
        if args.keep:
            print(f"\nkept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("\nBENCHMARK FAILED:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    checked = " and usage records were written" if "gateway" in args.targets else ""
    print(f"\nall requests succeeded (2xx){checked}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
