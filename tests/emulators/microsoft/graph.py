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

import asyncio
from collections.abc import Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import graph_mail as mail
from .errors import graph_error_response
from .faults import apply_fault
from .graph_common import GraphError, Handler, base_url, select
from .scopes import (
    GRAPH_RESOURCE,
    ME_PERMISSIONS,
    READ_MAIL_PERMISSIONS,
    SEND_MAIL_PERMISSIONS,
    WRITE_MAIL_PERMISSIONS,
)
from .state import AccessToken, EmulatorState, User, new_id

# Graph lets one app make 4 requests at once to one mailbox ("Outlook service limits" in
# "Microsoft Graph service-specific throttling limits"); the fifth gets a 429.
MAILBOX_CONCURRENCY = 4
MAILBOX_RETRY_AFTER = 1


# --- /me --------------------------------------------------------------------------------------


async def get_me(
    request: Request, state: EmulatorState, token: AccessToken, user: User, args: list[str]
) -> Response:
    profile = user.graph_profile()
    selected = select(request)
    context = f"{base_url(request)}/v1.0/$metadata#users/$entity"
    if selected:
        profile = {name: profile.get(name) for name in selected}
        context = f"{base_url(request)}/v1.0/$metadata#users({','.join(selected)})/$entity"
    return JSONResponse({"@odata.context": context, **profile})


# --- dispatch ---------------------------------------------------------------------------------

_DENIED = ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
_READ, _WRITE, _SEND = READ_MAIL_PERMISSIONS, WRITE_MAIL_PERMISSIONS, SEND_MAIL_PERMISSIONS
_MAILBOX_ROUTES: list[tuple[str, tuple[str, ...], Handler, frozenset[str], tuple[str, str]]] = [
    ("GET", (), get_me, ME_PERMISSIONS,
     ("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")),
    ("GET", ("messages",), mail.list_messages, _READ, _DENIED),
    ("GET", ("messages", "*"), mail.get_message, _READ, _DENIED),
    ("PATCH", ("messages", "*"), mail.update_message, _WRITE, _DENIED),
    ("DELETE", ("messages", "*"), mail.delete_message, _WRITE, _DENIED),
    ("GET", ("messages", "*", "$value"), mail.get_message_mime, _READ, _DENIED),
    ("POST", ("messages", "*", "move"), mail.move_message, _WRITE, _DENIED),
    ("POST", ("messages", "*", "reply"), mail.reply, _SEND, _DENIED),
    ("GET", ("messages", "*", "attachments"), mail.list_attachments, _READ, _DENIED),
    ("GET", ("messages", "*", "attachments", "*"), mail.get_attachment, _READ, _DENIED),
    ("GET", ("messages", "*", "attachments", "*", "$value"), mail.get_attachment_value,
     _READ, _DENIED),
    ("GET", ("mailfolders",), mail.list_folders, _READ, _DENIED),
    ("GET", ("mailfolders", "*"), mail.get_folder, _READ, _DENIED),
    ("GET", ("mailfolders", "*", "messages"), mail.list_messages, _READ, _DENIED),
    ("GET", ("mailfolders", "*", "messages", "delta"), mail.delta, _READ, _DENIED),
    ("POST", ("sendmail",), mail.send_mail, _SEND, _DENIED),
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


async def _within_mailbox_concurrency(state: EmulatorState, token: AccessToken, user: User,
                                      handling: Coroutine[Any, Any, Response]) -> Response:
    """Run a handler unless the app already has ``MAILBOX_CONCURRENCY`` requests in progress on
    this mailbox; then answer Graph's 429 for it."""
    key = (token.client_id, user.id)
    if state.in_flight[key] >= MAILBOX_CONCURRENCY:
        handling.close()
        state.counters["mailbox_concurrency_throttled"] += 1
        raise GraphError(429, "ApplicationThrottled",
                         "Application is over its MailboxConcurrency limit.",
                         headers={"Retry-After": str(MAILBOX_RETRY_AFTER)})
    state.in_flight[key] += 1
    try:
        if state.settings.graph_latency_seconds:
            await asyncio.sleep(state.settings.graph_latency_seconds)
        return await handling
    finally:
        state.in_flight[key] -= 1


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
        response = await _within_mailbox_concurrency(
            state, token, user, handler(request, state, token, user, args))
    except GraphError as exc:
        headers = dict(exc.headers)
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
