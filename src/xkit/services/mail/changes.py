"""What a mailbox's change cursor says happened, in one shape for every provider.

Each provider's follower (``graph_changes``, ``gmail_changes``) reads its own cursor kind and
answers with :class:`Changes`; :mod:`xkit.services.mail.follow` turns them into events. A
follower given ``since`` starts over: it takes a fresh cursor and lists what arrived since
then, which is how the first sync and a resync after an expired cursor work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from xkit.services.mail.calls import Mailbox


class CursorExpired(Exception):
    """The provider no longer knows the cursor (Graph 410, Gmail 404): resync from a window."""


@dataclass(frozen=True)
class Seen:
    """A message the cursor reported as added or changed, with the headers an event carries."""

    id: str
    thread_id: str | None
    folder_ids: list[str]
    sender: dict[str, Any] | None
    subject: str
    date: str | None

    def received_at(self) -> dt.datetime | None:
        if not self.date:
            return None
        try:
            moment = dt.datetime.fromisoformat(self.date.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass
class Changes:
    seen: list[Seen] = field(default_factory=list)
    removed: list[tuple[str, str | None]] = field(default_factory=list)  # (id, folder id)
    cursors: dict[str, Any] = field(default_factory=dict)


class Follower(Protocol):
    DEFAULT_FOLDERS: tuple[str, ...]

    async def changes(self, mailbox: Mailbox, folders: list[str], cursors: dict[str, Any],
                      since: dt.datetime | None) -> Changes: ...


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
