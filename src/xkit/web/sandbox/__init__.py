"""The sandbox provider's pages and endpoints, mounted under /sandbox when XKIT_SANDBOX=true.

It behaves like a small real provider: an authorize page with Approve and Deny, a token
endpoint for the code (with PKCE) and refresh grants, and an API with /me and /notes.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from xkit.http.routes import PageRoute
from xkit.http.runtime import get_runtime
from xkit.services.configuration import sandbox

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


async def token(request: Request) -> JSONResponse:
    form = await request.form()
    keyring = get_runtime(request).keyring
    if not form.get("client_id") and "authorization" not in request.headers:
        return _oauth_error("invalid_client", "client authentication is required", 401)
    try:
        if form.get("grant_type") == "authorization_code":
            tokens = sandbox.redeem_code(
                keyring,
                code=str(form.get("code", "")),
                client_id=str(form.get("client_id", "")),
                redirect_uri=str(form.get("redirect_uri", "")),
                code_verifier=str(form.get("code_verifier")) if form.get("code_verifier") else None,
            )
        elif form.get("grant_type") == "refresh_token":
            tokens = sandbox.refresh(keyring, str(form.get("refresh_token", "")))
        else:
            return _oauth_error("unsupported_grant_type", "use authorization_code or refresh_token")
    except sandbox.SandboxError as exc:
        return _oauth_error(exc.error, exc.description)
    return JSONResponse(tokens, headers={"Cache-Control": "no-store"})


def _bearer_claims(request: Request) -> dict[str, object] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        return sandbox.read_access_token(get_runtime(request).keyring, value.strip())
    except sandbox.SandboxError:
        return None


async def me(request: Request) -> JSONResponse:
    claims = _bearer_claims(request)
    if claims is None:
        return JSONResponse({"error": "invalid_token"}, status_code=401)
    return JSONResponse(sandbox.profile(claims))


async def notes(request: Request) -> JSONResponse:
    claims = _bearer_claims(request)
    if claims is None:
        return JSONResponse({"error": "invalid_token"}, status_code=401)
    if "notes.read" not in str(claims.get("scope", "")).split():
        return JSONResponse({"error": "insufficient_scope"}, status_code=403)
    return JSONResponse({"notes": NOTES})


routes = [
    PageRoute("/sandbox/authorize", authorize, methods=["GET", "POST"]),
    Route("/sandbox/token", token, methods=["POST"]),
    Route("/sandbox/api/me", me, methods=["GET"]),
    Route("/sandbox/api/notes", notes, methods=["GET"]),
]
