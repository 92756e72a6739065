"""Gmail mailboxes through the Gmail API v1 (``users/me/messages``, ``users/me/labels`` …).

Gmail's ways this adapter keeps (developers.google.com/workspace/gmail/api): a list names
only ids, so each message's headers are a second call (``format=metadata``); bodies are MIME
parts in base64url; an attachment's ``attachmentId`` is not stable from one read to the next,
so xkit's attachment id is the part's ``partId`` and the download looks the current one up;
a reply stays in its thread only with the thread id, ``In-Reply-To``/``References`` and the
same subject; folders are labels, and a move swaps ``INBOX`` for the label (or trashes).
Messages are built and read with the standard library's ``email`` package.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

from xkit.errors import InvalidInput, NotFound
from xkit.services.mail.calls import Mailbox, Refusal
from xkit.services.mail.models import (
    Address,
    AttachmentInfo,
    Folder,
    ListQuery,
    MailMessage,
    MessageChange,
    MessagePage,
    OutgoingMessage,
    SentMessage,
)

SCOPE = "https://www.googleapis.com/auth/gmail."
READ, SEND, MODIFY = SCOPE + "readonly", SCOPE + "send", SCOPE + "modify"
HEADERS = ("From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID")
ROLES = {"INBOX": "inbox", "SENT": "sent", "DRAFT": "drafts", "TRASH": "trash",
         "SPAM": "spam"}
THROTTLED_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


def read_error(status: int, document: Any) -> Refusal:
    error = document.get("error") if isinstance(document, dict) else None
    error = error if isinstance(error, dict) else {}
    reasons = [str(e.get("reason")) for e in error.get("errors") or [] if isinstance(e, dict)]
    message = str(error.get("message") or "")
    return Refusal(
        status=status, code=reasons[0] if reasons else str(error.get("status") or status),
        message=message[:300],
        throttled=status == 429 or bool(THROTTLED_REASONS & set(reasons)),
        missing_scope=status == 403 and ("insufficientPermissions" in reasons
                                         or "scope" in message.lower()))


def _segment(value: str) -> str:
    return quote(value, safe="")


def _people(value: str | None) -> list[Address]:
    return [Address(name=name or None, address=address)
            for name, address in getaddresses([value or ""]) if address]


def _decode(data: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return b""


def _date(value: str | None, internal_date: Any) -> str | None:
    if str(internal_date or "").isdigit():
        moment = dt.datetime.fromtimestamp(int(internal_date) / 1000, dt.UTC)
        return moment.isoformat().replace("+00:00", "Z")
    try:
        return parsedate_to_datetime(value or "").isoformat() if value else None
    except (TypeError, ValueError):
        return None


def to_message(item: dict[str, Any], with_body: bool = False) -> MailMessage:
    payload: dict[str, Any] = item["payload"] if isinstance(item.get("payload"), dict) else {}
    headers = {h.get("name", "").lower(): h.get("value", "")
               for h in payload.get("headers") or [] if isinstance(h, dict)}
    labels = [str(label) for label in item.get("labelIds") or []]
    text = html = None
    attachments: list[AttachmentInfo] = []
    if with_body:
        for part in _parts(payload):
            body = part.get("body") or {}
            if part.get("filename") and body.get("attachmentId"):
                attachments.append(AttachmentInfo(
                    id=str(part.get("partId")), filename=str(part["filename"]),
                    content_type=part.get("mimeType") or "application/octet-stream",
                    size=body.get("size"),
                    inline=any(h.get("name", "").lower() == "content-id"
                               for h in part.get("headers") or [])))
            elif part.get("mimeType") == "text/plain" and text is None and "data" in body:
                text = _decode(body["data"]).decode("utf-8", "replace")
            elif part.get("mimeType") == "text/html" and html is None and "data" in body:
                html = _decode(body["data"]).decode("utf-8", "replace")
    sender = _people(headers.get("from"))
    return MailMessage(
        id=str(item["id"]), thread_id=item.get("threadId"),
        internet_message_id=headers.get("message-id"), folder_ids=labels,
        subject=headers.get("subject", ""), **{"from": sender[0] if sender else None},
        to=_people(headers.get("to")), cc=_people(headers.get("cc")),
        bcc=_people(headers.get("bcc")), reply_to=_people(headers.get("reply-to")),
        date=_date(headers.get("date"), item.get("internalDate")),
        read="UNREAD" not in labels, starred="STARRED" in labels,
        snippet=item.get("snippet") or "", text=text, html=html, attachments=attachments,
        provider={k: item[k] for k in ("historyId", "sizeEstimate", "internalDate")
                  if k in item})


def _parts(part: dict[str, Any]) -> list[dict[str, Any]]:
    found = [part]
    for child in part.get("parts") or []:
        if isinstance(child, dict):
            found.extend(_parts(child))
    return found


def _cursor(page_token: str, params: dict[str, Any]) -> str:
    """Gmail's pageToken, bound to the query it pages through."""
    return base64.urlsafe_b64encode(json.dumps({**params, "pageToken": page_token}).encode()
                                    ).decode()


def _uncursor(cursor: str) -> dict[str, Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):
        decoded = None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("pageToken"), str):
        raise InvalidInput("cursor is not one this API gave", code="invalid_cursor")
    return decoded


async def list_messages(mailbox: Mailbox, query: ListQuery) -> MessagePage:
    if query.cursor:
        params = _uncursor(query.cursor)
    else:
        terms = []
        if query.unread is not None:
            terms.append("is:unread" if query.unread else "is:read")
        if query.sender:
            terms.append(f"from:{query.sender.replace(' ', '')}")
        if query.since:
            since = dt.datetime.fromisoformat(query.since.replace("Z", "+00:00"))
            terms.append(f"after:{int(since.timestamp())}")
        if query.query:
            terms.append(query.query)
        params = {"maxResults": query.limit}
        if terms:
            params["q"] = " ".join(terms)
        if query.folder_id:
            params["labelIds"] = query.folder_id
    listed = await mailbox.json("GET", "users/me/messages", query=urlencode(params),
                                scope=READ, read_error=read_error)
    messages = []
    for summary in listed.get("messages") or []:  # absent when nothing matches
        metadata = urlencode([("format", "metadata"), *(("metadataHeaders", h) for h in HEADERS)])
        try:
            item = await mailbox.json("GET", f"users/me/messages/{_segment(summary['id'])}",
                                      query=metadata, scope=READ, read_error=read_error)
        except NotFound:  # deleted between the list and the read
            continue
        messages.append(to_message(item))
    token = listed.get("nextPageToken")
    rest = {k: v for k, v in params.items() if k != "pageToken"}
    return MessagePage(messages=messages, next_cursor=_cursor(token, rest) if token else None)


async def _full(mailbox: Mailbox, message_id: str) -> dict[str, Any]:
    item = await mailbox.json("GET", f"users/me/messages/{_segment(message_id)}",
                              query="format=full", scope=READ, read_error=read_error)
    if not isinstance(item, dict):
        raise NotFound("no such message", code="mail_not_found")
    return item


async def get_message(mailbox: Mailbox, message_id: str) -> MailMessage:
    return to_message(await _full(mailbox, message_id), with_body=True)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def raw_message(mailbox: Mailbox, message_id: str) -> AsyncIterator[bytes]:
    item = await mailbox.json("GET", f"users/me/messages/{_segment(message_id)}",
                              query="format=raw", scope=READ, read_error=read_error)
    return _once(_decode(str(item.get("raw") or "")))


async def attachment(mailbox: Mailbox, message_id: str,
                     attachment_id: str) -> AsyncIterator[bytes]:
    part = next((p for p in _parts((await _full(mailbox, message_id)).get("payload") or {})
                 if str(p.get("partId")) == attachment_id and p.get("filename")), None)
    current = ((part or {}).get("body") or {}).get("attachmentId")
    if not current:
        raise NotFound("the message has no such attachment", code="mail_not_found")
    fetched = await mailbox.json(
        "GET", f"users/me/messages/{_segment(message_id)}/attachments/{_segment(current)}",
        scope=READ, read_error=read_error)
    return _once(_decode(str(fetched.get("data") or "")))


def _header(addresses: list[Address]) -> str:
    return ", ".join(f'"{a.name}" <{a.address}>' if a.name else a.address for a in addresses)


async def send(mailbox: Mailbox, message: OutgoingMessage) -> SentMessage:
    mime = EmailMessage()
    subject, thread_id = message.subject, None
    if message.in_reply_to:
        original = await mailbox.json(
            "GET", f"users/me/messages/{_segment(message.in_reply_to)}",
            query=urlencode([("format", "metadata"), *(("metadataHeaders", h) for h in HEADERS),
                             ("metadataHeaders", "References")]),
            scope=READ, read_error=read_error)
        headers = {h["name"].lower(): h["value"]
                   for h in (original.get("payload") or {}).get("headers") or []}
        thread_id = original.get("threadId")
        parent = headers.get("message-id")
        if parent:
            mime["In-Reply-To"] = parent
            mime["References"] = f"{headers.get('references', '')} {parent}".strip()
        base = headers.get("subject", "")
        subject = subject or (base if base.lower().startswith("re:") else f"Re: {base}")
        if not message.to:
            message = message.model_copy(update={"to": _people(
                headers.get("reply-to") or headers.get("from"))})
    if not message.to:
        raise InvalidInput("a message needs at least one recipient in to", code="invalid_input")
    mime["To"] = _header(message.to)
    if message.cc:
        mime["Cc"] = _header(message.cc)
    if message.bcc:
        mime["Bcc"] = _header(message.bcc)
    mime["Subject"] = subject
    mime.set_content(message.text or "")
    if message.html:
        mime.add_alternative(message.html, subtype="html")
    for file in message.attachments:
        maintype, _, subtype = file.content_type.partition("/")
        mime.add_attachment(base64.b64decode(file.content_base64), maintype=maintype,
                            subtype=subtype, filename=file.filename)
    payload: dict[str, Any] = {"raw": base64.urlsafe_b64encode(mime.as_bytes()).decode()}
    if thread_id:
        payload["threadId"] = thread_id
    sent = await mailbox.json("POST", "users/me/messages/send", payload=payload, scope=SEND,
                              read_error=read_error)
    return SentMessage(id=sent.get("id"), thread_id=sent.get("threadId"))


async def change(mailbox: Mailbox, message_id: str, wanted: MessageChange) -> MailMessage:
    path = f"users/me/messages/{_segment(message_id)}"
    add: list[str] = []
    remove: list[str] = []
    if wanted.read is not None:
        (remove if wanted.read else add).append("UNREAD")
    if wanted.folder_id == "TRASH":
        await mailbox.json("POST", f"{path}/trash", scope=MODIFY, read_error=read_error)
    elif wanted.folder_id is not None:
        add.append(wanted.folder_id)
        if wanted.folder_id != "INBOX":
            remove.append("INBOX")
    if add or remove:
        await mailbox.json("POST", f"{path}/modify",
                           payload={"addLabelIds": add, "removeLabelIds": remove},
                           scope=MODIFY, read_error=read_error)
    item = await mailbox.json("GET", path, query=urlencode(
        [("format", "metadata"), *(("metadataHeaders", h) for h in HEADERS)]),
        scope=READ, read_error=read_error)
    return to_message(item)


async def folders(mailbox: Mailbox) -> list[Folder]:
    listed = await mailbox.json("GET", "users/me/labels", scope=READ, read_error=read_error)
    return [Folder(id=str(label["id"]), name=str(label.get("name") or label["id"]),
                   kind="system" if label.get("type") == "system" else "user",
                   role=ROLES.get(str(label["id"])),
                   total=label.get("messagesTotal"), unread=label.get("messagesUnread"))
            for label in listed.get("labels") or []]
