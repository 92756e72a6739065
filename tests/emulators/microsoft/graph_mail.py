"""Microsoft Graph v1.0 mail: messages, folders, attachments, sending, replying and delta.

References (learn.microsoft.com/graph/api): "List messages" (default page size 10, ``$top``
1–1000, ``@odata.nextLink`` followed as is; ``$filter`` and ``$orderby`` together only when the
``$orderby`` properties come first in ``$filter``, else ``InefficientFilter``; ``$search``
takes a quoted query, cannot be combined with ``$filter``, ``$orderby`` or ``$skip``, and pages
with ``$skiptoken``), "Get message" (``/$value``: the MIME content), "List attachments" /
"Get attachment" (``/$value``: the raw bytes), "user: sendMail" (``202``; saved to Sent Items
unless ``saveToSentItems`` is false; base64 MIME as text/plain), "message: reply" (``202``;
``comment`` and/or ``message``), "message: move" (``201`` with the moved message, which has a
new id), "Update message" (``isRead``, ``categories``, ``flag``), "Delete message" (``204``),
"List mailFolders" (default page size 10), "message: delta" (per folder; ``Prefer:
odata.maxpagesize``; ``@odata.deltaLink`` ends a round; ``@removed`` rows; only ``$select``,
``$top`` and a ``receivedDateTime`` filter) and "Get incremental changes to messages in a
folder" (an expired token answers ``410 Gone``: sync again).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email
import email.policy
import json
import re
import secrets
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .graph_common import NOT_FOUND, GraphError, base_url, int_option, select
from .mailbox import Folder, Mailbox
from .state import AccessToken, DeltaPage, DeltaState, EmulatorState, User, iso, new_id

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
LIST_OPTIONS = ("$top", "$skip", "$select", "$filter", "$orderby", "$search", "$skiptoken")
DELTA_OPTIONS = ("$select", "$top", "$filter", "$orderby", "$deltatoken", "$skiptoken")
BASIC_HIDDEN = ("body", "bodyPreview", "uniqueBody")
EXTRA_MESSAGE_PROPERTIES = frozenset(
    {"uniqueBody", "inferenceClassification", "internetMessageHeaders", "changeKey"}
)
READ_ALL = frozenset({"Mail.Read", "Mail.ReadWrite"})
SYNC_RESET = ("SyncStateNotFound",
              "The sync state is not found or has expired. Synchronize the folder again.")
GENERATED_CHUNK = bytes(range(256)) * 256  # 64 KiB


def _mailbox(state: EmulatorState, user: User) -> Mailbox:
    return state.mailboxes.setdefault(user.id, Mailbox())


def _folder(mailbox: Mailbox, raw: str) -> Folder:
    folder = mailbox.folder(raw)
    if folder is None:
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    return folder


def _message(mailbox: Mailbox, message_id: str) -> dict[str, Any]:
    message = mailbox.find(message_id)
    if message is None:
        raise GraphError(404, *NOT_FOUND)
    return message


def _shape(message: dict[str, Any], selected: list[str], basic_only: bool) -> dict[str, Any]:
    if "@removed" in message:
        return message
    if selected:
        known = set(message) | EXTRA_MESSAGE_PROPERTIES
        for name in selected:
            if name not in known:
                raise GraphError(
                    400,
                    "RequestBroker--ParseUri",
                    f"Could not find a property named '{name}' on type 'microsoft.graph.message'.",
                )
        shaped = {"@odata.etag": message["@odata.etag"], "id": message["id"]}
        shaped.update({name: message.get(name) for name in selected})
    else:
        shaped = dict(message)
    if basic_only:
        # Mail.ReadBasic reads everything but the body and its previews.
        for name in BASIC_HIDDEN:
            shaped.pop(name, None)
    return shaped


def _check_options(request: Request, allowed: tuple[str, ...]) -> None:
    for option in request.query_params:
        if option.startswith("$") and option not in allowed:
            raise GraphError(
                400, "BadRequest", f"The emulator does not support the query option '{option}'."
            )


# --- $filter, $orderby and $search -------------------------------------------------------------

_CLAUSE = re.compile(
    r"^(?P<field>isRead|hasAttachments|receivedDateTime|from/emailAddress/address)\s+"
    r"(?P<op>eq|ne|ge|gt|le|lt)\s+(?P<value>true|false|'[^']*'|\d{4}-\d\d-\d\dT[\d:.]+Z)$",
    re.IGNORECASE,
)
_FIELD_NAMES = {"isread": "isRead", "hasattachments": "hasAttachments",
                "receiveddatetime": "receivedDateTime",
                "from/emailaddress/address": "from/emailAddress/address"}


def _parse_filter(raw: str) -> list[tuple[str, str, str]]:
    clauses = []
    for part in re.split(r"\s+and\s+", raw.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part.strip())
        if match is None:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: '{part.strip()}'.")
        field = _FIELD_NAMES[match["field"].lower()]
        clauses.append((field, match["op"].lower(), match["value"].strip("'")))
    return clauses


def _value(message: dict[str, Any], field: str) -> Any:
    if field == "from/emailAddress/address":
        return (((message.get("from") or {}).get("emailAddress") or {}).get("address") or "")
    return message.get(field)


def _matches(message: dict[str, Any], clauses: list[tuple[str, str, str]]) -> bool:
    for field, op, raw in clauses:
        actual = _value(message, field)
        expected: Any = raw == "true" if raw in ("true", "false") else raw
        if isinstance(actual, str) and isinstance(expected, str):
            actual, expected = actual.lower(), expected.lower()
        compare = {"eq": actual == expected, "ne": actual != expected,
                   "ge": actual >= expected, "gt": actual > expected,
                   "le": actual <= expected, "lt": actual < expected}
        if not compare[op]:
            return False
    return True


def _order(raw: str | None, clauses: list[tuple[str, str, str]]) -> bool:
    """Whether to sort newest first; enforces Graph's rule for $filter with $orderby."""
    if raw is None:
        return True
    match = re.fullmatch(r"receivedDateTime(\s+(asc|desc))?", raw.strip(), re.IGNORECASE)
    if match is None:
        raise GraphError(400, "BadRequest", f"The emulator cannot order by '{raw}'.")
    if clauses and clauses[0][0] != "receivedDateTime":
        raise GraphError(400, "InefficientFilter",
                         "The restriction or sort order is too complex for this operation.")
    return (match.group(2) or "asc").lower() == "desc"


def _search(messages: list[dict[str, Any]], raw: str) -> list[dict[str, Any]]:
    if len(raw) < 2 or not (raw.startswith('"') and raw.endswith('"')):
        raise GraphError(400, "BadRequest", "Syntax error: the $search query must be quoted.")
    words = raw[1:-1].lower().split()

    def text(message: dict[str, Any]) -> str:
        sender = (message.get("from") or {}).get("emailAddress") or {}
        return " ".join((message.get("subject") or "", (message.get("body") or {}).get(
            "content") or "", sender.get("address") or "", sender.get("name") or "")).lower()

    return [m for m in messages if all(word in text(m) for word in words)]


async def list_messages(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    _check_options(request, LIST_OPTIONS)
    params = request.query_params
    mailbox = _mailbox(state, user)
    top = int_option(request, "$top", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    selected = select(request)
    folder = _folder(mailbox, args[0]) if args else None
    messages = mailbox.in_folder(folder)
    search = params.get("$search")
    if search is not None:
        for clash in ("$filter", "$orderby", "$skip"):
            if clash in params:
                raise GraphError(400, "ErrorInvalidUrlQuery",
                                 f"The query parameter '{clash}' is invalid with $search.")
        found = sorted(_search(messages, search), key=lambda m: m["sentDateTime"],
                       reverse=True)
        offset = int_option(request, "$skiptoken", 0, 0, 10**9)
        page, more = found[offset: offset + top], offset + top < len(found)
        next_options = [f"$search={quote(search)}", f"$top={top}",
                        f"$skiptoken={offset + top}"]
    else:
        clauses = _parse_filter(params["$filter"]) if "$filter" in params else []
        newest_first = _order(params.get("$orderby"), clauses)
        found = sorted((m for m in messages if _matches(m, clauses)),
                       key=lambda m: m["receivedDateTime"], reverse=newest_first)
        skip = int_option(request, "$skip", 0, 0, 10**9)
        page, more = found[skip: skip + top], skip + top < len(found)
        next_options = [f"$top={top}", f"$skip={skip + top}"]
        for name in ("$filter", "$orderby"):
            if name in params:
                next_options.append(f"{name}={quote(params[name])}")
    basic_only = not (token.permissions & READ_ALL)
    context = f"{base_url(request)}/v1.0/$metadata#users('{user.id}')/messages"
    if selected:
        context += f"({','.join(selected)})"
        next_options.append(f"$select={quote(','.join(selected), safe=',')}")
    body: dict[str, Any] = {"@odata.context": context,
                            "value": [_shape(m, selected, basic_only) for m in page]}
    if more:
        body["@odata.nextLink"] = f"{base_url(request)}{request.url.path}?{'&'.join(next_options)}"
    return JSONResponse(body)


async def get_message(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    message = _message(_mailbox(state, user), args[0])
    return JSONResponse(_shape(message, select(request), not token.permissions & READ_ALL))


# --- MIME and attachments -----------------------------------------------------------------------

def _addresses(people: list[dict[str, Any]] | None) -> str:
    return ", ".join(
        f"{(p.get('emailAddress') or {}).get('name') or ''} "
        f"<{(p.get('emailAddress') or {}).get('address')}>".strip()
        for p in people or [] if p)


def _stored_attachments(state: EmulatorState, message_id: str) -> list[dict[str, Any]]:
    return state.attachments.get(message_id, [])


def mime_of(state: EmulatorState, message: dict[str, Any]) -> bytes:
    """The message's MIME form, built with the standard library as Exchange would serve it."""
    mime = EmailMessage()
    mime["Message-ID"] = message["internetMessageId"]
    mime["Date"] = format_datetime(dt.datetime.fromisoformat(
        message["sentDateTime"].replace("Z", "+00:00")))
    mime["Subject"] = message.get("subject") or ""
    for header, name in (("From", "from"), ("To", "toRecipients"), ("Cc", "ccRecipients"),
                         ("Reply-To", "replyTo")):
        value = message.get(name)
        people = value if isinstance(value, list) else [value] if value else []
        if people and _addresses(people):
            mime[header] = _addresses(people)
    body = message.get("body") or {}
    subtype = "html" if str(body.get("contentType", "text")).lower() == "html" else "plain"
    mime.set_content(body.get("content") or "", subtype=subtype)
    for attachment in _stored_attachments(state, message["id"]):
        content = base64.b64decode(attachment.get("contentBytes") or "")
        maintype, _, subtype = (attachment.get("contentType")
                                or "application/octet-stream").partition("/")
        mime.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream",
                            filename=attachment.get("name") or "attachment")
    return mime.as_bytes(policy=email.policy.SMTP)


async def get_message_mime(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    if not token.permissions & READ_ALL:
        raise GraphError(403, "ErrorAccessDenied",
                         "Access is denied. Check credentials and try again.")
    message = _message(_mailbox(state, user), args[0])
    return Response(mime_of(state, message), media_type="text/plain")


def _attachment_resource(attachment: dict[str, Any], with_content: bool) -> dict[str, Any]:
    resource = {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "id": attachment["id"],
        "lastModifiedDateTime": attachment.get("lastModifiedDateTime") or "2024-01-01T00:00:00Z",
        "name": attachment.get("name") or "attachment",
        "contentType": attachment.get("contentType") or "application/octet-stream",
        "size": int(attachment.get("size") or len(base64.b64decode(
            attachment.get("contentBytes") or ""))),
        "isInline": bool(attachment.get("isInline", False)),
        "contentId": attachment.get("contentId"),
    }
    if with_content and attachment.get("contentBytes") is not None:
        resource["contentBytes"] = attachment["contentBytes"]
    return resource


async def list_attachments(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    _message(_mailbox(state, user), args[0])
    selected = select(request)
    value = [_attachment_resource(a, with_content="contentBytes" not in selected and not selected)
             for a in _stored_attachments(state, args[0])]
    if selected:
        value = [{k: v for k, v in a.items() if k in selected or k in ("@odata.type", "id")}
                 for a in value]
    return JSONResponse({"@odata.context": f"{base_url(request)}/v1.0/$metadata#users('"
                                           f"{user.id}')/messages('{args[0]}')/attachments",
                         "value": value})


def _attachment(state: EmulatorState, user: User, message_id: str,
                attachment_id: str) -> dict[str, Any]:
    _message(_mailbox(state, user), message_id)
    for attachment in _stored_attachments(state, message_id):
        if attachment["id"] == attachment_id:
            return attachment
    raise GraphError(404, *NOT_FOUND)


async def get_attachment(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    return JSONResponse(_attachment_resource(_attachment(state, user, *args), True))


async def get_attachment_value(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    """The attachment's raw bytes. An attachment seeded with a ``size`` and no
    ``contentBytes`` is generated as it is sent, so a test can download more than it could
    hold in memory."""
    attachment = _attachment(state, user, *args)
    content_type = attachment.get("contentType") or "application/octet-stream"
    if attachment.get("contentBytes") is not None:
        return Response(base64.b64decode(attachment["contentBytes"]), media_type=content_type)
    size = int(attachment.get("size") or 0)
    return StreamingResponse(_generated(size), media_type=content_type,
                             headers={"Content-Length": str(size)})


async def _generated(size: int) -> AsyncIterator[bytes]:
    left = size
    while left > 0:
        chunk = GENERATED_CHUNK[:left]
        left -= len(chunk)
        yield chunk


# --- changing messages --------------------------------------------------------------------------

async def _json_object(request: Request) -> dict[str, Any]:
    try:
        payload = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise GraphError(
            400, "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set "
            "and payload is of valid JSON format.") from exc
    if not isinstance(payload, dict):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    return payload


UPDATABLE = frozenset({"isRead", "categories", "flag", "importance", "subject"})


async def update_message(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    mailbox = _mailbox(state, user)
    message = _message(mailbox, args[0])
    changes = await _json_object(request)
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise GraphError(400, "ErrorInvalidProperty",
                         f"The property '{sorted(unknown)[0]}' cannot be updated.")
    if "isRead" in changes and not isinstance(changes["isRead"], bool):
        raise GraphError(400, "BadRequest", "Cannot convert the literal to 'Edm.Boolean'.")
    mailbox.update(message, changes, iso(state.now()))
    return JSONResponse(_shape(message, [], False))


async def move_message(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    mailbox = _mailbox(state, user)
    message = _message(mailbox, args[0])
    destination = (await _json_object(request)).get("destinationId")
    if not isinstance(destination, str) or not destination:
        raise GraphError(400, "ErrorInvalidParameter", "The 'destinationId' parameter is required.")
    folder = mailbox.folder(destination)
    if folder is None:
        raise GraphError(404, *NOT_FOUND)
    moved = mailbox.move(message, folder, "AAMkA" + secrets.token_urlsafe(24), iso(state.now()))
    if message["id"] in state.attachments:
        state.attachments[moved["id"]] = state.attachments.pop(message["id"])
    return JSONResponse(_shape(moved, [], False), status_code=201)


async def delete_message(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    mailbox = _mailbox(state, user)
    mailbox.remove(_message(mailbox, args[0]))
    return Response(status_code=204)


# --- sending -------------------------------------------------------------------------------------

def _recipients(message: dict[str, Any]) -> list[str]:
    addresses = []
    for field in ("toRecipients", "ccRecipients", "bccRecipients"):
        for recipient in message.get(field) or []:
            address = ((recipient or {}).get("emailAddress") or {}).get("address")
            if not isinstance(address, str) or "@" not in address:
                raise GraphError(
                    400, "ErrorInvalidRecipients", "At least one recipient is not valid."
                )
            addresses.append(address)
    if not addresses:
        raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
    return addresses


def _message_from_mime(raw: bytes) -> dict[str, Any]:
    try:
        decoded = base64.b64decode(b"".join(raw.split()), validate=True)
        if not decoded:
            raise ValueError("empty MIME content")
    except (binascii.Error, ValueError) as exc:
        raise GraphError(
            400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."
        ) from exc
    parsed = email.message_from_bytes(decoded, policy=email.policy.default)
    body_part = parsed.get_body(preferencelist=("plain", "html"))
    content = body_part.get_content() if body_part is not None else ""

    def people(header: str) -> list[dict[str, Any]]:
        return [
            {"emailAddress": {"name": name or address, "address": address}}
            for name, address in getaddresses(parsed.get_all(header, []))
        ]

    attachments = [
        {"@odata.type": "#microsoft.graph.fileAttachment", "name": part.get_filename(),
         "contentType": part.get_content_type(),
         "contentBytes": base64.b64encode(part.get_content() if isinstance(
             part.get_content(), bytes) else str(part.get_content()).encode()).decode()}
        for part in parsed.iter_attachments()
    ]
    return {
        "subject": str(parsed.get("Subject", "")),
        "body": {"contentType": "text", "content": content},
        "toRecipients": people("To"),
        "ccRecipients": people("Cc"),
        "bccRecipients": people("Bcc"),
        "attachments": attachments,
    }


def _deliver(state: EmulatorState, token: AccessToken, user: User, message: dict[str, Any],
             *, save: bool, source: str) -> None:
    """Record the sent mail, keep a copy in Sent Items, and put it in local recipients'
    inboxes."""
    recipients = _recipients(message)
    sender = {"emailAddress": {"name": user.display_name, "address": user.mail or ""}}
    state.sent_mail.append(
        {
            "id": new_id(),
            "user_id": user.id,
            "client_id": token.client_id,
            "from": user.mail or user.user_principal_name,
            "recipients": recipients,
            "format": source,
            "saveToSentItems": save,
            "sent_at": iso(state.now()),
            "message": message,
        }
    )
    state.counters["messages_sent"] += 1
    stored = {**message, "from": sender, "sender": sender, "isRead": True}
    if save:
        state.add_message(user.id, dict(stored), folder="sentitems")
    for address in recipients:
        recipient = state.find_user_by_login(address)
        if recipient is not None:
            state.add_message(recipient.id, {**stored, "isRead": False}, folder="inbox")


async def send_mail(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("text/plain"):
        _deliver(state, token, user, _message_from_mime(await request.body()), save=True,
                 source="mime")
        return Response(status_code=202)
    payload = await _json_object(request)
    if not isinstance(payload.get("message"), dict):
        raise GraphError(400, "ErrorInvalidParameter", "The 'message' parameter is required.")
    # The reference example sends "false" as a string, so accept both spellings.
    save = str(payload.get("saveToSentItems", True)).lower() != "false"
    _deliver(state, token, user, payload["message"], save=save, source="json")
    return Response(status_code=202)


async def reply(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    """Reply to the sender, in the original's conversation: ``comment`` goes above the quoted
    original; a ``message`` may add recipients and attachments."""
    original = _message(_mailbox(state, user), args[0])
    payload = await _json_object(request)
    extra: dict[str, Any] = payload["message"] if isinstance(payload.get("message"), dict) else {}
    comment = payload.get("comment") if isinstance(payload.get("comment"), str) else ""
    sender = original.get("replyTo") or ([original["from"]] if original.get("from") else [])
    subject = original.get("subject") or ""
    quoted = ((original.get("body") or {}).get("content") or "")
    message = {
        **extra,
        "subject": subject if subject.upper().startswith("RE:") else f"RE: {subject}",
        "toRecipients": (extra.get("toRecipients") or []) + sender,
        "body": {"contentType": "text", "content": f"{comment}\n\n> {quoted}"},
        "conversationId": original["conversationId"],
        "internetMessageHeaders": [{"name": "In-Reply-To",
                                    "value": original["internetMessageId"]}],
    }
    _deliver(state, token, user, message, save=True, source="reply")
    return Response(status_code=202)


# --- folders -------------------------------------------------------------------------------------

async def list_folders(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    _check_options(request, ("$top", "$skip"))
    mailbox = _mailbox(state, user)
    top = int_option(request, "$top", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    skip = int_option(request, "$skip", 0, 0, 10**9)
    folders = list(mailbox.folders.values())
    body: dict[str, Any] = {
        "@odata.context": f"{base_url(request)}/v1.0/$metadata#users('{user.id}')/mailFolders",
        "value": [f.resource(mailbox.messages) for f in folders[skip: skip + top]],
    }
    if skip + top < len(folders):
        body["@odata.nextLink"] = (f"{base_url(request)}{request.url.path}"
                                   f"?$top={top}&$skip={skip + top}")
    return JSONResponse(body)


async def get_folder(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    mailbox = _mailbox(state, user)
    folder = mailbox.folder(args[0])
    if folder is None:
        raise GraphError(404, *NOT_FOUND)
    return JSONResponse(folder.resource(mailbox.messages))


# --- delta ---------------------------------------------------------------------------------------

def _page_size(request: Request) -> int:
    match = re.search(r"odata\.maxpagesize=(\d+)", request.headers.get("prefer", ""))
    return max(1, min(int(match.group(1)), MAX_PAGE_SIZE)) if match else DEFAULT_PAGE_SIZE


async def delta(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    _check_options(request, DELTA_OPTIONS)
    params = request.query_params
    mailbox = _mailbox(state, user)
    size = _page_size(request)
    if "$skiptoken" in params:
        page_state = state.delta_pages.pop(params["$skiptoken"], None)
        if page_state is None or page_state.user_id != user.id:
            raise GraphError(410, *SYNC_RESET)
        rows, end = page_state.rows, page_state.end
    else:
        if "$deltatoken" in params:
            start = state.delta_tokens.get(params["$deltatoken"])
            if start is None or start.user_id != user.id:
                raise GraphError(410, *SYNC_RESET)
            folder = _folder(mailbox, start.folder_id)
            rows = mailbox.changes(folder, start.since)
            selected = start.select
        else:  # a round's first request: what is in the folder now
            folder = _folder(mailbox, args[0])
            clauses = _parse_filter(params["$filter"]) if "$filter" in params else []
            if any(field != "receivedDateTime" for field, _, _ in clauses):
                raise GraphError(400, "BadRequest",
                                 "Only receivedDateTime can be filtered in a delta query.")
            rows = sorted((m for m in mailbox.in_folder(folder) if _matches(m, clauses)),
                          key=lambda m: m["receivedDateTime"], reverse=True)
            selected = select(request)
        end = DeltaState(user.id, folder.id, mailbox.sequence, selected)
    basic_only = not (token.permissions & READ_ALL)
    page = [_shape(m, end.select, basic_only) for m in rows[:size]]
    rest = rows[size:]
    path = f"{base_url(request)}{request.url.path}"
    body: dict[str, Any] = {
        "@odata.context": f"{base_url(request)}/v1.0/$metadata#Collection(message)",
        "value": page,
    }
    if rest:
        skiptoken = secrets.token_urlsafe(24)
        state.delta_pages[skiptoken] = DeltaPage(user.id, rest, end)
        body["@odata.nextLink"] = f"{path}?$skiptoken={skiptoken}"
    else:
        deltatoken = secrets.token_urlsafe(24)
        state.delta_tokens[deltatoken] = end
        body["@odata.deltaLink"] = f"{path}?$deltatoken={deltatoken}"
    return JSONResponse(body, headers={"Preference-Applied": f"odata.maxpagesize={size}"})
