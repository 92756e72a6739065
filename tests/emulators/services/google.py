"""Google's OAuth 2.0 token endpoint for service accounts, and a slice of Calendar v3.

From "Using OAuth 2.0 for Server to Server Applications" (developers.google.com/identity/
protocols/oauth2/service-account): the client posts ``grant_type=urn:ietf:params:oauth:
grant-type:jwt-bearer`` and an RS256-signed ``assertion`` whose claims are ``iss`` (the
service account's email), ``scope``, ``aud`` (always ``https://oauth2.googleapis.com/token``),
``iat``, ``exp`` (at most an hour later) and, with domain-wide delegation, ``sub``. The
signature is checked with the public half of the key named by ``kid``. Error texts are those
Google returns for these cases as reported in its docs' error table and widely seen in
practice (``invalid_grant`` "Invalid JWT Signature.", ``unauthorized_client`` when the domain
did not authorize the client for the scopes).

Calendar (developers.google.com/calendar/api/v3/reference): ``GET /calendar/v3/users/me/
calendarList`` and ``GET /calendar/v3/calendars/primary/events``, as the token's subject.
"""

from __future__ import annotations

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .state import GoogleToken, ServicesState, new_token

TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS_TOKEN_LIFETIME = 3599
MAX_ASSERTION_LIFETIME = 3600
CLOCK_SKEW = 300
CALENDAR_READ_SCOPES = frozenset({
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.events.readonly",
})
BAD_TIMEFRAME = ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                 "reasonable timeframe. Check your iat and exp values in the JWT claim.")
NOT_DELEGATED = ("Client is unauthorized to retrieve access tokens using this method, or "
                 "client not authorized for any of the scopes requested.")


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def token(request: Request) -> Response:
    state: ServicesState = request.app.state.services
    form = await request.form()
    if form.get("grant_type") != GRANT_TYPE:
        return _oauth_error("unsupported_grant_type",
                            f"Invalid grant_type: {form.get('grant_type') or ''}")
    assertion = str(form.get("assertion") or "")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return _oauth_error("invalid_request", "Invalid JWT.")
    account = state.service_accounts.get(str(claims.get("iss")))
    public_key = account.public_keys.get(str(header.get("kid"))) if account else None
    if account is None or public_key is None or header.get("alg") != "RS256":
        return _oauth_error("invalid_grant", "Invalid JWT Signature.")
    try:
        claims = jwt.decode(assertion, public_key, algorithms=["RS256"],
                            audience=TOKEN_AUDIENCE, leeway=CLOCK_SKEW,
                            options={"require": ["iss", "aud", "iat", "exp"]})
    except jwt.InvalidSignatureError:
        return _oauth_error("invalid_grant", "Invalid JWT Signature.")
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
        return _oauth_error("invalid_grant", BAD_TIMEFRAME)
    except jwt.InvalidTokenError as exc:
        return _oauth_error("invalid_grant", f"Invalid JWT: {exc}")
    now = state.now()
    if claims["exp"] - claims["iat"] > MAX_ASSERTION_LIFETIME or claims["iat"] > now + CLOCK_SKEW:
        return _oauth_error("invalid_grant", BAD_TIMEFRAME)
    scopes = set(str(claims.get("scope") or "").split())
    if not scopes:
        return _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    subject = claims.get("sub")
    if subject is not None:
        subject = str(subject).lower()
        domain = subject.rsplit("@", 1)[-1]
        if subject not in state.workspace_users:
            return _oauth_error("invalid_grant", "Invalid email or User ID")
        allowed = set().union(*(d.scopes for d in state.delegations
                                if d.domain == domain and d.client_id == account.client_id))
        if not scopes <= allowed:
            return _oauth_error("unauthorized_client", NOT_DELEGATED, status=401)
    issued = GoogleToken(value=new_token(), client_email=account.client_email, subject=subject,
                         scopes=scopes, expires_at=now + ACCESS_TOKEN_LIFETIME)
    state.google_tokens[issued.value] = issued
    return JSONResponse({"access_token": issued.value, "expires_in": ACCESS_TOKEN_LIFETIME,
                         "token_type": "Bearer"}, headers={"Cache-Control": "no-store"})


def _api_error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message, "status": code}},
                        status_code=status)


def _caller(request: Request) -> GoogleToken | Response:
    state: ServicesState = request.app.state.services
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    issued = state.google_tokens.get(value.strip()) if scheme.lower() == "bearer" else None
    if issued is None or issued.expires_at <= state.now():
        return _api_error(401, "Request had invalid authentication credentials.",
                          "UNAUTHENTICATED")
    if not issued.scopes & CALENDAR_READ_SCOPES:
        return _api_error(403, "Request had insufficient authentication scopes.",
                          "PERMISSION_DENIED")
    return issued


async def calendar_list(request: Request) -> Response:
    caller = _caller(request)
    if isinstance(caller, Response):
        return caller
    owner = caller.subject or caller.client_email
    return JSONResponse({"kind": "calendar#calendarList", "items": [
        {"kind": "calendar#calendarListEntry", "id": owner, "summary": owner, "primary": True}]})


async def primary_events(request: Request) -> Response:
    caller = _caller(request)
    if isinstance(caller, Response):
        return caller
    state: ServicesState = request.app.state.services
    items = state.workspace_users.get(caller.subject or "", [])
    return JSONResponse({"kind": "calendar#events", "summary": caller.subject, "items": items})


routes = [
    Route("/token", token, methods=["POST"]),
    Route("/calendar/v3/users/me/calendarList", calendar_list, methods=["GET"]),
    Route("/calendar/v3/calendars/primary/events", primary_events, methods=["GET"]),
]
