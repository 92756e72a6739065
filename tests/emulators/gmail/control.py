"""The control API under ``/_emulator/``: what a test does in Google's console and in a
user's mailbox — register an app, add accounts and mail, forget history, inject faults."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .api import resource
from .state import Account, App, GmailState, Label

Handler = Callable[[GmailState, dict[str, Any], dict[str, str]], Any]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        state: GmailState = request.app.state.gmail
        body = await request.json() if await request.body() else {}
        try:
            return JSONResponse(handler(state, body, dict(request.path_params)))
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad control request: {exc!r}"}, status_code=400)
    return run


def _health(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    return {"ok": True}


def _reset(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    state.reset()
    return {"ok": True}


def _app(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    app = App(client_id=f"{secrets.randbelow(10**12)}-{secrets.token_hex(8)}"
                        ".apps.googleusercontent.com",
              client_secret="GOCSPX-" + secrets.token_urlsafe(21),
              redirect_uris=list(body["redirect_uris"]))
    state.apps[app.client_id] = app
    return {"client_id": app.client_id, "client_secret": app.client_secret}


def _account(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    address = str(body["email"]).lower()
    account = Account(email=address, sub=str(10**20 + secrets.randbelow(10**20)),
                      name=body.get("name", address), auto_consent=body.get("auto_consent", True))
    state.accounts[address] = account
    for label in body.get("labels", []):
        _label(state, {"name": label}, {"email": address})
    return {"email": account.email, "sub": account.sub, "historyId": account.history_id}


def _label(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    account = state.accounts[path["email"]]
    label = Label(f"Label_{len(account.labels)}", body["name"])
    account.labels[label.id] = label
    return label.resource()


def compose(body: dict[str, Any]) -> bytes:
    """An RFC 822 message from fields (``from``, ``to``, ``subject``, ``text``, ``html``,
    ``date``, ``attachments``: [{filename, content_type, data (base64)}]), with the standard
    library, as a mail client would send it."""
    message = EmailMessage()
    message["From"] = body.get("from", "sender@example.com")
    message["To"] = body.get("to", "")
    if body.get("cc"):
        message["Cc"] = body["cc"]
    message["Subject"] = body.get("subject", "")
    message["Date"] = body.get("date") or format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = body.get("message_id") or make_msgid(domain="mail.example.com")
    message.set_content(body.get("text", ""))
    if body.get("html"):
        message.add_alternative(body["html"], subtype="html")
    for attachment in body.get("attachments", []):
        maintype, _, subtype = attachment.get("content_type",
                                              "application/octet-stream").partition("/")
        message.add_attachment(base64.b64decode(attachment["data"]), maintype=maintype,
                               subtype=subtype, filename=attachment["filename"])
    return message.as_bytes()


def _message(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    account = state.accounts[path["email"]]
    raw = base64.b64decode(body["raw"]) if "raw" in body else compose(
        {"to": account.email, **body})
    labels = body.get("label_ids", ["INBOX", "UNREAD"])
    message = account.add(raw, labels, body.get("thread_id"))
    return resource(message, "minimal", [])


def _messages(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    account = state.accounts[path["email"]]
    label = body.get("label")
    return [resource(m, "raw", []) for m in account.messages.values()
            if not label or label in m.label_ids]


def _delete(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    account = state.accounts[path["email"]]
    account.delete(account.messages[path["message_id"]])
    return {"historyId": account.history_id}


def _forget_history(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    account = state.accounts[path["email"]]
    account.forget_history()
    return {"oldestHistoryId": account.oldest_history_id}


def _fault(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    """``{"status": 403, "reason": "userRateLimitExceeded", "count": 1}``: the next Gmail API
    calls fail in Google's error format."""
    fault = {"status": int(body.get("status", 429)), "count": int(body.get("count", 1)),
             "reason": body.get("reason", "rateLimitExceeded"),
             "message": body.get("message", "User-rate limit exceeded."),
             "status_name": body.get("status_name", "RESOURCE_EXHAUSTED"),
             "domain": body.get("domain", "usageLimits")}
    state.faults.append(fault)
    return fault


def _settings(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    """A new quota (``quota_limit_per_minute``, ``quota_window_seconds``) starts from zero."""
    for name in ("quota_limit_per_minute", "quota_window_seconds"):
        if name in body:
            setattr(state, name, int(body[name]))
    state.quota_spent.clear()
    return {"quota_limit_per_minute": state.quota_limit_per_minute,
            "quota_window_seconds": state.quota_window_seconds}


def _expire_tokens(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    for token, (grant, _) in list(state.access_tokens.items()):
        state.access_tokens[token] = (grant, 0.0)
    return {"expired": len(state.access_tokens)}


def _counters(state: GmailState, body: dict[str, Any], path: dict[str, str]) -> Any:
    return dict(state.counters)


routes = [
    Route("/_emulator/health", _endpoint(_health), methods=["GET"]),
    Route("/_emulator/reset", _endpoint(_reset), methods=["POST"]),
    Route("/_emulator/apps", _endpoint(_app), methods=["POST"]),
    Route("/_emulator/accounts", _endpoint(_account), methods=["POST"]),
    Route("/_emulator/accounts/{email}/labels", _endpoint(_label), methods=["POST"]),
    Route("/_emulator/accounts/{email}/messages", _endpoint(_message), methods=["POST"]),
    Route("/_emulator/accounts/{email}/messages/list", _endpoint(_messages), methods=["POST"]),
    Route("/_emulator/accounts/{email}/messages/{message_id}/delete", _endpoint(_delete),
          methods=["POST"]),
    Route("/_emulator/accounts/{email}/history/forget", _endpoint(_forget_history),
          methods=["POST"]),
    Route("/_emulator/faults", _endpoint(_fault), methods=["POST"]),
    Route("/_emulator/settings", _endpoint(_settings), methods=["PATCH"]),
    Route("/_emulator/tokens/expire", _endpoint(_expire_tokens), methods=["POST"]),
    Route("/_emulator/counters", _endpoint(_counters), methods=["GET"]),
]
