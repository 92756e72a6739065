"""``xkit serve --workers 2``: two processes answer on one port, one killed is replaced while
requests keep being answered, and SIGTERM drains both — on SQLite and on PostgreSQL.

Which process answered is read from the JSON access log, whose records carry the pid; the
parent names each child it starts ("process PID (slot N) is serving")."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.emulators.oidc_provider.fixture import OidcProvider
from tests.support.processes import ManagedProcess, free_port
from tests.support.tls import TestCertificates
from tests.support.xkit import (
    PlatformCredentials,
    XkitEnvironment,
    XkitServer,
    create_platform,
    installation_settings,
)
from tests.test_replica_failover import _connect, _ignore_transport_error, _token_path

SERVING = re.compile(r"process (\d+) \(slot (\d+)")
WORKER_STARTED = re.compile(r"worker [^:]+:(\d+):\w+ started")


def _two_processes(environment: XkitEnvironment, **extra: str) -> XkitEnvironment:
    return dataclasses.replace(environment, extra={
        **(environment.extra or {}), "XKIT_WORKERS": "2", "XKIT_LOG_FORMAT": "json", **extra})


def _records(server: XkitServer) -> list[dict[str, object]]:
    return [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]


def _serving(server: XkitServer) -> dict[int, int]:
    """Every child the parent has seen serving so far: pid -> slot."""
    found = {}
    for record in _records(server):
        if record["logger"] == "xkit.serve" and "is serving" in str(record["message"]):
            match = SERVING.search(str(record["message"]))
            assert match
            found[int(match[1])] = int(match[2])
    return found


def _wait_for(what: str, check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _answered_by(server: XkitServer, path: str) -> Counter[int]:
    """How many requests for ``path`` each process answered, from the access log."""
    return Counter(int(r["pid"]) for r in _records(server)  # type: ignore[call-overload]
                   if r["logger"] == "xkit.access" and r.get("path") == path)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_two_processes_answer_on_one_port_after_one_migration_and_one_banner(
    fresh_environment: XkitEnvironment, test_certificates: TestCertificates, tmp_path: Path,
) -> None:
    """An empty database and no key: the parent migrates, creates the key file and prints the
    banner once; then two processes, each with its own pid, answer the Platform API."""
    environment = _two_processes(dataclasses.replace(
        fresh_environment, encryption_keys="",
        extra=installation_settings(test_certificates)))
    server = XkitServer(environment, tmp_path / "serve.log")
    try:
        _wait_for("both processes to serve", lambda: len(_serving(server)) == 2)
        platform = create_platform(environment, "two-processes")

        def fetch(_: int) -> int:  # a new connection each time, as from many clients
            return httpx.get(f"{server.url}/api/platform", auth=platform.basic_auth,
                             timeout=30).status_code

        children = _serving(server)
        for _ in range(5):  # which process accepts a connection is the kernel's race
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(fetch, range(80)))
            assert statuses == [200] * 80
            answered = _answered_by(server, "/api/platform")
            if set(answered) == set(children):
                break
        assert set(answered) == set(children), (answered, children)
        assert server.process.process.pid not in answered
    finally:
        assert server.stop() == 0, server.output()[-3000:]
    output = server.output()
    assert output.count("xkit is running at") == 1
    assert output.count("processes: 2") == 1
    migrated = [r for r in _records(server) if "migrated the database" in str(r["message"])]
    assert [r["pid"] for r in migrated] == [server.process.process.pid]
    created = [r for r in _records(server) if "created encryption key" in str(r["message"])]
    assert [r["pid"] for r in created] == [server.process.process.pid]
    assert (environment.data_dir / "encryption.key").exists()
    # the background worker runs in one process, the first
    workers = WORKER_STARTED.findall(output)
    assert [int(pid) for pid in workers] == [p for p, slot in children.items() if slot == 0]


def test_a_killed_process_is_replaced_while_requests_keep_being_answered(
    xkit_environment: XkitEnvironment, xkit_server: XkitServer,
    platform: PlatformCredentials, tmp_path: Path,
) -> None:
    """SIGKILL the process that runs the background worker under a steady load: requests
    keep being answered by the other, a new process takes the slot (with the worker), and
    killing the parent outright stops the children on their own."""
    server = XkitServer(_two_processes(xkit_environment), tmp_path / "serve.log")
    try:
        _wait_for("both processes to serve", lambda: len(_serving(server)) == 2)
        first = _serving(server)
        victim = next(pid for pid, slot in first.items() if slot == 0)
        survivor = next(pid for pid, slot in first.items() if slot == 1)
        done = threading.Event()
        statuses: list[int | str] = []

        def load() -> None:
            while not done.is_set():
                try:
                    statuses.append(httpx.get(f"{server.url}/api/platform",
                                              auth=platform.basic_auth, timeout=30).status_code)
                except httpx.TransportError as exc:  # in flight in the killed process
                    statuses.append(type(exc).__name__)

        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            clients = [pool.submit(load) for _ in range(4)]
            time.sleep(1.0)
            os.kill(victim, signal.SIGKILL)
            killed_at = len(statuses)
            _wait_for("a new process in slot 0", lambda: len(_serving(server)) == 3)
            time.sleep(1.0)
            done.set()
            for client in clients:
                client.result()
        after = statuses[killed_at:]
        lost = [s for s in after if s != 200]
        assert len(lost) <= 4, lost  # at most the requests in flight in the killed process
        assert after.count(200) >= 20 and not [s for s in statuses if s == 500]
        replacement = next(pid for pid, slot in _serving(server).items()
                           if pid not in first and slot == 0)
        assert f"process {victim} (slot 0) died (killed by SIGKILL)" in server.output()
        assert [int(pid) for pid in WORKER_STARTED.findall(server.output())] == [
            victim, replacement]
        answered = _answered_by(server, "/api/platform")
        assert answered[survivor] > 0 and answered[replacement] > 0, answered

        os.kill(server.process.process.pid, signal.SIGKILL)  # no word to the children
        _wait_for("the orphaned children to stop",
                  lambda: not _alive(survivor) and not _alive(replacement), timeout=30)
        assert "the parent process" in server.output()
    finally:
        server.stop()


def test_a_process_that_keeps_dying_is_restarted_after_a_growing_pause(
    xkit_environment: XkitEnvironment, xkit_server: XkitServer, tmp_path: Path,
) -> None:
    """A crash loop does not spin the machine: a process dying before it has served 10 s is
    replaced after 1 s, then 2 s; the other one answers throughout."""
    server = XkitServer(_two_processes(xkit_environment), tmp_path / "serve.log")
    try:
        _wait_for("both processes to serve", lambda: len(_serving(server)) == 2)
        for pause in (1, 2):
            victim = [pid for pid, slot in _serving(server).items() if slot == 1][-1]
            count = len(_serving(server))
            os.kill(victim, signal.SIGKILL)
            assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
            _wait_for("the slot to be filled again",
                      lambda count=count: len(_serving(server)) > count)
            assert re.search(rf"process {victim} \(slot 1\) died \(killed by SIGKILL\) "
                             rf"after [\d.]+ s; starting another in {pause} s", server.output())
        # SIGTERM to the parent alone, as an orchestrator sends it to a container's first
        # process: it passes the stop on, and exits 0 once both have stopped.
        os.kill(server.process.process.pid, signal.SIGTERM)
        assert server.process.process.wait(60) == 0, server.output()[-3000:]
        assert server.output().count("Application shutdown complete.") == 2
    finally:
        server.stop()


def test_sigterm_drains_every_process(
    api: httpx.Client, platform: PlatformCredentials, xkit_environment: XkitEnvironment,
    xkit_server: XkitServer, oidc_provider: OidcProvider, tmp_path: Path,
) -> None:
    """The graceful stop of one process holds for each of two: refreshes held 3 s at the
    provider when SIGTERM reaches the parent (grace 2 s) are all stored, no grant is lost,
    and every process shuts its app down before the parent exits with status 0."""
    users = 4
    _connect(api, xkit_server, platform, oidc_provider, users=users)
    server = XkitServer(_two_processes(xkit_environment, XKIT_SHUTDOWN_GRACE_SECONDS="2"),
                        tmp_path / "serve.log")
    try:
        _wait_for("both processes to serve", lambda: len(_serving(server)) == 2)
        children = set(_serving(server))
        oidc_provider.reset_stats()
        oidc_provider.configure(refresh_answer_delay_ms=3000, refresh_answer_delay_count=users,
                                access_token_ttl=3600)
        requests = [threading.Thread(target=_ignore_transport_error, daemon=True,
                                     args=(f"{server.url}{_token_path(n)}", platform))
                    for n in range(users)]
        for request in requests:
            request.start()
        _wait_for("every refresh to reach the provider",
                  lambda: oidc_provider.stats()["refresh_answers_held"] >= users, timeout=30)
        started = time.monotonic()
        code = server.process.stop(signal.SIGTERM, timeout=60)
        took = time.monotonic() - started
    finally:
        oidc_provider.configure(refresh_answer_delay_ms=0, refresh_answer_delay_count=None,
                                access_token_ttl=60)
        server.stop()
    assert code == 0, server.output()[-3000:]
    assert 2.5 < took < 20, took  # waited for the held answers, not for ever
    stats = oidc_provider.stats()
    assert stats["refresh"]["succeeded"] == users and stats["grants_revoked"] == 0
    for number in range(users):  # the stored tokens: no refresh, nothing lost
        assert api.get(_token_path(number)).status_code == 200
    assert oidc_provider.stats()["refresh"]["succeeded"] == users
    finished = {int(r["pid"]) for r in _records(server)  # type: ignore[call-overload]
                if r["message"] == "Application shutdown complete."}
    assert finished == children
    assert "unfinished" not in server.output()


def test_a_port_in_use_is_one_clear_error(
    fresh_environment: XkitEnvironment, tmp_path: Path,
) -> None:
    port = free_port()
    holder = ManagedProcess([sys.executable, "-c", (
        "import socket, time; s = socket.socket(); "
        f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(60)")],
        log_path=tmp_path / "holder.log")
    try:
        time.sleep(0.5)
        result = fresh_environment.run_cli("serve", "--port", str(port), "--workers", "2")
    finally:
        holder.stop(signal.SIGKILL)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr and "xkit is running" not in result.stdout


@pytest.mark.database_independent
@pytest.mark.parametrize("value", ["0", "65", "two"])
def test_a_bad_number_of_workers_is_refused_by_name(
    fresh_environment: XkitEnvironment, value: str,
) -> None:
    result = fresh_environment.run_cli("serve", env={"XKIT_WORKERS": value})
    assert result.returncode == 2
    assert "XKIT_WORKERS" in result.stderr and "Traceback" not in result.stderr


def test_one_scrape_counts_the_requests_of_every_process(
    xkit_environment: XkitEnvironment, xkit_server: XkitServer,
    platform: PlatformCredentials, tmp_path: Path,
) -> None:
    """Whichever process answers the scrape, ``/metrics`` counts what both answered, and a
    process killed outright takes its share of the live gauges with it (its requests stay
    counted, as Prometheus counters must)."""
    token = "scrape-" + os.urandom(8).hex()
    metrics_dir = tmp_path / "metrics"
    server = XkitServer(_two_processes(xkit_environment, XKIT_METRICS_TOKEN=token,
                                       XKIT_METRICS_DIR=str(metrics_dir)),
                        tmp_path / "serve.log")

    def counted() -> set[float]:
        """The count of answered ``GET /api/platform`` in several scrapes (each scrape is
        answered by one process or the other)."""
        seen = set()
        for _ in range(6):
            scraped = httpx.get(f"{server.url}/metrics", timeout=30,
                                headers={"Authorization": f"Bearer {token}"})
            assert scraped.status_code == 200, scraped.text
            samples = {
                (sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(scraped.text)
                for sample in family.samples}
            seen.add(samples.get(("xkit_http_request_duration_seconds_count", frozenset({
                ("route", "/api/platform"), ("method", "GET"), ("status", "200")})), 0.0))
        return seen

    try:
        _wait_for("both processes to serve", lambda: len(_serving(server)) == 2)
        children = _serving(server)
        sent = 0
        for _ in range(5):  # which process accepts a connection is the kernel's race
            for _ in range(40):
                assert httpx.get(f"{server.url}/api/platform", auth=platform.basic_auth,
                                 timeout=30).status_code == 200
                sent += 1
            if set(_answered_by(server, "/api/platform")) == set(children):
                break
        assert set(_answered_by(server, "/api/platform")) == set(children)
        assert counted() == {float(sent)}

        victim = next(pid for pid, slot in children.items() if slot == 1)
        assert any(f"_{victim}.db" in f.name for f in metrics_dir.iterdir())
        os.kill(victim, signal.SIGKILL)
        _wait_for("a new process in slot 1", lambda: len(_serving(server)) == 3)
        live = [f.name for f in metrics_dir.iterdir()
                if f.name.startswith("gauge_live") and f.name.endswith(f"_{victim}.db")]
        assert live == []
        assert counted() == {float(sent)}
    finally:
        assert server.stop() == 0, server.output()[-3000:]
