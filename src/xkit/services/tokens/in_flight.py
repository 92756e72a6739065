"""Work that must not stop halfway because the request that started it did.

A refresh sends a refresh token the provider may rotate at once; if the request awaiting it is
cancelled (its client went away, or the server's shutdown grace ran out) before the answer is
stored, the new refresh token is lost and providers that rotate strictly revoke the grant on
the next refresh. Such work runs as a task of its own, shielded from the caller's
cancellation, and shutting down waits for what is still running (:meth:`InFlight.drain`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class InFlight:
    """The shielded tasks of one process."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    async def shielded(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` to its end even if the caller is cancelled meanwhile."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(_forget)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the tasks still running; how many are left."""
        if not self._tasks:
            return 0
        _, pending = await asyncio.wait(set(self._tasks), timeout=max(timeout, 0.0))
        return len(pending)


def _forget(task: asyncio.Task[Any]) -> None:
    """Its caller may be gone: read the outcome so asyncio does not report it as lost (the
    work logs what matters itself)."""
    if not task.cancelled():
        task.exception()
