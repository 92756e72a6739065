"""The sandbox's fault switches on the database itself (SQLite, and PostgreSQL in the second
pass): "fail the next N calls" is one countdown that any number of replicas share."""

from __future__ import annotations

import asyncio
import secrets
import time

from tests.support.xkit import XkitEnvironment
from xkit.runtime import Runtime
from xkit.services.configuration import sandbox_switches


def test_n_failures_are_shared_by_every_caller_at_once(fresh_environment: XkitEnvironment) -> None:
    account = f"sbx-{secrets.token_hex(6)}"

    async def work(runtime: Runtime) -> tuple[list[int], sandbox_switches.Switches]:
        async with runtime.sessions() as session:
            changes = sandbox_switches.parse_changes({"fail_next": 3, "fail_status": 429})
            await sandbox_switches.change(session, account, changes)

        async def one_call() -> int:
            async with runtime.sessions() as session:
                failure = await sandbox_switches.take_failure(session, account)
            return 200 if failure is None else failure.status

        answers = await asyncio.gather(*(one_call() for _ in range(12)))
        async with runtime.sessions() as session:
            return list(answers), await sandbox_switches.read(session, account)

    answers, after = fresh_environment.with_runtime(work)
    assert sorted(answers) == [200] * 9 + [429] * 3
    assert after.fail_remaining == 0 and after.retry_after_seconds == 1  # 429's default


def test_revoking_refuses_grants_approved_until_now(fresh_environment: XkitEnvironment) -> None:
    account = f"sbx-{secrets.token_hex(6)}"
    before = time.time()

    async def work(runtime: Runtime) -> sandbox_switches.Switches:
        async with runtime.sessions() as session:
            unswitched = await sandbox_switches.read(session, account)
            assert not unswitched.revokes(before)
            return await sandbox_switches.change(
                session, account, sandbox_switches.parse_changes({"revoke": True}))

    switches = fresh_environment.with_runtime(work)
    assert switches.revokes(before)
    assert not switches.revokes(time.time() + 0.001)  # a grant approved after: reconnected
