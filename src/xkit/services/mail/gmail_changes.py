"""Following a Gmail mailbox with ``history.list`` from the last ``historyId``.

developers.google.com/workspace/gmail/api/guides/sync: a first sync takes the profile's
``historyId`` (xkit lists only what arrived since the mailbox was followed — no backfill);
later syncs ask ``history.list`` for ``messageAdded`` and ``messageDeleted`` since it, page by
``nextPageToken``, and keep the answer's ``historyId``. An id too old answers ``404``: then
the follower takes a fresh one and lists ``after:`` a time window. A history record names
only ids and labels, so each new message's headers are one ``format=metadata`` get (5 quota
units, where the history page costs 2).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from xkit.errors import NotFound
from xkit.services.mail import gmail
from xkit.services.mail.calls import Mailbox
from xkit.services.mail.changes import Changes, CursorExpired, Seen
from xkit.services.mail.gmail import READ, read_error

DEFAULT_FOLDERS = ("INBOX",)
BASE = "users/me"
HEADERS = ("From", "Subject", "Date")
MAX_PAGES = 50


async def _get(mailbox: Mailbox, path: str, params: list[tuple[str, str]]) -> Any:
    return await mailbox.json("GET", f"{BASE}/{path}", query=urlencode(params, quote_via=quote),
                              scope=READ, read_error=read_error)


async def _seen(mailbox: Mailbox, message_id: str) -> Seen | None:
    try:
        item = await _get(mailbox, f"messages/{quote(message_id, safe='')}",
                          [("format", "metadata"), *(("metadataHeaders", h) for h in HEADERS)])
    except NotFound:  # deleted again before we looked
        return None
    message = gmail.to_message(item)
    return Seen(id=message.id, thread_id=message.thread_id, folder_ids=message.folder_ids,
                sender=message.from_.model_dump() if message.from_ else None,
                subject=message.subject, date=message.date)


async def _since(mailbox: Mailbox, folders: list[str], since: dt.datetime,
                 found: Changes) -> None:
    """A fresh cursor first, then what arrived in the window: nothing falls between."""
    profile = await _get(mailbox, "profile", [])
    found.cursors["history_id"] = str(profile["historyId"])
    after = str(int(since.timestamp()) - 1)
    ids: list[str] = []
    for folder in folders:
        token = None
        for _ in range(MAX_PAGES):
            params = [("labelIds", folder), ("q", f"after:{after}"), ("maxResults", "500")]
            if token:
                params.append(("pageToken", token))
            page = await _get(mailbox, "messages", params)
            ids += [str(m["id"]) for m in page.get("messages") or [] if str(m["id"]) not in ids]
            token = page.get("nextPageToken")
            if not token:
                break
    for message_id in ids:
        seen = await _seen(mailbox, message_id)
        if seen is not None:
            found.seen.append(seen)


async def changes(mailbox: Mailbox, folders: list[str], cursors: dict[str, Any],
                  since: dt.datetime | None) -> Changes:
    found = Changes()
    start = cursors.get("history_id")
    if since is not None or not start:
        await _since(mailbox, folders, since or dt.datetime.now(dt.UTC), found)
        return found
    followed = set(folders)
    added: list[str] = []
    token = None
    latest = str(start)
    for _ in range(MAX_PAGES):
        params = [("startHistoryId", str(start)), ("historyTypes", "messageAdded"),
                  ("historyTypes", "messageDeleted"), ("maxResults", "500")]
        if token:
            params.append(("pageToken", token))
        try:
            page = await _get(mailbox, "history", params)
        except NotFound as exc:
            raise CursorExpired("history") from exc
        latest = str(page.get("historyId") or latest)
        for record in page.get("history") or []:
            for entry in record.get("messagesAdded") or []:
                message = entry.get("message") or {}
                labelled = followed & set(message.get("labelIds") or [])
                if labelled and message.get("id") and str(message["id"]) not in added:
                    added.append(str(message["id"]))
            for entry in record.get("messagesDeleted") or []:
                message = entry.get("message") or {}
                labels = followed & set(message.get("labelIds") or [])
                if labels and message.get("id"):
                    found.removed.append((str(message["id"]), sorted(labels)[0]))
        token = page.get("nextPageToken")
        if not token:
            break
    gone = {message_id for message_id, _ in found.removed}
    for message_id in added:
        if message_id in gone:
            continue
        seen = await _seen(mailbox, message_id)
        if seen is not None:
            found.seen.append(seen)
    found.cursors["history_id"] = latest
    return found
