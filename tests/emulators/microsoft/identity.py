"""The identity platform's v2.0 endpoints: ``/{tenant}/oauth2/v2.0/authorize`` and ``/token``.

Behaviour follows "Microsoft identity platform and OAuth 2.0 authorization code flow"
(https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow), the AADSTS
reference (https://learn.microsoft.com/entra/identity-platform/reference-error-codes) and
"Refresh tokens in the Microsoft identity platform"
(https://learn.microsoft.com/entra/identity-platform/refresh-tokens). Where the emulator has
to choose something Microsoft doesn't document, the docstring of the function says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .admin_consent import client_credentials
from .errors import IdentityError, aadsts, identity_error_response
from .faults import apply_fault
from .pages import error_page, form_post_page, sign_in_page
from .scopes import EXCHANGE_RESOURCE, GRAPH_RESOURCE, ScopeError, parse_scopes
from .state import (
    App,
    AuthorizeRequest,
    EmulatorState,
    Tenant,
    User,
    iso,
    new_id,
    pkce_matches,
    redirect_uri_matches,
)

RESPONSE_MODES = ("query", "fragment", "form_post")
PROMPTS = ("login", "none", "consent", "select_account")
PENDING_LIFETIME = 3600  # how long a sign-in page stays usable
ID_TOKEN_LIFETIME = 3600


class PageError(Exception):
    """An /authorize error shown on Microsoft's own page, never sent to the redirect URI."""


class RedirectError(Exception):
    """An /authorize error delivered to the (already validated) redirect URI."""

    def __init__(self, request: AuthorizeRequest, error: str, code: int, **values: Any) -> None:
        super().__init__(error)
        self.request = request
        self.error = error
        self.description = aadsts(code, **values)


def emulator(request: Request) -> EmulatorState:
    return request.app.state.emulator


def login_host(request: Request) -> str:
    return request.headers.get("host") or request.url.netloc


# --- tenants and sign-in audiences ------------------------------------------------------------


def audience_error(app: App, segment: str, tenant: Tenant | str) -> IdentityError | None:
    """Which tenant paths an app may use, from its ``signInAudience``.

    Documented: AADSTS50194 (single-tenant app on /common), AADSTS9002332 (Entra-only app on
    /consumers), AADSTS700016 (app not found in the directory named in the path). AADSTS9002331
    is the mirror case for personal-account-only apps; the emulator uses it by analogy.
    """
    audience = app.sign_in_audience
    if audience == "AzureADMyOrg":
        if tenant in ("common", "organizations"):
            return IdentityError("invalid_request", 50194, client_id=app.client_id, segment=segment)
        if tenant == "consumers":
            return IdentityError("invalid_request", 9002332, client_id=app.client_id)
        if isinstance(tenant, Tenant) and tenant.id != app.home_tenant_id:
            return IdentityError(
                "unauthorized_client", 700016, client_id=app.client_id, tenant=tenant.id
            )
    if audience == "AzureADMultipleOrgs" and tenant == "consumers":
        return IdentityError("invalid_request", 9002332, client_id=app.client_id)
    if audience == "PersonalMicrosoftAccount" and (
        tenant == "organizations" or isinstance(tenant, Tenant)
    ):
        return IdentityError("invalid_request", 9002331, client_id=app.client_id)
    return None


def account_error(user: User, app: App, tenant: Tenant | str) -> str | None:
    """Whether this user may sign in to this app through this tenant path (AADSTS50020)."""
    if user.personal:
        allowed = app.sign_in_audience in (
            "AzureADandPersonalMicrosoftAccount",
            "PersonalMicrosoftAccount",
        ) and tenant in ("common", "consumers")
    else:
        allowed = app.sign_in_audience != "PersonalMicrosoftAccount" and tenant != "consumers"
        if app.sign_in_audience == "AzureADMyOrg":
            allowed = allowed and user.tenant_id == app.home_tenant_id
        if isinstance(tenant, Tenant):
            allowed = allowed and user.tenant_id == tenant.id
    if allowed:
        return None
    tenant_name = tenant.id if isinstance(tenant, Tenant) else tenant
    return aadsts(
        50020, account=user.user_principal_name, tenant=tenant_name, client_id=app.client_id
    )


# --- /authorize -------------------------------------------------------------------------------


def validate_authorize(
    state: EmulatorState, segment: str, params: QueryParams | FormData
) -> tuple[AuthorizeRequest, App, Tenant | str]:
    """Check an authorize request in the order that decides where errors may go."""
    tenant = state.resolve_tenant(segment)
    if tenant is None:
        raise PageError(aadsts(90002, tenant=segment))
    client_id = params.get("client_id")
    if not client_id:
        raise PageError(aadsts(900144, parameter="client_id"))
    app = state.apps.get(str(client_id))
    if app is None:
        raise PageError(aadsts(700016, client_id=client_id, tenant=segment))
    problem = audience_error(app, segment, tenant)
    if problem is not None:
        raise PageError(problem.description)
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise PageError(aadsts(900971))
    if not any(redirect_uri_matches(str(redirect_uri), r) for r in app.redirect_uris):
        raise PageError(aadsts(50011, redirect_uri=redirect_uri, client_id=app.client_id))

    # From here on the redirect URI is trusted, so errors go back to the app.
    response_mode = str(params.get("response_mode") or "query")
    request = AuthorizeRequest(
        id=new_id(),
        tenant_segment=segment,
        client_id=app.client_id,
        redirect_uri=str(redirect_uri),
        response_mode=response_mode if response_mode in RESPONSE_MODES else "query",
        state=_optional(params.get("state")),
        oidc_scopes=(),
        graph_scopes=(),
        default_scope=False,
        code_challenge=_optional(params.get("code_challenge")),
        code_challenge_method=_optional(params.get("code_challenge_method")),
        nonce=_optional(params.get("nonce")),
        login_hint=_optional(params.get("login_hint")),
        prompt=_optional(params.get("prompt")),
        created_at=state.now(),
    )
    if response_mode not in RESPONSE_MODES:
        raise RedirectError(request, "invalid_request", 70007, response_mode=response_mode)
    response_type = params.get("response_type")
    if not response_type:
        raise RedirectError(request, "invalid_request", 900144, parameter="response_type")
    if response_type != "code":
        raise RedirectError(
            request, "unsupported_response_type", 70005, response_type=response_type
        )
    try:
        scopes = parse_scopes(_optional(params.get("scope")))
    except ScopeError as exc:
        raise RedirectError(request, exc.error, exc.code, message=exc.message) from exc
    request.oidc_scopes, request.graph_scopes = scopes.oidc, scopes.graph
    request.exchange_scopes = scopes.exchange
    request.default_scope = scopes.default
    challenge, method = request.code_challenge, request.code_challenge_method
    if method and not challenge:
        raise RedirectError(request, "invalid_request", 900144, parameter="code_challenge")
    if challenge and not 43 <= len(challenge) <= 128:
        raise RedirectError(request, "invalid_request", 501491)
    if method and method not in ("plain", "S256"):
        raise RedirectError(
            request, "invalid_request", 90023, detail=f"unknown code_challenge_method {method!r}"
        )
    if request.prompt and request.prompt not in PROMPTS:
        raise RedirectError(
            request, "invalid_request", 90023, detail=f"unknown prompt {request.prompt!r}"
        )
    return request, app, tenant


def _optional(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def respond_to_app(request: AuthorizeRequest, fields: dict[str, str]) -> Response:
    """Deliver a result to the redirect URI in the requested ``response_mode``.

    "Redirect URIs not configured with a path segment are returned with a trailing slash"
    (reply-url page), for the query and fragment modes.
    """
    if request.state is not None:
        fields = {**fields, "state": request.state}
    parts = urlsplit(request.redirect_uri)
    if request.response_mode == "form_post":
        return form_post_page(request.redirect_uri, fields)
    path = parts.path or "/"
    if request.response_mode == "fragment":
        target = urlunsplit((parts.scheme, parts.netloc, path, parts.query, urlencode(fields)))
    else:
        query = f"{parts.query}&{urlencode(fields)}" if parts.query else urlencode(fields)
        target = urlunsplit((parts.scheme, parts.netloc, path, query, ""))
    return RedirectResponse(target, status_code=302)


def complete_sign_in(state: EmulatorState, request: AuthorizeRequest, user: User) -> Response:
    app = state.apps[request.client_id]
    state.grant_consent(user, app, request)
    code = state.issue_code(request, user)
    state.pending.pop(request.id, None)
    return respond_to_app(request, {"code": code.value})


def _auto_user(state: EmulatorState, request: AuthorizeRequest) -> User | None:
    """A user who consents without a page: the ``login_hint`` one, or the only such user."""
    if request.login_hint:
        hinted = state.find_user_by_login(request.login_hint)
        return hinted if hinted is not None and hinted.auto_consent else None
    candidates = [u for u in state.users.values() if u.auto_consent]
    return candidates[0] if len(candidates) == 1 else None


def _permissions_shown(state: EmulatorState, request: AuthorizeRequest, app: App) -> list[str]:
    graph = list(request.graph_scopes)
    if request.default_scope:
        graph = list(app.required_permissions)
    exchange = [f"{EXCHANGE_RESOURCE}/{name}" for name in request.exchange_scopes]
    return [*request.oidc_scopes, *graph, *exchange]


def _render(
    state: EmulatorState,
    request: AuthorizeRequest,
    app: App,
    tenant: Tenant | str,
    *,
    error: str | None = None,
    selected: str | None = None,
) -> Response:
    accounts = [u for u in state.users.values() if account_error(u, app, tenant) is None]
    if selected is None and request.login_hint:
        hinted = state.find_user_by_login(request.login_hint)
        selected = hinted.id if hinted else None
    permissions = _permissions_shown(state, request, app)
    return sign_in_page(request, app, accounts, permissions, error=error, selected=selected)


async def authorize(request: Request) -> Response:
    state = emulator(request)
    state.counters["authorize_requests"] += 1
    fault = state.take_fault("authorize")
    if fault is not None:
        faulty = await apply_fault(fault, login_host=login_host(request))
        if faulty is not None:
            return faulty
    params: QueryParams | FormData = (
        await request.form() if request.method == "POST" else request.query_params
    )
    segment = request.path_params["tenant"]
    try:
        auth_request, app, tenant = validate_authorize(state, segment, params)
    except PageError as exc:
        return error_page(str(exc))
    except RedirectError as exc:
        return respond_to_app(
            exc.request, {"error": exc.error, "error_description": exc.description}
        )
    user = _auto_user(state, auth_request)
    problem = account_error(user, app, tenant) if user is not None else None
    if user is not None and problem is None:
        return complete_sign_in(state, auth_request, user)
    if auth_request.prompt == "none":
        # "prompt=none ... If the request can't be completed silently ... returns an
        # interaction_required error"; with nobody signed in Microsoft says login_required.
        return respond_to_app(
            auth_request, {"error": "login_required", "error_description": aadsts(50058)}
        )
    state.pending[auth_request.id] = auth_request
    return _render(state, auth_request, app, tenant, error=problem)


async def sign_in(request: Request) -> Response:
    """The sign-in page's form: Accept issues a code, Cancel reports AADSTS65004."""
    state = emulator(request)
    form = await request.form()
    auth_request = state.pending.get(str(form.get("flow") or ""))
    if auth_request is None or state.now() - auth_request.created_at > PENDING_LIFETIME:
        return error_page(aadsts(9002313))
    app = state.apps.get(auth_request.client_id)
    tenant = state.resolve_tenant(auth_request.tenant_segment)
    if app is None or tenant is None:
        return error_page(aadsts(700016, client_id=auth_request.client_id, tenant="emulator"))
    if form.get("action") == "cancel":
        state.pending.pop(auth_request.id, None)
        return respond_to_app(
            auth_request, {"error": "access_denied", "error_description": aadsts(65004)}
        )
    account = str(form.get("account") or "")
    login = str(form.get("login") or "").strip()
    user = state.users.get(account) if account else None
    if user is None and login:
        user = state.find_user_by_login(login)
        if user is None:
            return _render(state, auth_request, app, tenant, error=aadsts(50034, account=login))
    if user is None:
        return _render(
            state, auth_request, app, tenant, error=aadsts(90013, detail="pick an account")
        )
    password = str(form.get("password") or "")
    if user.password is not None and not hmac.compare_digest(password, user.password):
        return _render(state, auth_request, app, tenant, error=aadsts(50126), selected=user.id)
    problem = account_error(user, app, tenant)
    if problem is not None:
        return _render(state, auth_request, app, tenant, error=problem, selected=user.id)
    return complete_sign_in(state, auth_request, user)


# --- /token -----------------------------------------------------------------------------------


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """HTTP Basic client authentication, which the auth code flow page says is supported
    (RFC 6749 §2.3.1: id and secret are form-urlencoded before base64)."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise IdentityError("invalid_request", 9002313) from exc
    if ":" not in decoded:
        raise IdentityError("invalid_request", 9002313)
    client_id, secret = decoded.split(":", 1)
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client(
    state: EmulatorState, form: FormData, authorization: str | None, segment: str
) -> App:
    """Identify the app and check its secret; wrong or missing secrets are 401s."""
    basic = _basic_credentials(authorization)
    client_id = str(form.get("client_id") or (basic[0] if basic else ""))
    if not client_id:
        raise IdentityError("invalid_request", 900144, parameter="client_id")
    if basic and basic[0] != client_id:
        raise IdentityError("invalid_request", 9002313)
    app = state.apps.get(client_id)
    if app is None:
        raise IdentityError("unauthorized_client", 700016, client_id=client_id, tenant=segment)
    posted = form.get("client_secret")
    secret = str(posted) if posted else (basic[1] if basic else None)
    if basic and posted and str(posted) != basic[1]:
        raise IdentityError("invalid_client", 7000215, status=401, client_id=client_id)
    if app.is_public:
        if secret:
            raise IdentityError("invalid_client", 700025, status=401)
        return app
    if not secret:
        raise IdentityError("invalid_client", 7000218, status=401)
    if not any(hmac.compare_digest(secret, known) for known in app.secrets):
        raise IdentityError("invalid_client", 7000215, status=401, client_id=client_id)
    return app


def _b64url_json(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_id_token(
    state: EmulatorState,
    user: User,
    app: App,
    oidc_scopes: tuple[str, ...],
    nonce: str | None,
    host: str,
) -> str:
    """An *unsigned* JWT (``alg: none``), like the samples on the auth code flow page, whose
    refresh section calls the id_token "an unsigned JSON Web Token". Claims follow the ID token
    claims reference: ``oid``, ``preferred_username`` and ``name`` need ``profile``; ``email``
    needs ``email``."""
    now = int(state.now())
    tid = user.tenant_id
    digest = hashlib.sha256(f"{app.client_id}:{user.id}".encode()).digest()
    claims: dict[str, Any] = {
        "aud": app.client_id,
        "iss": f"https://{host}/{tid}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + ID_TOKEN_LIFETIME,
        "sub": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
        "tid": tid,
        "uti": secrets.token_urlsafe(16),
        "ver": "2.0",
    }
    if nonce:
        claims["nonce"] = nonce
    if "profile" in oidc_scopes:
        claims.update(
            oid=user.id, preferred_username=user.user_principal_name, name=user.display_name
        )
    if "email" in oidc_scopes and user.mail:
        claims["email"] = user.mail
    return f"{_b64url_json({'typ': 'JWT', 'alg': 'none'})}.{_b64url_json(claims)}."


def token_response(
    state: EmulatorState,
    app: App,
    user: User,
    oidc_scopes: tuple[str, ...],
    *,
    nonce: str | None,
    host: str,
    family: str | None = None,
    resource: str = GRAPH_RESOURCE,
) -> dict[str, Any]:
    """Access token for Graph with every permission granted to the app ("Using permissions
    after consent": "encoded inside the access token is every permission that your application
    is granted for that resource"); a refresh token only with ``offline_access``; an id_token
    only with ``openid``."""
    access = state.issue_access_token(user.id, app.client_id, resource)
    lifetime = state.settings.access_token_lifetime
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join([*sorted(access.permissions), *oidc_scopes]),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access.value,
    }
    if "offline_access" in oidc_scopes:
        refresh = state.issue_refresh_token(
            user.id, app.client_id, oidc_scopes, family, resource
        )
        body["refresh_token"] = refresh.value
    if "openid" in oidc_scopes:
        body["id_token"] = make_id_token(state, user, app, oidc_scopes, nonce, host)
    return body


def _check_requested_scopes(
    state: EmulatorState, form: FormData, user_id: str, app: App, error: str
) -> None:
    """The optional ``scope`` of a token request must stay within what was consented."""
    raw = form.get("scope")
    if not raw:
        return
    try:
        scopes = parse_scopes(str(raw))
    except ScopeError as exc:
        raise IdentityError(exc.error, exc.code, message=exc.message) from exc
    wanted = {*scopes.graph, *(f"{EXCHANGE_RESOURCE}/{name}" for name in scopes.exchange)}
    if not wanted <= state.granted(user_id, app.client_id):
        raise IdentityError(error, 65001, client_id=app.client_id)


def redeem_code(
    state: EmulatorState, app: App, form: FormData, segment: str, host: str
) -> dict[str, Any]:
    value = form.get("code")
    if not value:
        raise IdentityError("invalid_request", 900144, parameter="code")
    code = state.codes.get(str(value))
    if code is None:
        raise IdentityError("invalid_grant", 9002313)
    if code.client_id != app.client_id:
        raise IdentityError("invalid_grant", 70000, parameter="code")
    if code.redeemed:
        raise IdentityError("invalid_grant", 54005)
    if state.now() - code.issued_at > state.settings.code_lifetime:
        raise IdentityError("invalid_grant", 70008)
    redirect_uri = form.get("redirect_uri")
    if not redirect_uri:
        raise IdentityError("invalid_request", 900144, parameter="redirect_uri")
    if str(redirect_uri) != code.redirect_uri:
        # Not in the AADSTS table we read; AADSTS500112 is what Microsoft is widely seen to
        # answer, and invalid_grant is what RFC 6749 §5.2 prescribes for this case.
        raise IdentityError(
            "invalid_grant", 500112, redirect_uri=redirect_uri, expected=code.redirect_uri
        )
    if state.resolve_tenant(segment) != state.resolve_tenant(code.tenant_segment):
        raise IdentityError("invalid_grant", 700005)
    if code.code_challenge is not None:
        verifier = form.get("code_verifier")
        if not verifier or not pkce_matches(
            str(verifier), code.code_challenge, code.code_challenge_method
        ):
            raise IdentityError("invalid_grant", 501481)
    _check_requested_scopes(state, form, code.user_id, app, "consent_required")
    user = state.users.get(code.user_id)
    if user is None:
        raise IdentityError("invalid_grant", 70008)
    code.redeemed = True
    return token_response(
        state, app, user, code.oidc_scopes, nonce=code.nonce, host=host, resource=code.resource
    )


def refresh(state: EmulatorState, app: App, form: FormData, host: str) -> dict[str, Any]:
    """Each refresh returns a new refresh token; the old one stays valid ("The Microsoft
    identity platform doesn't revoke old refresh tokens when used to fetch new access tokens")
    unless the ``strict_rotation`` setting is on, where reuse revokes the whole chain."""
    value = form.get("refresh_token")
    if not value:
        raise IdentityError("invalid_request", 900144, parameter="refresh_token")
    token = state.refresh_tokens.get(str(value))
    if token is None:
        raise IdentityError("invalid_grant", 9002313)
    if token.client_id != app.client_id:
        raise IdentityError("invalid_grant", 70000, parameter="refresh_token")
    if token.revoked_code is not None:
        raise IdentityError("invalid_grant", token.revoked_code, issued=iso(token.issued_at))
    if state.now() - token.issued_at > state.settings.refresh_token_max_inactive_days * 86400:
        raise IdentityError("invalid_grant", 700082, issued=iso(token.issued_at))
    if token.rotated and state.settings.strict_rotation:
        state.revoke_family(token.family, 70008)
        raise IdentityError("invalid_grant", 70008)
    user = state.users.get(token.user_id)
    if user is None:
        raise IdentityError("invalid_grant", 70008)
    _check_requested_scopes(state, form, token.user_id, app, "invalid_grant")
    token.rotated = True
    return token_response(
        state, app, user, token.oidc_scopes, nonce=None, host=host, family=token.family,
        resource=token.resource,
    )


async def token(request: Request) -> Response:
    state = emulator(request)
    host = login_host(request)
    form = await request.form()
    grant_type = str(form.get("grant_type") or "")
    state.counters[f"token_requests:{grant_type or '(missing)'}"] += 1
    fault = state.take_fault("token", grant_type=grant_type)
    if fault is not None:
        faulty = await apply_fault(fault, login_host=host)
        if faulty is not None:
            return faulty
    segment = request.path_params["tenant"]
    try:
        tenant = state.resolve_tenant(segment)
        if tenant is None:
            raise IdentityError("invalid_request", 90002, tenant=segment)
        if not grant_type:
            raise IdentityError("invalid_request", 900144, parameter="grant_type")
        app = authenticate_client(state, form, request.headers.get("authorization"), segment)
        problem = audience_error(app, segment, tenant)
        if problem is not None:
            raise problem
        if grant_type == "authorization_code":
            body = redeem_code(state, app, form, segment, host)
        elif grant_type == "refresh_token":
            body = refresh(state, app, form, host)
        elif grant_type == "client_credentials":
            body = client_credentials(state, app, form, segment, host)
        else:
            raise IdentityError("unsupported_grant_type", 70003, grant_type=grant_type)
    except IdentityError as exc:
        return identity_error_response(exc, login_host=host)
    state.counters[f"tokens_issued:{grant_type}"] += 1
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


routes = [
    Route("/{tenant}/oauth2/v2.0/authorize", authorize, methods=["GET", "POST"]),
    Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
    Route("/{tenant}/login", sign_in, methods=["POST"]),
]
