"""The Gmail API v1, the part a mail client uses, under ``/gmail/v1/users/{userId}/…``.

References (developers.google.com/workspace/gmail/api/reference/rest/v1): ``messages.list``
(``q``, ``labelIds``, ``maxResults`` default 100 up to 500, ``pageToken``,
``includeSpamTrash``; an empty result has no ``messages`` key, only ``resultSizeEstimate``),
``messages.get`` (``format`` full | metadata | minimal | raw; the body of each MIME part in
base64url, attachments by ``attachmentId``), ``messages.attachments.get`` (``{size, data}``),
``messages.send`` (``{raw, threadId}`` or a media upload of ``message/rfc822``; answers
``{id, threadId, labelIds}``), ``messages.modify``, ``messages.trash``, ``messages.delete``,
``labels.list``, ``history.list`` (``startHistoryId``, ``historyTypes``, ``labelId``; ``404``
when the id is too old: sync fully), ``getProfile``. "Usage limits": per-method quota units
(send 100, list and get 5, history 2, labels 1) against 15,000 per user per minute; beyond it
``429 rateLimitExceeded``. Errors in Google's JSON error format; scopes as "Choose Gmail API
scopes" lists them (``gmail.metadata`` may not read bodies or search).
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import json
import re
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage, Message
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .state import Account, GmailState, Grant, StoredMessage

GMAIL = "https://www.googleapis.com/auth/gmail."
FULL = "https://mail.google.com/"
READ = frozenset({FULL, GMAIL + "readonly", GMAIL + "modify"})
METADATA = READ | {GMAIL + "metadata"}
SEND = frozenset({FULL, GMAIL + "send", GMAIL + "compose", GMAIL + "modify"})
MODIFY = frozenset({FULL, GMAIL + "modify"})
DELETE = frozenset({FULL})
QUOTA_UNITS = {"list": 5, "get": 5, "attachment": 5, "send": 100, "modify": 5, "trash": 5,
               "delete": 10, "history": 2, "labels": 1, "profile": 1}


class GoogleError(Exception):
    def __init__(self, code: int, message: str, reason: str, status: str,
                 domain: str = "global") -> None:
        super().__init__(message)
        self.code, self.message, self.reason, self.status, self.domain = (
            code, message, reason, status, domain)

    def response(self) -> JSONResponse:
        body = {"error": {"code": self.code, "message": self.message,
                          "errors": [{"message": self.message, "domain": self.domain,
                                      "reason": self.reason}],
                          "status": self.status}}
        return JSONResponse(body, status_code=self.code)


NOT_FOUND = GoogleError(404, "Requested entity was not found.", "notFound", "NOT_FOUND")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise GoogleError(400, "Invalid value for ByteString: the raw message is not base64url.",
                          "invalidArgument", "INVALID_ARGUMENT") from exc


# --- the message resource -----------------------------------------------------------------------

def _part(message: StoredMessage, part: Message, part_id: str) -> dict[str, Any]:
    headers = [{"name": k, "value": str(v)} for k, v in part.items()]
    resource: dict[str, Any] = {"partId": part_id, "mimeType": part.get_content_type(),
                                "filename": part.get_filename() or "", "headers": headers}
    if part.is_multipart():
        resource["body"] = {"size": 0}
        resource["parts"] = [
            _part(message, child, f"{part_id}.{i}" if part_id else str(i))
            for i, child in enumerate(part.get_payload())
        ]
        return resource
    data = part.get_payload(decode=True) or b""
    assert isinstance(data, bytes)
    if part.get_filename():
        resource["body"] = {"attachmentId": attachment_id(message, part_id), "size": len(data)}
    else:
        resource["body"] = {"size": len(data), "data": b64url(data)}
    return resource


def attachment_id(message: StoredMessage, part_id: str) -> str:
    return "ANGjdJ" + b64url(f"{message.id}:{part_id}".encode())


def _snippet(parsed: EmailMessage) -> str:
    body = parsed.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", str(text))).strip()[:200]


def resource(message: StoredMessage, fmt: str, metadata_headers: list[str]) -> dict[str, Any]:
    parsed = message.parsed()
    answer: dict[str, Any] = {**message.summary(), "snippet": _snippet(parsed),
                              "sizeEstimate": len(message.raw),
                              "historyId": str(message.history_id),
                              "internalDate": str(message.internal_date)}
    if fmt == "minimal":
        return answer
    if fmt == "raw":
        return {**answer, "raw": b64url(message.raw)}
    payload = _part(message, parsed, "")
    if fmt == "metadata":
        wanted = {h.lower() for h in metadata_headers}
        payload = {"partId": "", "mimeType": payload["mimeType"], "filename": "",
                   "headers": [h for h in payload["headers"]
                               if not wanted or h["name"].lower() in wanted]}
    return {**answer, "payload": payload}


def find_part(message: StoredMessage, part_id: str) -> Message | None:
    node: Message = message.parsed()
    for index in filter(None, part_id.split(".")):
        children = node.get_payload()
        if not node.is_multipart() or not isinstance(children, list) or int(index) >= len(
                children):
            return None
        child = children[int(index)]
        if not isinstance(child, Message):
            return None
        node = child
    return node


# --- search ----------------------------------------------------------------------------------

_TERM = re.compile(r'(-?)(?:(\w+):)?("[^"]*"|\S+)')


def _matches(account: Account, message: StoredMessage, query: str) -> bool:
    parsed = message.parsed()
    text = " ".join((str(parsed["Subject"] or ""), str(parsed["From"] or ""),
                     str(parsed["To"] or ""), _snippet(parsed))).lower()
    for negate, operator, raw_value in _TERM.findall(query):
        value = raw_value.strip('"').lower()
        if operator == "is":
            hit = {"unread": "UNREAD" in message.label_ids,
                   "read": "UNREAD" not in message.label_ids,
                   "starred": "STARRED" in message.label_ids}.get(value, False)
        elif operator in ("in", "label"):
            hit = value.upper() in message.label_ids or any(
                account.labels[label].name.lower() == value for label in message.label_ids
                if label in account.labels)
        elif operator == "from":
            hit = value in str(parsed["From"] or "").lower()
        elif operator == "to":
            hit = value in str(parsed["To"] or "").lower()
        elif operator == "subject":
            hit = value in str(parsed["Subject"] or "").lower()
        elif operator in ("after", "before"):
            hit = _date_test(operator, value, message.internal_date)
        elif operator == "has":
            hit = value == "attachment" and any(True for _ in parsed.iter_attachments())
        else:
            hit = value in text
        if hit == bool(negate):
            return False
    return True


def _date_test(operator: str, value: str, internal_date: int) -> bool:
    if value.isdigit():
        moment = int(value) * 1000
    else:
        try:
            moment = int(time.mktime(time.strptime(value.replace("-", "/"), "%Y/%m/%d"))) * 1000
        except ValueError as exc:
            raise GoogleError(400, "Invalid query.", "invalidArgument",
                              "INVALID_ARGUMENT") from exc
    return internal_date > moment if operator == "after" else internal_date < moment


# --- handlers ----------------------------------------------------------------------------------

Handler = Callable[[Request, GmailState, Account, Grant, list[str]], Awaitable[Response]]


def _int(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise GoogleError(400, f"Invalid value for {name}.", "invalidArgument", "INVALID_ARGUMENT")
    return int(raw)


def _message(account: Account, message_id: str) -> StoredMessage:
    message = account.messages.get(message_id)
    if message is None:
        raise NOT_FOUND
    return message


async def list_messages(request: Request, state: GmailState, account: Account, grant: Grant,
                        args: list[str]) -> Response:
    query = request.query_params.get("q")
    if query and not set(grant.scopes) & READ:
        raise GoogleError(403, "Metadata scope does not support 'q' parameter",
                          "forbidden", "PERMISSION_DENIED")
    size = _int(request, "maxResults", 100, 500)
    offset = int(request.query_params.get("pageToken") or 0) if (
        request.query_params.get("pageToken") or "0").isdigit() else 0
    label_ids = request.query_params.getlist("labelIds")
    include_hidden = request.query_params.get("includeSpamTrash") == "true"
    found = sorted((m for m in account.messages.values()
                    if all(label in m.label_ids for label in label_ids)
                    and (include_hidden or not {"SPAM", "TRASH"} & set(m.label_ids))
                    and (not query or _matches(account, m, query))),
                   key=lambda m: m.internal_date, reverse=True)
    page = found[offset: offset + size]
    body: dict[str, Any] = {"resultSizeEstimate": len(found)}
    if page:
        body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
    if offset + size < len(found):
        body["nextPageToken"] = str(offset + size)
    return JSONResponse(body)


async def get_message(request: Request, state: GmailState, account: Account, grant: Grant,
                      args: list[str]) -> Response:
    fmt = (request.query_params.get("format") or "full").lower()
    if fmt not in ("full", "metadata", "minimal", "raw"):
        raise GoogleError(400, "Invalid value at 'format'.", "invalidArgument",
                          "INVALID_ARGUMENT")
    if fmt in ("full", "raw") and not set(grant.scopes) & READ:
        raise GoogleError(403, f"Metadata scope doesn't allow format {fmt.upper()}",
                          "forbidden", "PERMISSION_DENIED")
    message = _message(account, args[0])
    return JSONResponse(resource(message, fmt, request.query_params.getlist("metadataHeaders")))


async def get_attachment(request: Request, state: GmailState, account: Account, grant: Grant,
                         args: list[str]) -> Response:
    message = _message(account, args[0])
    try:
        message_id, _, part_id = unb64url(args[1].removeprefix("ANGjdJ")).decode().partition(":")
    except (GoogleError, UnicodeDecodeError):
        raise GoogleError(400, "Invalid attachment token", "invalidArgument",
                          "INVALID_ARGUMENT") from None
    part = find_part(message, part_id) if message_id == message.id else None
    if part is None:
        raise GoogleError(400, "Invalid attachment token", "invalidArgument", "INVALID_ARGUMENT")
    data = part.get_payload(decode=True) or b""
    assert isinstance(data, bytes)
    return JSONResponse({"attachmentId": args[1], "size": len(data), "data": b64url(data)})


async def send_message(request: Request, state: GmailState, account: Account, grant: Grant,
                       args: list[str]) -> Response:
    if request.headers.get("content-type", "").startswith("message/rfc822"):
        raw, thread = await request.body(), None
    else:
        try:
            payload = json.loads(await request.body() or b"null")
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("raw"), str):
            raise GoogleError(400, "'raw' RFC822 payload message string or uploading message "
                                   "via /upload/* URL required", "invalidArgument",
                              "INVALID_ARGUMENT")
        raw, thread = unb64url(payload["raw"]), payload.get("threadId")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    recipients = [address for header in ("To", "Cc", "Bcc")
                  for address in re.findall(r"[\w.+-]+@[\w.-]+", str(parsed[header] or ""))]
    if not recipients:
        raise GoogleError(400, "Invalid To header", "invalidArgument", "INVALID_ARGUMENT")
    if "Bcc" in parsed:
        del parsed["Bcc"]  # Gmail keeps Bcc in the sender's copy only; recipients never see it
    thread_id = account.thread_of(thread, str(parsed["Subject"] or "")) if thread else None
    sent = account.add(raw, ["SENT"], thread_id)
    delivered = parsed.as_bytes(policy=email.policy.SMTP)
    for address in recipients:
        recipient = state.account(address)
        if recipient is not None:
            recipient.add(delivered, ["INBOX", "UNREAD"])
    state.counters["messages_sent"] += 1
    return JSONResponse(sent.summary())


async def modify_message(request: Request, state: GmailState, account: Account, grant: Grant,
                         args: list[str]) -> Response:
    message = _message(account, args[0])
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise GoogleError(400, "Invalid JSON payload received.", "invalidArgument",
                          "INVALID_ARGUMENT")
    add, remove = body.get("addLabelIds") or [], body.get("removeLabelIds") or []
    for label in [*add, *remove]:
        if label not in account.labels:
            raise GoogleError(400, f"Invalid label: {label}", "invalidArgument",
                              "INVALID_ARGUMENT")
    account.relabel(message, list(add), list(remove))
    return JSONResponse(message.summary())


async def trash_message(request: Request, state: GmailState, account: Account, grant: Grant,
                        args: list[str]) -> Response:
    message = _message(account, args[0])
    account.relabel(message, ["TRASH"], ["INBOX"])
    return JSONResponse(message.summary())


async def delete_message(request: Request, state: GmailState, account: Account, grant: Grant,
                         args: list[str]) -> Response:
    account.delete(_message(account, args[0]))
    return Response(status_code=204)


async def list_labels(request: Request, state: GmailState, account: Account, grant: Grant,
                      args: list[str]) -> Response:
    return JSONResponse({"labels": [label.resource() for label in account.labels.values()]})


async def list_history(request: Request, state: GmailState, account: Account, grant: Grant,
                       args: list[str]) -> Response:
    start = request.query_params.get("startHistoryId")
    if not start or not start.isdigit():
        raise GoogleError(400, "Missing/invalid parameter: startHistoryId", "invalidArgument",
                          "INVALID_ARGUMENT")
    if int(start) < account.oldest_history_id:
        raise NOT_FOUND
    kinds = set(request.query_params.getlist("historyTypes"))
    label = request.query_params.get("labelId")
    size = _int(request, "maxResults", 100, 500)
    records = []
    for record in account.history:
        if int(record["id"]) <= int(start):
            continue
        changes = {k: v for k, v in record.items() if k not in ("id", "messages")}
        kept = {k: v for k, v in changes.items() if not kinds or k in {_kind(t) for t in kinds}}
        if label:
            kept = {k: [c for c in v if label in c["message"]["labelIds"]
                        or label in c.get("labelIds", [])] for k, v in kept.items()}
            kept = {k: v for k, v in kept.items() if v}
        if kept:
            records.append({"id": record["id"], "messages": record["messages"], **kept})
    offset = int(request.query_params.get("pageToken") or 0)
    body: dict[str, Any] = {"historyId": str(account.history_id)}
    if records[offset: offset + size]:
        body["history"] = records[offset: offset + size]
    if offset + size < len(records):
        body["nextPageToken"] = str(offset + size)
    return JSONResponse(body)


def _kind(history_type: str) -> str:
    """``messageAdded`` (the query's spelling) → ``messagesAdded`` (the record's)."""
    return {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted",
            "labelAdded": "labelsAdded", "labelRemoved": "labelsRemoved"}.get(history_type,
                                                                               history_type)


async def get_profile(request: Request, state: GmailState, account: Account, grant: Grant,
                      args: list[str]) -> Response:
    return JSONResponse({"emailAddress": account.email,
                         "messagesTotal": len(account.messages),
                         "threadsTotal": len({m.thread_id for m in account.messages.values()}),
                         "historyId": str(account.history_id)})


# --- dispatch ----------------------------------------------------------------------------------

ROUTES: list[tuple[str, tuple[str, ...], Handler, frozenset[str], str]] = [
    ("GET", ("profile",), get_profile, METADATA, "profile"),
    ("GET", ("messages",), list_messages, METADATA, "list"),
    ("GET", ("messages", "*"), get_message, METADATA, "get"),
    ("DELETE", ("messages", "*"), delete_message, DELETE, "delete"),
    ("GET", ("messages", "*", "attachments", "*"), get_attachment, READ, "attachment"),
    ("POST", ("messages", "send"), send_message, SEND, "send"),
    ("POST", ("messages", "*", "modify"), modify_message, MODIFY, "modify"),
    ("POST", ("messages", "*", "trash"), trash_message, MODIFY, "trash"),
    ("GET", ("labels",), list_labels, METADATA, "labels"),
    ("GET", ("history",), list_history, METADATA, "history"),
]
UNAUTHENTICATED = GoogleError(
    401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
         "cookie or other valid authentication credential.", "authError", "UNAUTHENTICATED")
INSUFFICIENT = GoogleError(403, "Request had insufficient authentication scopes.",
                           "insufficientPermissions", "PERMISSION_DENIED")
RATE_LIMITED = GoogleError(429, "User-rate limit exceeded. Retry after a while.",
                           "rateLimitExceeded", "RESOURCE_EXHAUSTED", "usageLimits")


def _grant(request: Request, state: GmailState) -> Grant:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    held = state.access_tokens.get(value.strip()) if scheme.lower() == "bearer" else None
    if held is None or held[1] <= time.time():
        raise UNAUTHENTICATED
    return held[0]


async def dispatch(request: Request) -> Response:
    state: GmailState = request.app.state.gmail
    segments = [s for s in request.path_params["rest"].split("/") if s]
    state.counters[f"gmail:{request.method} {'/'.join(segments[1:])}"] += 1
    try:
        grant = _grant(request, state)
        if not segments:
            raise NOT_FOUND
        user, rest = segments[0], segments[1:]
        account = state.account(grant.email)
        if account is None or user not in ("me", account.email):
            raise GoogleError(403, "Delegation denied for " + grant.email, "forbidden",
                              "PERMISSION_DENIED")
        for method, pattern, handler, scopes, kind in ROUTES:
            args = _match(rest, pattern)
            if args is None or method != request.method:
                continue
            if not set(grant.scopes) & scopes:
                raise INSUFFICIENT
            fault = state.take_fault()
            if fault is not None:
                raise GoogleError(fault["status"], fault["message"], fault["reason"],
                                  fault["status_name"], fault["domain"])
            if not state.spend(account.email, QUOTA_UNITS[kind]):
                state.counters["rate_limited"] += 1
                raise RATE_LIMITED
            return await handler(request, state, account, grant, args)
        raise NOT_FOUND
    except GoogleError as exc:
        return exc.response()


def _match(segments: list[str], pattern: tuple[str, ...]) -> list[str] | None:
    if len(segments) != len(pattern):
        return None
    args = []
    for segment, expected in zip(segments, pattern, strict=True):
        if expected == "*":
            args.append(segment)
        elif segment != expected:
            return None
    return args


async def upload(request: Request) -> Response:
    """The media upload of ``messages.send`` (``/upload/gmail/v1/users/me/messages/send``)."""
    return await dispatch(request)


ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
routes = [
    Route("/gmail/v1/users/{rest:path}", dispatch, methods=ALL_METHODS),
    Route("/upload/gmail/v1/users/{rest:path}", upload, methods=["POST"]),
]
