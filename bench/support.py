"""What every benchmark needs: a database, server processes, the load generator, a table.

The load generator is Debian's ``wrk`` (C, one thread): on a 2-core machine a Python client
would take as much CPU as the server it measures. Each run still reports the CPU that the
server, wrk and everything else on the machine used, so a reader can tell a saturated server
from a busy machine.
"""

from __future__ import annotations

import json
import os
import platform as host_platform
import resource
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.database import POSTGRES_ADMIN_URL as TEST_POSTGRES_URL
from tests.support.database import temporary_database
from tests.support.processes import ManagedProcess, free_port, wait_for_http

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = TEST_POSTGRES_URL
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- databases --------------------------------------------------------------------------------

def bench_database(kind: str, directory: Path) -> AbstractContextManager[str]:
    """An empty database of ``kind`` (``sqlite`` or ``postgresql``), dropped afterwards."""
    return temporary_database(directory, kind, prefix="xkit_bench")


def vacuum_analyze(database_url: str) -> None:
    """Fresh planner statistics after a bulk load, as autovacuum would give a while later."""
    if not database_url.startswith("postgresql"):
        return
    url = database_url.replace("postgresql+asyncpg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# --- the machine ------------------------------------------------------------------------------

def machine_description() -> str:
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            postgres = f"PostgreSQL {row[0] if row else '?'}"
    except psycopg.Error:
        postgres = "PostgreSQL unreachable"
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (f"{os.cpu_count()} cores, {memory_kb / 1024 / 1024:.0f} GiB RAM, "
            f"Python {host_platform.python_version()}, {postgres}, "
            f"load average {' '.join(load)} at start")


class CpuMeter:
    """Machine-wide CPU use between two readings of /proc/stat, in cores busy."""

    def __init__(self) -> None:
        self.start_busy, self.start_time = self._read(), time.monotonic()

    @staticmethod
    def _read() -> float:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return (sum(fields[:8]) - idle) / CLOCK_TICKS

    def cores_busy(self) -> float:
        elapsed = time.monotonic() - self.start_time
        return (self._read() - self.start_busy) / elapsed if elapsed > 0 else 0.0


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (and of its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS


def process_rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process, in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (``xkit serve --workers N``'s children)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        children = parents.get(queue.pop(), [])
        found += children
        queue += children
    return found


# --- servers ----------------------------------------------------------------------------------

def production_environment(database_url: str, encryption_keys: str, data_dir: Path,
                           **extra: str) -> dict[str, str]:
    """What an operator runs in production: info-level JSON logs, migrations done beforehand,
    the default database pool."""
    return {
        "XKIT_DATABASE_URL": database_url,
        "XKIT_ENCRYPTION_KEYS": encryption_keys,
        "XKIT_DATA_DIR": str(data_dir),
        "XKIT_LOG_LEVEL": "info",
        "XKIT_LOG_FORMAT": "json",
        "XKIT_MIGRATE_ON_START": "false",
        # one load generator is one client address: the connect benchmark would hit the limit
        "XKIT_RATE_LIMIT_PUBLIC_PER_MINUTE": "1000000",
        **extra,
    }


class Server:
    """One server process on a free port: ``xkit serve``, or the baseline under uvicorn."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log_path: Path,
                 port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        self.process = ManagedProcess(args, env={**env, "PYTHONPATH": python_path},
                                      log_path=log_path, cwd=REPO_ROOT)
        try:
            wait_for_http(f"{self.url}/healthz", process=self.process.process, timeout=60)
        except (RuntimeError, TimeoutError) as exc:
            self.process.stop()
            raise RuntimeError(f"{exc}\n{self.process.output()[-3000:]}") from None

    @classmethod
    def xkit(cls, env: dict[str, str], log_path: Path, port: int | None = None) -> Server:
        port = port or free_port()
        env = {**env, "XKIT_PUBLIC_URL": env.get("XKIT_PUBLIC_URL", f"http://127.0.0.1:{port}")}
        return cls([sys.executable, "-m", "xkit", "serve", "--port", str(port)], env,
                   log_path, port)

    @classmethod
    def baseline(cls, env: dict[str, str], log_path: Path) -> Server:
        """The bare ASGI app, on the same server (uvicorn with uvloop and httptools)."""
        port = free_port()
        return cls([sys.executable, "-m", "uvicorn", "bench.baseline:app", "--port", str(port),
                    "--no-access-log", "--log-level", "warning", "--no-server-header"],
                   env, log_path, port)

    @property
    def pid(self) -> int:
        return self.process.process.pid

    @property
    def pids(self) -> list[int]:
        """Every process of the server: one, or the parent and the children of
        ``XKIT_WORKERS`` > 1 (whose CPU counts as the server's)."""
        return [self.pid, *descendants(self.pid)]

    def peak_rss_mb(self) -> float:
        """The peak RSS of the server's largest process (per-process memory is the target)."""
        return max(process_rss_mb(pid)[1] for pid in self.pids)

    def total_rss_mb(self) -> float:
        """The RSS of all the server's processes together, now."""
        return sum(process_rss_mb(pid)[0] for pid in self.pids)

    def stop(self) -> None:
        self.process.stop()


# --- the load generator -----------------------------------------------------------------------

WRK_SCRIPT = """
wrk.headers["Authorization"] = "Bearer {secret}"
local count = {count}
local first = true
request = function()
  if first then math.randomseed(os.time() + {seed}); first = false end
  return wrk.format("GET", "{prefix}" .. math.random(0, count - 1) .. "{suffix}")
end
"""
# Appended to every script: one line of JSON that run_wrk_script reads.
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    requests: int
    seconds: float
    errors: int  # timeouts included
    p50_ms: float
    p99_ms: float
    server_cpu: float  # cores the server processes kept busy
    loadgen_cpu: float  # cores wrk kept busy
    machine_cpu: float  # cores busy machine-wide, others' work included
    timeouts: int = 0  # requests wrk gave up on after 10 s

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def others_cpu(self) -> float:
        return max(0.0, self.machine_cpu - self.server_cpu - self.loadgen_cpu)


def require_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("the benchmarks need Debian's wrk: apt-get install wrk")
    return found


def run_wrk(url: str, *, secret: str, path_prefix: str, path_suffix: str, count: int,
            concurrency: int, seconds: float, server_pids: Sequence[int],
            script_dir: Path) -> LoadResult:
    """``GET {url}{prefix}{random 0..count-1}{suffix}`` over ``concurrency`` keep-alive
    connections for ``seconds``, from one wrk thread."""
    lua = WRK_SCRIPT.format(secret=secret, count=count, prefix=path_prefix, suffix=path_suffix,
                            seed=secrets.randbelow(10_000))
    return run_wrk_script(url, lua, concurrency=concurrency, seconds=seconds,
                          server_pids=server_pids, script_dir=script_dir)


def run_wrk_script(url: str, lua: str, *, concurrency: int, seconds: float,
                   server_pids: Sequence[int], script_dir: Path) -> LoadResult:
    """wrk with ``lua`` (which defines ``request``) over ``concurrency`` keep-alive
    connections for ``seconds``, from one wrk thread."""
    script = script_dir / f"wrk-{secrets.token_hex(3)}.lua"
    script.write_text(lua + WRK_REPORT)
    before_server = sum(process_cpu_seconds(pid) for pid in server_pids)
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    meter = CpuMeter()
    started = time.monotonic()
    completed = subprocess.run(
        [require_wrk(), "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
         "--timeout", "10s", "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 60, check=False)
    elapsed = time.monotonic() - started
    machine = meter.cores_busy()
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = sum(process_cpu_seconds(pid) for pid in server_pids) - before_server
    loadgen = ((after_children.ru_utime - before_children.ru_utime)
               + (after_children.ru_stime - before_children.ru_stime))
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("WRKJSON "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        concurrency=concurrency,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        server_cpu=server / elapsed,
        loadgen_cpu=loadgen / elapsed,
        machine_cpu=machine,
        timeouts=data["timeout"],
    )


# --- output -----------------------------------------------------------------------------------

def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, so the output pastes straight into docs/performance.md."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def duration_from_env(default: float) -> float:
    """``XKIT_BENCH_SECONDS`` shortens or lengthens every timed run."""
    return float(os.environ.get("XKIT_BENCH_SECONDS", default))
