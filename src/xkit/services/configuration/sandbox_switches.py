"""The sandbox provider's fault switches: what a developer flips to try their error handling.

Per sandbox account (the person who approved on the sandbox's consent page):

- **revoke**: every grant approved until now is refused — its refresh token gets
  ``invalid_grant`` and its access tokens ``401`` — as when a user revokes an app at a real
  provider. Connecting again makes a new grant, which works.
- **fail the next N calls** with a status (5xx, or 429 with ``Retry-After``): the sandbox's
  token endpoint and API answer that instead, N times in all, then behave again.
- **answer slowly**: every call waits ``delay_ms`` first, until set back to 0.

The sandbox's codes and tokens stay signed and stateless; these switches are a database row,
because "the next N calls" is one countdown that every replica must share (an atomic
conditional UPDATE takes one failure at a time, so N replicas fail exactly N calls between
them) and a revocation must be seen by every replica at once. Signed tokens cannot do either:
the token xkit holds was signed before the switch was flipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import SandboxSwitch
from xkit.db.types import utcnow
from xkit.db.upsert import insert_if_absent
from xkit.errors import InvalidInput

FAIL_STATUSES = (429, 500, 502, 503, 504)
MAX_FAIL_NEXT = 100
MAX_DELAY_MS = 60_000
MAX_RETRY_AFTER_SECONDS = 3600
DEFAULT_RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class Failure:
    """One call the sandbox answers with an error instead."""

    status: int
    retry_after: int | None


@dataclass(frozen=True)
class Switches:
    account_id: str
    revoked_before: dt.datetime | None = None
    fail_remaining: int = 0
    fail_status: int = 503
    retry_after_seconds: int | None = None
    delay_ms: int = 0

    def revokes(self, granted_at: float) -> bool:
        """Whether a grant approved at ``granted_at`` (epoch seconds) has been revoked."""
        return self.revoked_before is not None and granted_at <= self.revoked_before.timestamp()

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "revoked_before": self.revoked_before.isoformat() if self.revoked_before else None,
            "fail_next": self.fail_remaining,
            "fail_status": self.fail_status,
            "retry_after": self.retry_after_seconds,
            "delay_ms": self.delay_ms,
        }


def _switches(row: SandboxSwitch | None, account_id: str) -> Switches:
    if row is None:
        return Switches(account_id)
    return Switches(
        account_id=row.account_id,
        revoked_before=row.revoked_before,
        fail_remaining=row.fail_remaining,
        fail_status=row.fail_status,
        retry_after_seconds=row.retry_after_seconds,
        delay_ms=row.delay_ms,
    )


async def read(session: AsyncSession, account_id: str) -> Switches:
    row = await session.get(SandboxSwitch, account_id, populate_existing=True)
    return _switches(row, account_id)


def parse_changes(body: object) -> dict[str, Any]:
    """The column values a control request asks for; a clear 400 for anything else.

    ``{"revoke": true}``, ``{"fail_next": 3, "fail_status": 503}``,
    ``{"fail_next": 2, "fail_status": 429, "retry_after": 1}``, ``{"delay_ms": 1500}``,
    ``{"reset": true}`` (no failures, no delay; a revocation stays: reconnect instead)."""
    if not isinstance(body, dict) or not body:
        raise InvalidInput("send a JSON object such as {\"fail_next\": 3, \"fail_status\": 503}",
                           code="invalid_switches")
    known = {"revoke", "fail_next", "fail_status", "retry_after", "delay_ms", "reset"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidInput(f"unknown switch {unknown[0]!r}; known: {', '.join(sorted(known))}",
                           code="invalid_switches")
    changes: dict[str, Any] = {}
    if body.get("reset") is True:
        changes.update(fail_remaining=0, delay_ms=0, retry_after_seconds=None)
    if body.get("revoke") is True:
        changes["revoked_before"] = utcnow()
    if "fail_next" in body:
        changes["fail_remaining"] = _whole(body, "fail_next", 0, MAX_FAIL_NEXT)
        status = body.get("fail_status", 503)
        if status not in FAIL_STATUSES or isinstance(status, bool):
            raise InvalidInput(f"fail_status must be one of {', '.join(map(str, FAIL_STATUSES))}",
                               code="invalid_switches")
        changes["fail_status"] = status
        changes["retry_after_seconds"] = (
            _whole(body, "retry_after", 0, MAX_RETRY_AFTER_SECONDS)
            if "retry_after" in body
            else (DEFAULT_RETRY_AFTER_SECONDS if status == 429 else None)
        )
    elif "fail_status" in body or "retry_after" in body:
        raise InvalidInput("fail_status and retry_after go with fail_next", code="invalid_switches")
    if "delay_ms" in body:
        changes["delay_ms"] = _whole(body, "delay_ms", 0, MAX_DELAY_MS)
    for flag in ("revoke", "reset"):
        if flag in body and body[flag] is not True:
            raise InvalidInput(f"{flag} can only be true", code="invalid_switches")
    return changes


def _whole(body: dict[str, Any], name: str, low: int, high: int) -> int:
    value = body[name]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}",
                           code="invalid_switches")
    return value


async def change(session: AsyncSession, account_id: str, changes: dict[str, Any]) -> Switches:
    """Apply ``changes`` (from :func:`parse_changes`) and commit; the switches as they are now."""
    await insert_if_absent(session, SandboxSwitch, {"account_id": account_id, "fail_remaining": 0,
                                                    "fail_status": 503, "delay_ms": 0},
                           unique=["account_id"])
    if changes:
        await session.execute(update(SandboxSwitch)
                              .where(SandboxSwitch.account_id == account_id)
                              .values(**changes, updated_at=utcnow()))
    await session.commit()
    return await read(session, account_id)


async def take_failure(session: AsyncSession, account_id: str) -> Failure | None:
    """Count one failure down, if any is left, and say how to fail; atomic across replicas."""
    statement = (
        update(SandboxSwitch)
        .where(SandboxSwitch.account_id == account_id, SandboxSwitch.fail_remaining > 0)
        .values(fail_remaining=SandboxSwitch.fail_remaining - 1)
        .returning(SandboxSwitch.fail_status, SandboxSwitch.retry_after_seconds)
    )
    taken = (await session.execute(statement)).first()
    await session.commit()
    return None if taken is None else Failure(status=taken[0], retry_after=taken[1])

