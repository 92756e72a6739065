"""The quirk emulator: one configurable OAuth 2.0 provider that can behave like many.

Every app registered through ``POST /_emulator/apps`` carries a *profile* saying how the
provider it stands for behaves — how the client must authenticate at the token endpoint,
whether PKCE is required, what extra fields the token response carries, what the callback
adds to its query, which API documents it serves. Requests are routed by what they are, not
by path: a GET with ``response_type=code`` is an authorization request, a POST with
``grant_type`` a token request, anything carrying a token an API call. So one process on one
port answers for slack.com, login.xero.com and *.zendesk.com alike (xkit reaches it through
``XKIT_PROVIDER_CONNECT_TO``, keeping each provider's host name in TLS and ``Host``).

The emulator is strict where templates can be wrong: the client must authenticate exactly
as the profile says (HTTP Basic *or* the body, not both), send the body in the expected
format, use PKCE when required, and send the token the way the API wants it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

SECRET_FIELDS = frozenset({"client_secret", "code", "code_verifier", "refresh_token"})
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

DEFAULT_PROFILE: dict[str, Any] = {
    "client_auth": "client_secret_basic",  # or client_secret_post
    "body_format": "form",                 # or json
    "pkce": "optional",                    # required | optional | unsupported
    "scope_in_token_request": False,
    "expires_in": 3600,                    # None: tokens that never expire
    "refresh_token": True,
    "rotate_refresh_token": True,
    "top_level_token": True,               # False: the token lives in token_fields only
    "token_fields": {},                    # merged in; "{token:NAME}" becomes a live token
    "callback_params": {},                 # added to the redirect back (QuickBooks' realmId)
    "id_token_claims": None,               # an unsigned id_token with these claims
    "api_token": {"header": "Authorization", "prefix": "Bearer "},
    "documents": [],                       # [{method, url, json, prefix?}] served to tokens
    "token_error": None,                   # {status, json}: how it refuses a code exchange
}


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uri: str
    profile: dict[str, Any]


@dataclass
class State:
    apps: dict[str, App] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, str] = field(default_factory=dict)  # token -> client_id
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)

    def mint(self, client_id: str, kind: str = "at") -> str:
        token = f"{kind}-{secrets.token_urlsafe(18)}"
        self.access_tokens[token] = client_id
        return token


def _state(request: Request) -> State:
    return request.app.state.emulator  # type: ignore[no-any-return]


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _host(request: Request) -> str:
    host = request.headers.get("host", "")
    return host[:-4] if host.endswith(":443") else host


def _redacted(values: dict[str, Any]) -> dict[str, Any]:
    return {k: ("<redacted>" if k in SECRET_FIELDS else v) for k, v in values.items()}


# --- authorization requests ------------------------------------------------------------------

def authorize(request: Request) -> Response:
    state = _state(request)
    query = dict(request.query_params)
    app = state.apps.get(query.get("client_id", ""))
    entry = {"kind": "authorize", "host": _host(request), "path": request.url.path,
             "query": query, "client_id": query.get("client_id")}
    state.log.append(entry)
    if app is None:
        return PlainTextResponse("unknown client_id", status_code=400)
    if query.get("redirect_uri") != app.redirect_uri:
        return PlainTextResponse("redirect_uri is not registered", status_code=400)
    back: dict[str, str] = {"state": query.get("state", "")}
    if app.profile["pkce"] == "required" and not query.get("code_challenge"):
        back.update(error="invalid_request", error_description="code_challenge is required")
    else:
        code = secrets.token_urlsafe(16)
        state.codes[code] = {
            "client_id": app.client_id, "redirect_uri": app.redirect_uri,
            "scope": query.get("scope"), "challenge": query.get("code_challenge"),
            "method": query.get("code_challenge_method"), "used": False,
        }
        back["code"] = code
        back.update(app.profile["callback_params"])
    return RedirectResponse(f"{app.redirect_uri}?{urlencode(back)}", status_code=302)


# --- token requests --------------------------------------------------------------------------

async def token(request: Request, body: dict[str, Any], body_format: str) -> Response:
    state = _state(request)
    client_id, secret, client_auth = _client_credentials(request, body)
    entry = {"kind": "token", "host": _host(request), "path": request.url.path,
             "body": _redacted(body), "body_format": body_format, "client_auth": client_auth,
             "client_id": client_id, "grant_type": body.get("grant_type")}
    state.log.append(entry)
    app = state.apps.get(client_id or "")
    if app is None:
        return oauth_error("invalid_client", "unknown client", 401)
    profile = app.profile
    if body_format != profile["body_format"]:
        return oauth_error("invalid_request", f"the body must be {profile['body_format']}")
    expected_auth = "basic" if profile["client_auth"] == "client_secret_basic" else "post"
    if client_auth != expected_auth or secret != app.client_secret:
        return oauth_error("invalid_client",
                           f"authenticate with {profile['client_auth']} and the right secret",
                           401)
    grant = body.get("grant_type")
    if grant == "authorization_code":
        problem = _check_code(state, app, body)
        if problem:
            return oauth_error("invalid_grant", problem)
        if profile["token_error"]:  # the provider's own refusal, in its own shape
            refusal = profile["token_error"]
            return JSONResponse(refusal["json"], status_code=refusal["status"])
    elif grant == "refresh_token":
        if state.refresh_tokens.get(str(body.get("refresh_token"))) != app.client_id:
            return oauth_error("invalid_grant", "unknown or used refresh token")
        if profile["rotate_refresh_token"]:
            del state.refresh_tokens[str(body["refresh_token"])]
    else:
        return oauth_error("unsupported_grant_type", f"{grant!r} is not supported")
    return JSONResponse(_token_response(state, app, body, grant))


def _client_credentials(request: Request, body: dict[str, Any]) -> tuple[str | None, str | None,
                                                                          str]:
    header = request.headers.get("authorization", "")
    in_body = "client_secret" in body
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None, "malformed"
        return user, password, "both" if in_body else "basic"
    if in_body:
        return str(body.get("client_id")), str(body["client_secret"]), "post"
    return body.get("client_id"), None, "none"


def _check_code(state: State, app: App, body: dict[str, Any]) -> str | None:
    grant = state.codes.get(str(body.get("code")))
    if grant is None or grant["used"] or grant["client_id"] != app.client_id:
        return "the code is unknown, used or for another client"
    grant["used"] = True
    if body.get("redirect_uri") != grant["redirect_uri"]:
        return "redirect_uri differs from the authorization request"
    verifier = body.get("code_verifier")
    if grant["challenge"]:
        if not isinstance(verifier, str):
            return "code_verifier is required"
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return "code_verifier does not match the code_challenge"
    elif verifier is not None:
        return "code_verifier sent without a code_challenge"
    if app.profile["scope_in_token_request"] and body.get("scope") != grant["scope"]:
        return "scope must be sent again, as in the authorization request"
    return None


def _token_response(state: State, app: App, body: dict[str, Any], grant: str) -> dict[str, Any]:
    profile = app.profile
    answer: dict[str, Any] = {"token_type": "bearer"}
    if profile["top_level_token"]:
        answer["access_token"] = state.mint(app.client_id)
    if profile["expires_in"] is not None:
        answer["expires_in"] = profile["expires_in"]
    if profile["refresh_token"]:
        if grant == "refresh_token" and not profile["rotate_refresh_token"]:
            pass  # the old one stays valid and none is sent
        else:
            refresh = f"rt-{secrets.token_urlsafe(18)}"
            state.refresh_tokens[refresh] = app.client_id
            answer["refresh_token"] = refresh
    answer.update(_live_tokens(state, app.client_id, profile["token_fields"]))
    if profile["id_token_claims"]:
        answer["id_token"] = _unsigned_jwt(profile["id_token_claims"])
    return answer


def _live_tokens(state: State, client_id: str, value: Any) -> Any:
    """Copy ``value``, replacing each ``"{token:NAME}"`` with a new token the API accepts."""
    if isinstance(value, dict):
        return {k: _live_tokens(state, client_id, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_live_tokens(state, client_id, v) for v in value]
    if isinstance(value, str) and value.startswith("{token:") and value.endswith("}"):
        return state.mint(client_id, value[7:-1])
    return value


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


# --- API calls -------------------------------------------------------------------------------

async def api(request: Request) -> Response:
    state = _state(request)
    host = _host(request)
    found = _find_token(state, request)
    entry = {"kind": "api", "method": request.method, "host": host, "path": request.url.path,
             "query": dict(request.query_params), "client_id": found[1] if found else None,
             "headers": {k: v for k, v in request.headers.items()
                         if k not in {"authorization", "host", "content-length"}
                         and not k.startswith("x-shopify-access")}}
    state.log.append(entry)
    if found is None:
        return JSONResponse({"message": "no valid access token"}, status_code=401)
    header, client_id, token_value, value = found
    app = state.apps[client_id]
    url = f"https://{host}{request.url.path}"
    document = next((d for d in app.profile["documents"]
                     if d["url"] == url and d.get("method", "GET") == request.method), None)
    placement = {**app.profile["api_token"],
                 **({"prefix": document["prefix"]} if document and "prefix" in document else {})}
    if header != placement["header"].lower() or value != placement["prefix"] + token_value:
        return JSONResponse({"message": f"send the token as {placement['header']}: "
                                        f"{placement['prefix']}<token>"}, status_code=401)
    if document is not None:
        return JSONResponse(document["json"])
    return JSONResponse({"echo": {"method": request.method, "host": host,
                                  "path": request.url.path, "query": request.url.query,
                                  "headers": entry["headers"]}})


def _find_token(state: State, request: Request) -> tuple[str, str, str, str] | None:
    """(header, client_id, token, header value) of the live token the request carries."""
    for name, value in request.headers.items():
        candidate = value.rsplit(" ", 1)[-1]
        client_id = state.access_tokens.get(candidate)
        if client_id is not None:
            return name, client_id, candidate, value
    return None


# --- dispatch and control --------------------------------------------------------------------

async def dispatch(request: Request) -> Response:
    if request.method == "GET" and request.query_params.get("response_type") == "code":
        return authorize(request)
    if request.method == "POST":
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        body: dict[str, Any] | None = None
        body_format = "form"
        if content_type.startswith("application/json"):
            try:
                parsed = json.loads(raw or b"null")
            except ValueError:
                parsed = None
            body, body_format = (parsed if isinstance(parsed, dict) else None), "json"
        elif content_type.startswith("application/x-www-form-urlencoded"):
            body = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        if body is not None and "grant_type" in body:
            return await token(request, body, body_format)
    return await api(request)


async def register_app(request: Request) -> Response:
    payload = await request.json()
    app = App(
        client_id=payload.get("client_id") or f"client-{secrets.token_hex(6)}",
        client_secret=payload.get("client_secret") or secrets.token_urlsafe(24),
        redirect_uri=payload["redirect_uri"],
        profile={**DEFAULT_PROFILE, **payload.get("profile", {})},
    )
    _state(request).apps[app.client_id] = app
    return JSONResponse({"client_id": app.client_id, "client_secret": app.client_secret})


async def requests_log(request: Request) -> Response:
    client_id = request.query_params.get("client_id")
    entries = [e for e in _state(request).log if client_id in (None, e.get("client_id"))]
    return JSONResponse(entries)


async def reset(request: Request) -> Response:
    request.app.state.emulator = State()
    return JSONResponse({"ok": True})


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def create_app() -> Starlette:
    app = Starlette(routes=[
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/apps", register_app, methods=["POST"]),
        Route("/_emulator/requests", requests_log, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/{path:path}", dispatch, methods=ALL_METHODS),
    ])
    app.state.emulator = State()
    return app
