"""The benchmarks' two servers answer the same token fetch, so their numbers compare like with
like (a baseline that only answered errors would look very fast)."""

from __future__ import annotations

import asyncio
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
