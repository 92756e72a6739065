"""Google's OAuth 2.0 for web server apps: the consent screen and the token endpoint.

From "Using OAuth 2.0 for Web Server Applications" (developers.google.com/identity/protocols/
oauth2/web-server): ``GET /o/oauth2/v2/auth`` with ``client_id``, ``redirect_uri`` (an exact
match, else Google shows ``redirect_uri_mismatch`` and does not redirect), ``response_type=code``,
``scope``, ``state``, ``access_type=offline`` for a refresh token and PKCE; ``POST /token``
(host ``oauth2.googleapis.com``) with the client's credentials in the body or HTTP Basic. A
refresh token is issued only with ``access_type=offline``, and again only with
``prompt=consent`` once the user has granted the app before. Refreshes answer without a new
refresh token. ``invalid_grant`` says "Bad Request" for a used code and "Token has been expired
or revoked." for a dead refresh token. The id_token carries ``sub`` and, with the ``email``
scope, ``email`` and ``email_verified``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .state import GmailState, Grant

ACCESS_TOKEN_LIFETIME = 3599


def _error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def authorize(request: Request) -> Response:
    state: GmailState = request.app.state.gmail
    params = dict(request.query_params)
    if request.method == "POST":
        params.update({k: str(v) for k, v in (await request.form()).items()})
    app = state.apps.get(params.get("client_id", ""))
    if app is None:
        return HTMLResponse("<h1>Error 401: invalid_client</h1><p>The OAuth client was not "
                            "found.</p>", status_code=401)
    if params.get("redirect_uri") not in app.redirect_uris:
        return HTMLResponse("<h1>Error 400: redirect_uri_mismatch</h1>", status_code=400)
    chosen = params.get("account") or (params.get("login_hint") if request.method == "GET"
                                       else None)
    account = state.account(chosen) if chosen else None
    if account is None or (request.method == "GET" and not account.auto_consent):
        return _consent_page(state, params)
    if params.get("decision") == "deny":
        return _back(params, error="access_denied")
    code = secrets.token_urlsafe(24)
    state.codes[code] = {"client_id": app.client_id, "email": account.email,
                         "redirect_uri": params["redirect_uri"],
                         "scopes": params.get("scope", "").split(),
                         "offline": params.get("access_type") == "offline",
                         "challenge": params.get("code_challenge"), "expires": time.time() + 600}
    return _back(params, code=code)


def _back(params: dict[str, str], **extra: str) -> RedirectResponse:
    query = {**extra, **({"state": params["state"]} if "state" in params else {})}
    if "code" in extra:
        query["scope"] = params.get("scope", "")
    return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=302)


def _consent_page(state: GmailState, params: dict[str, str]) -> HTMLResponse:
    hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in params.items() if k != "account")
    buttons = "".join(
        f'<button name="account" value="{html.escape(a.email)}">{html.escape(a.email)}</button>'
        for a in state.accounts.values())
    return HTMLResponse(
        f"<!doctype html><title>Sign in - Google Accounts</title><h1>Choose an account</h1>"
        f'<form method="post" action="/o/oauth2/v2/auth">{hidden}{buttons}'
        f'<button name="decision" value="deny">Cancel</button></form>')


async def token(request: Request) -> Response:
    state: GmailState = request.app.state.gmail
    form = {k: str(v) for k, v in (await request.form()).items()}
    client_id, secret = form.get("client_id"), form.get("client_secret")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    app = state.apps.get(client_id or "")
    if app is None or secret != app.client_secret:
        return _error("invalid_client", "Unauthorized", 401)
    grant_type = form.get("grant_type")
    state.counters[f"token:{grant_type}"] += 1
    if grant_type == "authorization_code":
        issued = state.codes.pop(form.get("code", ""), None)
        if (issued is None or issued["client_id"] != app.client_id
                or issued["expires"] < time.time()
                or issued["redirect_uri"] != form.get("redirect_uri")):
            return _error("invalid_grant", "Bad Request")
        if issued["challenge"]:
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if digest.decode().rstrip("=") != issued["challenge"]:
                return _error("invalid_grant", "Missing code verifier.")
        grant = Grant(issued["email"], app.client_id, issued["scopes"])
        answer = _access(state, grant)
        if issued["offline"]:
            refresh = "1//" + secrets.token_urlsafe(40)
            state.refresh_tokens[refresh] = grant
            answer["refresh_token"] = refresh
        if "openid" in grant.scopes or "email" in grant.scopes:
            account = state.account(grant.email)
            assert account is not None
            answer["id_token"] = _unsigned_jwt({
                "iss": "https://accounts.google.com", "aud": app.client_id, "sub": account.sub,
                "email": account.email, "email_verified": True, "name": account.name,
                "iat": int(time.time()), "exp": int(time.time()) + 3600})
        return JSONResponse(answer)
    if grant_type == "refresh_token":
        grant_held = state.refresh_tokens.get(form.get("refresh_token", ""))
        if grant_held is None or grant_held.client_id != app.client_id:
            return _error("invalid_grant", "Token has been expired or revoked.")
        return JSONResponse(_access(state, grant_held))
    return _error("unsupported_grant_type", "Invalid grant_type: " + str(grant_type))


def _access(state: GmailState, grant: Grant) -> dict[str, Any]:
    access = "ya29." + secrets.token_urlsafe(40)
    state.access_tokens[access] = (grant, time.time() + ACCESS_TOKEN_LIFETIME)
    return {"access_token": access, "expires_in": ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(grant.scopes), "token_type": "Bearer"}


routes = [
    Route("/o/oauth2/v2/auth", authorize, methods=["GET", "POST"]),
    Route("/token", token, methods=["POST"]),
]
