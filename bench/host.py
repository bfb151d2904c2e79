"""The machine side of the benchmark: paths, tools, core placement, the processes it starts,
and what /proc says about their memory and CPU (and about everyone else's CPU)."""

import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
PYTHON = sys.executable
PACKAGES = (
    "django",
    "uvicorn",
    "gunicorn",
    "httptools",
    "uvloop",
    "httpx",
    "httpx-aiohttp",
    "aiohttp",
    "orjson",
)
# Foreign CPU load above this (in cores) marks a measurement as unreliable.
BUSY_CORES = 0.15


class BenchFailed(Exception):
    """The benchmark could not run or the gateway answered wrongly; the message says why."""


# --- environment -----------------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk is the load generator; install it when we can (root on Debian), else say how."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found; installing it with apt-get ...", flush=True)
        subprocess.run(["apt-get", "update"], check=False, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
        if found:
            return found
    raise BenchFailed(
        "wrk is not installed. Install it with `apt-get install -y wrk` (Debian/Ubuntu), "
        "`brew install wrk` (macOS), or build it from https://github.com/wg/wrk."
    )


@dataclass(frozen=True)
class Placement:
    """Which core runs what. With two or more cores the gateway gets core 0 to itself."""

    gateway: str | None
    upstream: str | None

    def pin(self, core: str | None, cmd: list[str]) -> list[str]:
        return ["taskset", "-c", core, *cmd] if core is not None else cmd


def placement() -> Placement:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return Placement(gateway="0", upstream="1")
    return Placement(gateway=None, upstream=None)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    commit = _git("rev-parse", "--short", "HEAD")
    if _git("status", "--porcelain"):
        commit += " (+ uncommitted changes)"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
        "command": " ".join([Path(PYTHON).name, *sys.argv]),
    }


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, *, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise BenchFailed(f"Timed out after {timeout:.0f}s waiting for {what}.")


def post_ok(url: str, key: str) -> bool:
    body = b'{"model":"bench-model","messages":[{"role":"user","content":"ping"}]}'
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200 and b'"usage"' in response.read()
    except (urllib.error.URLError, OSError):
        return False


def fresh_environment(prefix: str, **extra: str) -> tuple[Path, dict[str, str]]:
    """A new temporary directory and the environment of a run on a fresh SQLite database in
    it, without Redis; this process's Django settings point at the same database."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **extra,
    }
    env.pop("REDIS_URL", None)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
    return tmp, env


# --- processes -------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (a graceful stop: the gateway flushes usage records), then SIGKILL."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        return self.popen.returncode


def start(name: str, cmd: list[str], *, env: dict[str, str], logs: Path) -> Process:
    log = logs / f"{name}.log"
    handle = log.open("wb")
    popen = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    handle.close()
    return Process(name=name, popen=popen, log=log)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def worker_pid(root: int) -> int:
    """The process that serves requests: the root itself (uvicorn, one worker) or, under a
    process manager such as gunicorn, its descendant with no children and the largest RSS."""
    tree = _children()
    leaves, stack = [], [root]
    while stack:
        pid = stack.pop()
        kids = tree.get(pid, [])
        if not kids and pid != root:
            leaves.append(pid)
        stack.extend(kids)
    if not leaves:
        return root
    return max(leaves, key=rss_kb)


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _times(stat: str) -> tuple[float, float]:
    """User and system CPU seconds from a ``/proc`` ``stat`` file (0 if it is gone)."""
    try:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    return sum(_times(f"/proc/{pid}/stat"))


def thread_seconds(pid: int) -> tuple[float, float, float]:
    """CPU time of a process split three ways: its main thread (the gateway worker's event
    loop) in user and in system mode, and all its other threads (usage writer, watchers)."""
    user = system = others = 0.0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return user, system, others
    for tid in tids:
        times = _times(f"/proc/{pid}/task/{tid}/stat")
        if int(tid) == pid:
            user, system = times
        else:
            others += sum(times)
    return user, system, others


def busy_seconds() -> float:
    """CPU time spent by the whole machine (all cores, everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


class ForeignLoad:
    """Measures CPU used by processes that are not part of the benchmark, which makes a
    measurement unreliable on a shared machine. wrk is counted through the children's rusage
    (it has been waited for by then); kernel network work not charged to a process shows up
    here too, so a few percent is normal."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.began = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        own = sum(cpu_seconds(pid) for pid in self.pids)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.monotonic(), busy_seconds(), own + children.ru_utime + children.ru_stime

    def cores(self) -> float:
        """Average number of cores the foreign load used since this object was created."""
        now, busy, own = self._sample()
        wall = now - self.began[0]
        return max(0.0, (busy - self.began[1]) - (own - self.began[2])) / wall if wall else 0.0


def wait_for_quiet(pids: list[int], *, limit: float, patience: float) -> float:
    """Wait (up to ``patience`` seconds) until other processes use under ``limit`` cores."""
    deadline = time.monotonic() + patience
    while True:
        probe = ForeignLoad(pids)
        time.sleep(2)
        load = probe.cores()
        if load < limit or time.monotonic() > deadline:
            return load
        print(f"  the machine is busy ({load:.2f} cores used by other processes); waiting ...")
