"""Following an Outlook mailbox with Graph's per-folder message delta.

Each followed folder has its own ``@odata.deltaLink`` (learn.microsoft.com/graph/api/
message-delta): a round pages through ``@odata.nextLink`` until a deltaLink ends it, with
``Prefer: odata.maxpagesize``; removed or moved-out messages come as ``@removed`` rows; an
expired token answers ``410`` (``SyncStateNotFound``). A fresh round may be filtered with
``receivedDateTime ge`` — the only filter delta takes — so a resync lists only the window.
Requests go one after another: Graph allows 4 concurrent requests per mailbox.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from xkit.services.mail import graph
from xkit.services.mail.calls import Mailbox, ProviderFailed
from xkit.services.mail.changes import Changes, CursorExpired, Seen, rfc3339
from xkit.services.mail.graph import READ, read_error

DEFAULT_FOLDERS = ("inbox",)
FIELDS = "id,conversationId,parentFolderId,subject,from,receivedDateTime"
PAGE_SIZE = 50
MAX_PAGES = 200  # a round longer than this is finished on the next sync


def _relative(link: str) -> tuple[str, str]:
    """A Graph link as the proxy's path (after ``/v1.0/``) and query."""
    parts = urlsplit(link)
    path = parts.path
    marker = path.find("/me/")
    if marker < 0:
        raise ProviderFailed("Graph answered a delta link xkit cannot follow")
    return path[marker + 1:], parts.query


async def _round(mailbox: Mailbox, folder: str, link: str | None,
                 since: dt.datetime | None, changes: Changes) -> str:
    if link:
        path, query = _relative(link)
    else:
        path = f"me/mailFolders/{quote(folder, safe='')}/messages/delta"
        options = {"$select": FIELDS}
        if since is not None:
            options["$filter"] = f"receivedDateTime ge {rfc3339(since)}"
        query = urlencode(options, quote_via=quote)
    for _ in range(MAX_PAGES):
        try:
            page = await mailbox.json("GET", path, query=query, scope=READ,
                                      read_error=read_error,
                                      headers={"prefer": f"odata.maxpagesize={PAGE_SIZE}"})
        except Exception as exc:
            if getattr(exc, "details", {}).get("provider", {}).get("status") == 410:
                raise CursorExpired(folder) from exc
            raise
        for item in page.get("value", []):
            if "@removed" in item:
                changes.removed.append((str(item["id"]), folder))
                continue
            message = graph.to_message(item)
            changes.seen.append(Seen(
                id=message.id, thread_id=message.thread_id, folder_ids=message.folder_ids,
                sender=message.from_.model_dump() if message.from_ else None,
                subject=message.subject, date=message.date))
        if page.get("@odata.deltaLink"):
            return str(page["@odata.deltaLink"])
        if not page.get("@odata.nextLink"):
            raise ProviderFailed("Graph ended a delta page with neither link")
        path, query = _relative(str(page["@odata.nextLink"]))
    # Too long for one sync: keep the nextLink; the round goes on next time.
    return str(page["@odata.nextLink"])


async def changes(mailbox: Mailbox, folders: list[str], cursors: dict[str, Any],
                  since: dt.datetime | None) -> Changes:
    found = Changes()
    for folder in folders:
        link = None if since is not None else cursors.get(folder)
        found.cursors[folder] = await _round(mailbox, folder, link, since, found)
    return found

