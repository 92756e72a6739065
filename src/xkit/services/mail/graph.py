"""Outlook mailboxes through Microsoft Graph v1.0 (``/me/messages``, ``/me/mailFolders`` …).

Graph's rules this adapter keeps (learn.microsoft.com/graph/api): ``$search`` cannot be
combined with ``$filter`` or ``$orderby``; ``$orderby`` with ``$filter`` needs the ordered
property first in the filter (else ``InefficientFilter``); paging follows ``@odata.nextLink``
as given; ``sendMail`` answers ``202`` with no id; a move gives the message a new id; v1.0
folders do not say which well-known folder they are, so their roles are looked up by the
well-known names Graph accepts as ids.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

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

READ, SEND, WRITE = "Mail.Read", "Mail.Send", "Mail.ReadWrite"
LIST_FIELDS = ("id,conversationId,internetMessageId,parentFolderId,subject,from,toRecipients,"
               "ccRecipients,bccRecipients,replyTo,receivedDateTime,isRead,flag,bodyPreview,"
               "hasAttachments,categories,importance,webLink")
ROLES = {"inbox": "inbox", "sentitems": "sent", "drafts": "drafts", "deleteditems": "trash",
         "junkemail": "spam", "archive": "archive"}
THROTTLED_CODES = frozenset({"ApplicationThrottled", "TooManyRequests", "MailboxConcurrency"})
DENIED_CODES = frozenset({"ErrorAccessDenied", "Authorization_RequestDenied", "AccessDenied"})
# What Graph's message has that the shared shape has no field for, kept under "provider".
EXTRAS = ("webLink", "importance", "categories", "flag", "hasAttachments", "conversationId")


def read_error(status: int, document: Any) -> Refusal:
    error = document.get("error") if isinstance(document, dict) else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or f"http_{status}")
    return Refusal(status=status, code=code, message=str(error.get("message") or "")[:300],
                   throttled=status == 429 or code in THROTTLED_CODES,
                   missing_scope=status == 403 and code in DENIED_CODES)


def _segment(value: str) -> str:
    return quote(value, safe="")


def _address(value: Any) -> Address | None:
    email = (value or {}).get("emailAddress") if isinstance(value, dict) else None
    if not isinstance(email, dict) or not email.get("address"):
        return None
    return Address(name=email.get("name") or None, address=str(email["address"]))


def _addresses(values: Any) -> list[Address]:
    found = [_address(v) for v in values or []]
    return [a for a in found if a is not None]


def to_message(item: dict[str, Any], attachments: list[AttachmentInfo] | None = None,
               with_body: bool = False) -> MailMessage:
    body: dict[str, Any] = item["body"] if isinstance(item.get("body"), dict) else {}
    is_html = str(body.get("contentType", "")).lower() == "html"
    flag: dict[str, Any] = item["flag"] if isinstance(item.get("flag"), dict) else {}
    return MailMessage(
        id=str(item["id"]),
        thread_id=item.get("conversationId"),
        internet_message_id=item.get("internetMessageId"),
        folder_ids=[str(item["parentFolderId"])] if item.get("parentFolderId") else [],
        subject=item.get("subject") or "",
        **{"from": _address(item.get("from"))},
        to=_addresses(item.get("toRecipients")),
        cc=_addresses(item.get("ccRecipients")),
        bcc=_addresses(item.get("bccRecipients")),
        reply_to=_addresses(item.get("replyTo")),
        date=item.get("receivedDateTime"),
        read=bool(item.get("isRead")),
        starred=flag.get("flagStatus") == "flagged",
        snippet=item.get("bodyPreview") or "",
        text=None if not with_body or is_html else body.get("content", ""),
        html=body.get("content", "") if with_body and is_html else None,
        attachments=attachments or [],
        provider={name: item[name] for name in EXTRAS if name in item},
    )


def _cursor(next_link: str, base_path: str) -> str:
    """Graph's nextLink, kept as an opaque cursor: only its path and query, and only for the
    list it came from (a cursor can't be turned into a call elsewhere)."""
    parts = urlsplit(next_link)
    return base64.urlsafe_b64encode(json.dumps(
        {"path": base_path, "query": parts.query}).encode()).decode()


def _uncursor(cursor: str) -> tuple[str, str]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(decoded["path"]), str(decoded["query"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInput("cursor is not one this API gave", code="invalid_cursor") from None


async def list_messages(mailbox: Mailbox, query: ListQuery) -> MessagePage:
    if query.cursor:
        path, params = _uncursor(query.cursor)
        if not (path == "me/messages" or (path.startswith("me/mailFolders/")
                                          and path.endswith("/messages"))):
            raise InvalidInput("cursor is not one this API gave", code="invalid_cursor")
    else:
        path = (f"me/mailFolders/{_segment(query.folder_id)}/messages" if query.folder_id
                else "me/messages")
        options: dict[str, str] = {"$top": str(query.limit), "$select": LIST_FIELDS}
        filters = []
        if query.since:
            filters.append(f"receivedDateTime ge {query.since}")
        if query.unread is not None:
            filters.append(f"isRead eq {'false' if query.unread else 'true'}")
        if query.sender:
            filters.append(f"from/emailAddress/address eq '{query.sender.replace(chr(39), '')}'")
        if query.query:
            if filters:
                raise InvalidInput("Outlook cannot combine a text query with the unread, "
                                   "sender or since filters; use one or the other",
                                   code="mail_query_unsupported")
            options["$search"] = '"' + query.query.replace('"', "") + '"'
        elif filters:
            options["$filter"] = " and ".join(filters)
            if query.since:  # receivedDateTime comes first in $filter, as $orderby needs
                options["$orderby"] = "receivedDateTime desc"
        params = urlencode(options, quote_via=quote)
    page = await mailbox.json("GET", path, query=params, scope=READ, read_error=read_error)
    next_link = page.get("@odata.nextLink")
    return MessagePage(messages=[to_message(item) for item in page.get("value", [])],
                       next_cursor=_cursor(next_link, path) if next_link else None)


async def get_message(mailbox: Mailbox, message_id: str) -> MailMessage:
    path = f"me/messages/{_segment(message_id)}"
    item = await mailbox.json("GET", path, scope=READ, read_error=read_error)
    attachments: list[AttachmentInfo] = []
    if item.get("hasAttachments"):
        listed = await mailbox.json(
            "GET", f"{path}/attachments", query="$select=id,name,contentType,size,isInline",
            scope=READ, read_error=read_error)
        attachments = [AttachmentInfo(id=str(a["id"]), filename=a.get("name") or "attachment",
                                      content_type=a.get("contentType")
                                      or "application/octet-stream",
                                      size=a.get("size"), inline=bool(a.get("isInline")))
                       for a in listed.get("value", [])]
    return to_message(item, attachments, with_body=True)


async def raw_message(mailbox: Mailbox, message_id: str) -> AsyncIterator[bytes]:
    _, body = await mailbox.stream(f"me/messages/{_segment(message_id)}/$value", scope=READ,
                                   read_error=read_error)
    return body


async def attachment(mailbox: Mailbox, message_id: str,
                     attachment_id: str) -> AsyncIterator[bytes]:
    _, body = await mailbox.stream(
        f"me/messages/{_segment(message_id)}/attachments/{_segment(attachment_id)}/$value",
        scope=READ, read_error=read_error)
    return body


def _recipients(addresses: list[Address]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": a.address, **({"name": a.name} if a.name else {})}}
            for a in addresses]


async def send(mailbox: Mailbox, message: OutgoingMessage) -> SentMessage:
    attachments = [{"@odata.type": "#microsoft.graph.fileAttachment", "name": a.filename,
                    "contentType": a.content_type, "contentBytes": a.content_base64}
                   for a in message.attachments]
    if message.in_reply_to:
        # Graph's reply addresses the original's sender, in its conversation; the comment is
        # the new text above the quoted original.
        extra: dict[str, Any] = {"attachments": attachments} if attachments else {}
        if message.cc:
            extra["ccRecipients"] = _recipients(message.cc)
        payload: dict[str, Any] = {"comment": message.html or message.text or ""}
        if extra:
            payload["message"] = extra
        await mailbox.json("POST", f"me/messages/{_segment(message.in_reply_to)}/reply",
                           payload=payload, scope=SEND, read_error=read_error)
        return SentMessage(id=None, thread_id=None)
    if not message.to:
        raise InvalidInput("a message needs at least one recipient in to", code="invalid_input")
    body = ({"contentType": "HTML", "content": message.html} if message.html
            else {"contentType": "Text", "content": message.text or ""})
    await mailbox.json("POST", "me/sendMail", payload={"message": {
        "subject": message.subject, "body": body,
        "toRecipients": _recipients(message.to), "ccRecipients": _recipients(message.cc),
        "bccRecipients": _recipients(message.bcc), "attachments": attachments},
        "saveToSentItems": True}, scope=SEND, read_error=read_error)
    return SentMessage(id=None, thread_id=None)


async def change(mailbox: Mailbox, message_id: str, wanted: MessageChange) -> MailMessage:
    path = f"me/messages/{_segment(message_id)}"
    item = None
    if wanted.read is not None:
        item = await mailbox.json("PATCH", path, payload={"isRead": wanted.read}, scope=WRITE,
                                  read_error=read_error)
    if wanted.folder_id is not None:
        item = await mailbox.json("POST", f"{path}/move",
                                  payload={"destinationId": wanted.folder_id}, scope=WRITE,
                                  read_error=read_error)
    if item is None:
        item = await mailbox.json("GET", path, scope=READ, read_error=read_error)
    return to_message(item)


async def folders(mailbox: Mailbox) -> list[Folder]:
    listed = await mailbox.json("GET", "me/mailFolders", query="$top=100", scope=READ,
                                read_error=read_error)
    roles: dict[str, str] = {}
    for name, role in ROLES.items():  # one at a time: Graph allows 4 requests per mailbox
        try:
            known = await mailbox.json("GET", f"me/mailFolders/{name}", scope=READ,
                                       read_error=read_error)
        except NotFound:  # a mailbox without that folder (not every one has an Archive)
            continue
        if isinstance(known, dict) and known.get("id"):
            roles[str(known["id"])] = role
    return [Folder(id=str(f["id"]), name=f.get("displayName") or "",
                   kind="system" if str(f["id"]) in roles else "user",
                   role=roles.get(str(f["id"])), total=f.get("totalItemCount"),
                   unread=f.get("unreadItemCount"))
            for f in listed.get("value", [])]
