"""The sandbox provider's pages and endpoints, mounted under /sandbox when XKIT_SANDBOX=true.

It behaves like a small real provider: an authorize page with Approve and Deny, a token
endpoint for the code (with PKCE) and refresh grants, and an API with /me and /notes — plus
/api/switches, where a developer makes it misbehave (revoke, fail, answer slowly; see
:mod:`xkit.services.configuration.sandbox_switches`) to try their error handling.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from xkit.errors import InvalidInput
from xkit.http.routes import PageRoute
from xkit.http.runtime import get_runtime
from xkit.services.configuration import sandbox, sandbox_switches

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
NOTES = [{"id": 1, "text": "Buy milk"}, {"id": 2, "text": "Ship the integration"}]


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def authorize(request: Request) -> Response:
    """GET shows the consent page; POST is the person's answer."""
    # A form may carry files; the consent form has none, so only its text fields count.
    fields = dict(request.query_params) if request.method == "GET" else {
        name: value for name, value in (await request.form()).items() if isinstance(value, str)}
    redirect_uri, state = fields.get("redirect_uri", ""), fields.get("state", "")
    public_url = get_runtime(request).settings.public_url
    if not sandbox.is_own_callback(public_url, redirect_uri) or not fields.get("client_id"):
        return templates.TemplateResponse(
            request,
            "error.html",
            {"message": "This sign-in request has no client_id, or its redirect_uri is not the "
                        "callback URL of a platform on this xkit."},
            status_code=400,
        )
    if request.method == "GET":
        return templates.TemplateResponse(
            request,
            "authorize.html",
            {
                "fields": {k: v for k, v in fields.items() if k != "name"},
                "scopes": fields.get("scope", "").split(),
            },
        )
    if fields.get("action") != "approve":
        query = {
            "error": "access_denied",
            "error_description": "The user declined.",
            "state": state,
        }
        return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)
    code = sandbox.issue_code(
        get_runtime(request).keyring,
        name=(fields.get("name") or "Sandbox User").strip()[:100],
        client_id=fields["client_id"],
        redirect_uri=redirect_uri,
        scope=fields.get("scope", ""),
        code_challenge=fields.get("code_challenge"),
    )
    return RedirectResponse(
        f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", status_code=302
    )


async def token(request: Request) -> Response:
    form = await request.form()
    keyring = get_runtime(request).keyring
    if not form.get("client_id") and "authorization" not in request.headers:
        return _oauth_error("invalid_client", "client authentication is required", 401)
    try:
        if form.get("grant_type") == "authorization_code":
            claims = sandbox.read_code(keyring, str(form.get("code", "")))
            if (switched := await _switched(request, claims, oauth=True)) is not None:
                return switched
            tokens = sandbox.redeem_code(
                keyring,
                claims=claims,
                client_id=str(form.get("client_id", "")),
                redirect_uri=str(form.get("redirect_uri", "")),
                code_verifier=str(form.get("code_verifier")) if form.get("code_verifier") else None,
            )
        elif form.get("grant_type") == "refresh_token":
            claims = sandbox.read_refresh_token(keyring, str(form.get("refresh_token", "")))
            if (switched := await _switched(request, claims, oauth=True)) is not None:
                return switched
            tokens = sandbox.refresh(keyring, claims)
        else:
            return _oauth_error("unsupported_grant_type", "use authorization_code or refresh_token")
    except sandbox.SandboxError as exc:
        return _oauth_error(exc.error, exc.description)
    return JSONResponse(tokens, headers={"Cache-Control": "no-store"})


async def _switched(request: Request, claims: dict[str, Any], *, oauth: bool) -> Response | None:
    """What the account's switches make of this call: first the delay, then one of the
    failures still to come, then the revocation; ``None`` to answer normally."""
    runtime = get_runtime(request)
    account = str(claims.get("sub", ""))
    async with runtime.sessions() as session:
        switches = await sandbox_switches.read(session, account)
    if switches.delay_ms:
        await asyncio.sleep(switches.delay_ms / 1000)
    if switches.fail_remaining:
        async with runtime.sessions() as session:
            failure = await sandbox_switches.take_failure(session, account)
        if failure is not None:
            return _failure(failure, oauth=oauth)
    if switches.revokes(float(claims.get("gat") or 0)):
        if oauth:
            return _oauth_error("invalid_grant", "the user revoked this grant (sandbox switch)")
        return JSONResponse({"error": "invalid_token", "error_description": "the user revoked "
                             "this grant (sandbox switch)"}, status_code=401)
    return None


def _failure(failure: sandbox_switches.Failure, *, oauth: bool) -> JSONResponse:
    headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
    throttled = failure.status == 429
    error = ("slow_down" if throttled else "temporarily_unavailable") if oauth else (
        "too_many_requests" if throttled else "unavailable")
    return JSONResponse(
        {"error": error, "error_description": f"HTTP {failure.status} by the sandbox's "
                                              "fail_next switch"},
        status_code=failure.status,
        headers=headers,
    )


async def _bearer_claims(request: Request) -> dict[str, Any] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        return sandbox.read_access_token(get_runtime(request).keyring, value.strip())
    except sandbox.SandboxError:
        return None


async def _api_call(request: Request) -> tuple[dict[str, Any] | None, Response | None]:
    """The access token's claims, or the answer to give instead (401, or a switch's)."""
    claims = await _bearer_claims(request)
    if claims is None:
        return None, JSONResponse({"error": "invalid_token"}, status_code=401)
    return claims, await _switched(request, claims, oauth=False)


async def me(request: Request) -> Response:
    claims, instead = await _api_call(request)
    if instead is not None or claims is None:
        return instead or JSONResponse({"error": "invalid_token"}, status_code=401)
    return JSONResponse(sandbox.profile(claims))


async def notes(request: Request) -> Response:
    claims, instead = await _api_call(request)
    if instead is not None or claims is None:
        return instead or JSONResponse({"error": "invalid_token"}, status_code=401)
    if "notes.read" not in str(claims.get("scope", "")).split():
        return JSONResponse({"error": "insufficient_scope"}, status_code=403)
    return JSONResponse({"notes": NOTES})


async def switches(request: Request) -> Response:
    """The account's fault switches: GET reads them, POST (JSON) changes them.

    Called with the account's access token — from a backend, through xkit's proxy — and never
    delayed or failed itself, so a switch can always be turned off again. A revoked grant's
    token is refused here too, as everywhere: connecting again is the way back."""
    claims = await _bearer_claims(request)
    if claims is None:
        return JSONResponse({"error": "invalid_token"}, status_code=401)
    account = str(claims["sub"])
    runtime = get_runtime(request)
    async with runtime.sessions() as session:
        current = await sandbox_switches.read(session, account)
        if current.revokes(float(claims.get("gat") or 0)):
            return JSONResponse({"error": "invalid_token", "error_description": "the user "
                                 "revoked this grant (sandbox switch)"}, status_code=401)
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"null")
            except ValueError:
                return JSONResponse({"error": "invalid_json",
                                     "error_description": "the body is not JSON"},
                                    status_code=400)
            try:
                changes = sandbox_switches.parse_changes(body)
            except InvalidInput as exc:
                return JSONResponse({"error": exc.code, "error_description": exc.message},
                                    status_code=400)
            current = await sandbox_switches.change(session, account, changes)
    return JSONResponse(current.as_json(), headers={"Cache-Control": "no-store"})


routes = [
    PageRoute("/sandbox/authorize", authorize, methods=["GET", "POST"]),
    Route("/sandbox/token", token, methods=["POST"]),
    Route("/sandbox/api/me", me, methods=["GET"]),
    Route("/sandbox/api/notes", notes, methods=["GET"]),
    Route("/sandbox/api/switches", switches, methods=["GET", "POST"]),
]
