"""The benchmarks' two servers answer the same token fetch, so their numbers compare like with
like (a baseline that only answered errors would look very fast)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from bench.seed import CONNECTOR, CONTEXT_PREFIX, seed
from bench.support import Server, production_environment
from tests.support.database import temporary_database


def test_xkit_and_the_baseline_hand_out_the_same_token(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as url:
        installation = asyncio.run(seed(url, tmp_path / "data", connections=3))
        env = production_environment(url, installation.encryption_keys, tmp_path / "data")
        tokens = []
        for start in (Server.xkit, Server.baseline):
            server = start(env, tmp_path / f"{start.__name__}.log")
            try:
                answer = httpx.get(
                    f"{server.url}/api/platform/contexts/{CONTEXT_PREFIX}2/connections/{CONNECTOR}",
                    headers={"Authorization": f"Bearer {installation.secret_key}"}, timeout=30)
            finally:
                server.stop()
            assert answer.status_code == 200, answer.text
            tokens.append(answer.json()["authorization"]["access_token"])
    assert tokens[0] == tokens[1] and tokens[0]


def test_the_two_process_server_of_bench_workers_counts_every_process(tmp_path: Path) -> None:
    """``bench.workers`` measures ``XKIT_WORKERS=2``: it answers the token fetch, and the CPU
    and memory it reports cover the parent and both children."""
    with temporary_database(tmp_path) as url:
        installation = asyncio.run(seed(url, tmp_path / "data", connections=3))
        env = production_environment(url, installation.encryption_keys, tmp_path / "data",
                                     XKIT_WORKERS="2")
        server = Server.xkit(env, tmp_path / "two.log")
        try:
            answer = httpx.get(
                f"{server.url}/api/platform/contexts/{CONTEXT_PREFIX}1/connections/{CONNECTOR}",
                headers={"Authorization": f"Bearer {installation.secret_key}"}, timeout=30)
            deadline = time.monotonic() + 60
            while server.process.output().count("is serving") < 2:
                assert time.monotonic() < deadline, server.process.output()[-2000:]
                time.sleep(0.2)
            pids = server.pids
            rss = server.total_rss_mb()
        finally:
            server.stop()
    assert answer.status_code == 200, answer.text
    assert len(pids) >= 3 and pids[0] == server.pid  # the parent, two children (and a tracker)
    assert rss > 2 * 50
