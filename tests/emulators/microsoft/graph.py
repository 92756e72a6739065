"""Microsoft Graph v1.0, the mail subset: ``/me``, ``/me/messages``, ``/me/sendMail``, and
the same under ``/users/{id | userPrincipalName}`` for app-only tokens (client credentials).

References (learn.microsoft.com/graph): "Get user" (default properties, ``$select``), "List
messages" (default page size 10, ``$top`` from 1 to 1000, follow ``@odata.nextLink`` as is;
Mail.ReadBasic, Mail.Read or Mail.ReadWrite), "Get attachment" (``…/attachments/{id}/$value``:
the raw bytes), "user: sendMail" (``{"message", "saveToSentItems"}`` or base64 MIME as
text/plain; ``202 Accepted`` with an empty body; saved to Sent Items unless
``saveToSentItems`` is false; ``ErrorMimeContentInvalidBase64String``), "Microsoft Graph
error responses" and "Microsoft Graph throttling guidance".

App-only tokens carry application permissions granted for one tenant: they reach the users of
that tenant through ``/users/...`` and get Graph's "/me request is only valid with delegated
authentication flow." for ``/me``. Delegated tokens reach ``/users/...`` for their own user.

Graph resolves path segments case-insensitively (``/me/sendmail`` works), so routing here is a
small table matched on lower-cased segments rather than Starlette routes.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import getaddresses
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .errors import graph_error_response
from .faults import apply_fault
from .scopes import (
    GRAPH_RESOURCE,
    ME_PERMISSIONS,
    READ_MAIL_PERMISSIONS,
    SEND_MAIL_PERMISSIONS,
)
from .state import AccessToken, EmulatorState, User, iso, new_id

WELL_KNOWN_FOLDERS = (
    "inbox",
    "sentitems",
    "drafts",
    "deleteditems",
    "archive",
    "junkemail",
    "outbox",
)
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
SUPPORTED_QUERY_OPTIONS = ("$top", "$skip", "$select")
BASIC_HIDDEN = ("body", "bodyPreview", "uniqueBody")
EXTRA_MESSAGE_PROPERTIES = frozenset(
    {"uniqueBody", "inferenceClassification", "internetMessageHeaders", "changeKey"}
)


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


Handler = Callable[[Request, EmulatorState, AccessToken, User, list[str]], Awaitable[Response]]


def _base_url(request: Request) -> str:
    return f"https://{request.headers.get('host') or request.url.netloc}"


def _select(request: Request) -> list[str]:
    raw = request.query_params.get("$select")
    return [item.strip() for item in raw.split(",") if item.strip()] if raw else []


def _int_option(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query option '{name}'.")
    return value


# --- /me --------------------------------------------------------------------------------------


async def get_me(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    profile = user.graph_profile()
    selected = _select(request)
    context = f"{_base_url(request)}/v1.0/$metadata#users/$entity"
    if selected:
        profile = {name: profile.get(name) for name in selected}
        context = f"{_base_url(request)}/v1.0/$metadata#users({','.join(selected)})/$entity"
    return JSONResponse({"@odata.context": context, **profile})


# --- messages ---------------------------------------------------------------------------------


def _shape(message: dict[str, Any], selected: list[str], basic_only: bool) -> dict[str, Any]:
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


def _folder_key(raw: str) -> str:
    folder = raw.lower()
    if folder not in WELL_KNOWN_FOLDERS:
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    return folder


async def list_messages(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    for option in request.query_params:
        if option.startswith("$") and option not in SUPPORTED_QUERY_OPTIONS:
            raise GraphError(
                400, "BadRequest", f"The emulator does not support the query option '{option}'."
            )
    top = _int_option(request, "$top", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    skip = _int_option(request, "$skip", 0, 0, 10**9)
    selected = _select(request)
    folder = _folder_key(args[0]) if args else None
    mailbox = [m for m in state.mailboxes.get(user.id, []) if folder in (None, m["parentFolderId"])]
    # Newest first, as Outlook lists a mailbox; Graph doesn't promise an order without $orderby.
    mailbox.sort(key=lambda m: m["receivedDateTime"], reverse=True)
    basic_only = not (token.permissions & {"Mail.Read", "Mail.ReadWrite"})
    page = [_shape(m, selected, basic_only) for m in mailbox[skip : skip + top]]
    context = f"{_base_url(request)}/v1.0/$metadata#users('{user.id}')/messages"
    if selected:
        context += f"({','.join(selected)})"
    body: dict[str, Any] = {"@odata.context": context, "value": page}
    if skip + top < len(mailbox):
        options = [f"$top={top}", f"$skip={skip + top}"]
        if selected:
            options.append(f"$select={quote(','.join(selected), safe=',')}")
        body["@odata.nextLink"] = f"{_base_url(request)}{request.url.path}?{'&'.join(options)}"
    return JSONResponse(body)


async def get_message(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    for message in state.mailboxes.get(user.id, []):
        if message["id"] == args[0]:
            basic_only = not (token.permissions & {"Mail.Read", "Mail.ReadWrite"})
            return JSONResponse(_shape(message, _select(request), basic_only))
    raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


GENERATED_CHUNK = bytes(range(256)) * 256  # 64 KiB


async def get_attachment_value(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    """The attachment's raw bytes. An attachment seeded with a ``size`` and no
    ``contentBytes`` is generated as it is sent, so a test can download more than it could
    hold in memory."""
    message_id, attachment_id = args[0], args[1]
    missing = GraphError(404, "ErrorItemNotFound",
                         "The specified object was not found in the store.")
    if not any(m["id"] == message_id for m in state.mailboxes.get(user.id, [])):
        raise missing
    for attachment in state.attachments.get(message_id, []):
        if attachment["id"] != attachment_id:
            continue
        content_type = attachment.get("contentType") or "application/octet-stream"
        if attachment.get("contentBytes") is not None:
            return Response(base64.b64decode(attachment["contentBytes"]), media_type=content_type)
        size = int(attachment.get("size") or 0)
        return StreamingResponse(_generated(size), media_type=content_type,
                                 headers={"Content-Length": str(size)})
    raise missing


async def _generated(size: int) -> AsyncIterator[bytes]:
    left = size
    while left > 0:
        chunk = GENERATED_CHUNK[:left]
        left -= len(chunk)
        yield chunk


# --- sendMail ---------------------------------------------------------------------------------


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

    return {
        "subject": str(parsed.get("Subject", "")),
        "body": {"contentType": "text", "content": content},
        "toRecipients": people("To"),
        "ccRecipients": people("Cc"),
        "bccRecipients": people("Bcc"),
    }


async def send_mail(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    save = True
    if content_type.startswith("text/plain"):
        message, source = _message_from_mime(raw), "mime"
    else:
        try:
            payload = json.loads(raw or b"null")
        except ValueError as exc:
            raise GraphError(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set "
                "and payload is of valid JSON format.",
            ) from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("message"), dict):
            raise GraphError(400, "ErrorInvalidParameter", "The 'message' parameter is required.")
        message, source = payload["message"], "json"
        # The reference example sends "false" as a string, so accept both spellings.
        save = str(payload.get("saveToSentItems", True)).lower() != "false"
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
        state.add_message(user.id, stored, folder="sentitems")
    for address in recipients:
        recipient = state.find_user_by_login(address)
        if recipient is not None:
            state.add_message(recipient.id, {**stored, "isRead": False}, folder="inbox")
    return Response(status_code=202)


# --- dispatch ---------------------------------------------------------------------------------

_DENIED = ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
_MAILBOX_ROUTES: list[tuple[str, tuple[str, ...], Handler, frozenset[str], tuple[str, str]]] = [
    ("GET", (), get_me, ME_PERMISSIONS,
     ("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")),
    ("GET", ("messages",), list_messages, READ_MAIL_PERMISSIONS, _DENIED),
    ("GET", ("messages", "*"), get_message, READ_MAIL_PERMISSIONS, _DENIED),
    ("GET", ("messages", "*", "attachments", "*", "$value"), get_attachment_value,
     READ_MAIL_PERMISSIONS, _DENIED),
    ("GET", ("mailfolders", "*", "messages"), list_messages, READ_MAIL_PERMISSIONS, _DENIED),
    ("POST", ("sendmail",), send_mail, SEND_MAIL_PERMISSIONS, _DENIED),
]

# (method, lower-cased path pattern, handler, permissions accepted, 403 code, 403 message);
# every mailbox route exists for the signed-in user (/me/...) and for any user (/users/*/...).
ROUTES: list[tuple[str, tuple[str, ...], Handler, frozenset[str], str, str]] = [
    (method, (*prefix, *rest), handler, permissions, *denied)
    for prefix in (("me",), ("users", "*"))
    for method, rest, handler, permissions, denied in _MAILBOX_ROUTES
]


def _match(segments: list[str], pattern: tuple[str, ...]) -> list[str] | None:
    if len(segments) != len(pattern):
        return None
    args = []
    for segment, expected in zip(segments, pattern, strict=True):
        if expected == "*":
            args.append(segment)
        elif segment.lower() != expected:
            return None
    return args


def _known_prefix(segments: list[str]) -> int:
    """How many leading segments some route recognises, to name the first unknown one."""
    best = 0
    for _, pattern, *_ in ROUTES:
        length = 0
        for segment, expected in zip(segments, pattern, strict=False):
            if expected != "*" and segment.lower() != expected:
                break
            length += 1
        best = max(best, length)
    return best


def _authenticate(request: Request, state: EmulatorState) -> tuple[AccessToken, User | None]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    token = state.access_tokens.get(value.strip())
    if token is None:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
    if token.expires_at <= state.now():
        raise GraphError(
            401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
        )
    if token.resource != GRAPH_RESOURCE:  # e.g. a token for Exchange Online's IMAP
        raise GraphError(401, "InvalidAuthenticationToken", "Invalid audience.")
    if token.user_id is None:  # app-only
        return token, None
    user = state.users.get(token.user_id)
    if user is None:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
    return token, user


def _mailbox_owner(state: EmulatorState, token: AccessToken, signed_in: User | None,
                   segments: list[str], args: list[str]) -> tuple[User, list[str]]:
    """Whose mailbox a request is about, and the route arguments after the user."""
    if segments[0].lower() == "me":
        if signed_in is None:
            raise GraphError(400, "BadRequest",
                             "/me request is only valid with delegated authentication flow.")
        return signed_in, args
    target = state.find_user(args[0])
    reachable = target is not None and (
        target.tenant_id == token.tenant_id if signed_in is None else target.id == signed_in.id)
    if target is None or not reachable:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{args[0]}' is invalid.")
    return target, args[1:]


async def dispatch(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    host = request.headers.get("host") or request.url.netloc
    client_request_id = request.headers.get("client-request-id")
    segments = [s for s in request.path_params.get("rest", "").split("/") if s]
    state.counters[f"graph_requests:{request.method} /v1.0/{'/'.join(segments)}"] += 1
    fault = state.take_fault("graph", path=request.url.path)
    if fault is not None:
        faulty = await apply_fault(fault, login_host=host, client_request_id=client_request_id)
        if faulty is not None:
            return faulty
    try:
        matched = [(route, _match(segments, route[1])) for route in ROUTES]
        candidates = [(route, args) for route, args in matched if args is not None]
        if not candidates:
            unknown = segments[min(_known_prefix(segments), len(segments) - 1)] if segments else ""
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{unknown}'.")
        chosen = next(((r, a) for r, a in candidates if r[0] == request.method), None)
        if chosen is None:
            raise GraphError(
                405, "Request_BadRequest", "Specified HTTP method is not allowed for the request."
            )
        (_, _, handler, permissions, denied_code, denied_message), args = chosen
        token, signed_in = _authenticate(request, state)
        user, args = _mailbox_owner(state, token, signed_in, segments, args)
        if not token.permissions & permissions:
            raise GraphError(403, denied_code, denied_message)
        response = await handler(request, state, token, user, args)
    except GraphError as exc:
        headers = {}
        if exc.status == 401:
            # What Graph sends along with a 401, pointing at the authorization server.
            headers["WWW-Authenticate"] = (
                f'Bearer realm="", authorization_uri="https://{host}/common/oauth2/authorize", '
                'client_id="00000003-0000-0000-c000-000000000000"'
            )
        return graph_error_response(
            exc.status, exc.code, exc.message, client_request_id=client_request_id, headers=headers
        )
    request_id = new_id()
    response.headers["request-id"] = request_id
    response.headers["client-request-id"] = client_request_id or request_id
    return response


ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
routes = [
    Route("/v1.0/{rest:path}", dispatch, methods=ALL_METHODS),
    Route("/v1.0", dispatch, methods=ALL_METHODS),
]
