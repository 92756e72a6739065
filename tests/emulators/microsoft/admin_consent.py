"""Tenant-wide admin consent (``/{tenant}/v2.0/adminconsent``) and the client credentials grant.

Behaviour follows "Admin consent on the Microsoft identity platform"
(https://learn.microsoft.com/entra/identity-platform/v2-admin-consent) and "Microsoft
identity platform and the OAuth 2.0 client credentials flow"
(https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow):

- the consent request carries ``client_id``, ``redirect_uri``, ``state`` and ``scope``;
  application permissions need the static ``{resource}/.default`` scope, which asks for
  everything configured on the app registration; "Do not use 'common'";
- only an administrator can complete it; the success callback is
  ``?admin_consent=True&tenant={tenant id}&scope=...&state=...``; a refusal is
  ``?admin_consent=True&error=consent_required&error_description=AADSTS65004...&state=...``;
- the token request is ``grant_type=client_credentials`` with ``scope={resource}/.default``
  at a tenant-specific path; the answer has ``token_type``, ``expires_in`` and
  ``access_token`` only (never a refresh token);
- errors: AADSTS1002012 (a scope without ``/.default``), AADSTS9001023 (a grant not
  supported over /common or /consumers), AADSTS700016 (the app is not installed in the
  tenant: nobody there consented).

Where the emulator decides something the pages don't say, the function says so.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .errors import IdentityError, aadsts
from .pages import _page, error_page
from .scopes import GRAPH_APP_ID, GRAPH_RESOURCE
from .state import App, ConsentRequest, EmulatorState, Tenant, User, new_id, redirect_uri_matches

PENDING_LIFETIME = 3600
GENERIC_SEGMENTS = ("common", "consumers")


def _emulator(request: Request) -> EmulatorState:
    return request.app.state.emulator


def graph_default_scopes(host: str) -> set[str]:
    """``/.default`` of Microsoft Graph. The emulator also stands in for Graph at its own
    host, the way each national cloud's Graph is a resource of its own (graph.microsoft.us)."""
    return {f"{GRAPH_RESOURCE}/.default", f"{GRAPH_APP_ID}/.default", f"https://{host}/.default"}


# --- the consent page -------------------------------------------------------------------------


def _validate(state: EmulatorState, segment: str, params: Any) -> ConsentRequest:
    """Check the request; errors that may not go to the redirect URI raise PageError-like
    :class:`IdentityError` shown on the emulator's own page."""
    if segment.lower() in GENERIC_SEGMENTS:
        # Not a numbered case in the reference we read; the page says not to use common,
        # and personal accounts cannot consent for a tenant. AADSTS90130 is the documented
        # "not supported over the /common or /consumers endpoints" error.
        raise IdentityError("invalid_request", 90130)
    if state.resolve_tenant(segment) is None:
        raise IdentityError("invalid_request", 90002, tenant=segment)
    app = state.apps.get(str(params.get("client_id") or ""))
    if app is None:
        raise IdentityError("unauthorized_client", 700016,
                            client_id=params.get("client_id") or "", tenant=segment)
    redirect_uri = str(params.get("redirect_uri") or "")
    if not redirect_uri:
        raise IdentityError("invalid_request", 900971)
    if not any(redirect_uri_matches(redirect_uri, r) for r in app.redirect_uris):
        raise IdentityError("invalid_request", 50011, redirect_uri=redirect_uri,
                            client_id=app.client_id)
    return ConsentRequest(id=new_id(), tenant_segment=segment, client_id=app.client_id,
                          redirect_uri=redirect_uri, state=params.get("state"),
                          scope=str(params.get("scope") or ""), created_at=state.now())


def _redirect(consent: ConsentRequest, fields: dict[str, str]) -> Response:
    """Back to the app, query-encoded, with ``admin_consent=True`` and the state."""
    fields = {"admin_consent": "True", **fields}
    if consent.state is not None:
        fields["state"] = consent.state
    parts = urlsplit(consent.redirect_uri)
    query = f"{parts.query}&{urlencode(fields)}" if parts.query else urlencode(fields)
    return RedirectResponse(urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, "")),
                            status_code=302)


def _tenant_of(state: EmulatorState, consent: ConsentRequest) -> Tenant | str | None:
    return state.resolve_tenant(consent.tenant_segment)


def _may_consent(user: User, tenant: Tenant | str | None) -> bool:
    in_tenant = (not isinstance(tenant, Tenant)) or user.tenant_id == tenant.id
    return not user.personal and in_tenant


def _grant(state: EmulatorState, consent: ConsentRequest, app: App, user: User) -> Response:
    state.admin_consents[(user.tenant_id, app.client_id)] = set(app.application_permissions)
    state.pending_consents.pop(consent.id, None)
    state.counters["admin_consents"] += 1
    return _redirect(consent, {"tenant": user.tenant_id, "scope": consent.scope})


def _consent_page(state: EmulatorState, consent: ConsentRequest, app: App,
                  error: str | None = None) -> Response:
    tenant = _tenant_of(state, consent)
    accounts = "".join(
        f"<label><input type='radio' name='account' id='account-{escape(u.id)}' "
        f"value='{escape(u.id)}'> {escape(u.display_name)} "
        f"&lt;{escape(u.user_principal_name)}&gt;</label>"
        for u in state.users.values() if _may_consent(u, tenant))
    permissions = "".join(f"<li data-permission='{escape(p)}'>{escape(p)}</li>"
                          for p in app.application_permissions)
    error_html = ""
    if error:
        code = error.split(":", 1)[0]
        error_html = (f"<p class='error' id='error'><span id='error-code'>{escape(code)}</span>"
                      f"{escape(error[len(code):])}</p>")
    body = f"""
<h1>Permissions requested — accept for your organization</h1>
{error_html}
<form method="post" action="/{escape(consent.tenant_segment)}/v2.0/adminconsent" id="consent">
  <input type="hidden" name="flow" value="{escape(consent.id)}">
  <fieldset id="accounts"><legend>Sign in as an administrator</legend>{accounts}</fieldset>
  <p>{escape(app.display_name)} would like to, for everyone in the organization:</p>
  <ul id="permissions">{permissions}</ul>
  <button type="submit" id="accept" name="action" value="accept">Accept</button>
  <button type="submit" id="cancel" name="action" value="cancel">Cancel</button>
</form>"""
    return _page("Permissions requested", body)


def _auto_admin(state: EmulatorState, consent: ConsentRequest) -> User | None:
    """An admin who consents without the page: the only auto-consenting admin that may."""
    tenant = _tenant_of(state, consent)
    admins = [u for u in state.users.values()
              if u.auto_consent and u.is_admin and _may_consent(u, tenant)]
    return admins[0] if len(admins) == 1 else None


async def admin_consent(request: Request) -> Response:
    state = _emulator(request)
    segment = request.path_params["tenant"]
    if request.method == "POST":
        return _decide(state, await request.form())
    try:
        consent = _validate(state, segment, request.query_params)
    except IdentityError as exc:
        return error_page(exc.description)
    if not consent.scope:
        return _redirect(consent, {"error": "invalid_request",
                                   "error_description": aadsts(900144, parameter="scope")})
    app = state.apps[consent.client_id]
    admin = _auto_admin(state, consent)
    if admin is not None:
        return _grant(state, consent, app, admin)
    state.pending_consents[consent.id] = consent
    return _consent_page(state, consent, app)


def _decide(state: EmulatorState, form: FormData) -> Response:
    consent = state.pending_consents.get(str(form.get("flow") or ""))
    if consent is None or state.now() - consent.created_at > PENDING_LIFETIME:
        return error_page(aadsts(9002313))
    app = state.apps[consent.client_id]
    if form.get("action") == "cancel":
        state.pending_consents.pop(consent.id, None)
        return _redirect(consent, {"error": "consent_required",
                                   "error_description": aadsts(65004)})
    user = state.users.get(str(form.get("account") or ""))
    if user is None or not _may_consent(user, _tenant_of(state, consent)):
        return _consent_page(state, consent, app, error=aadsts(90013, detail="pick an account"))
    if not user.is_admin:
        return _consent_page(state, consent, app, error=aadsts(90094))
    return _grant(state, consent, app, user)


# --- the client credentials grant -------------------------------------------------------------


def client_credentials(state: EmulatorState, app: App, form: FormData, segment: str,
                       host: str) -> dict[str, Any]:
    """An app-only Graph token for the tenant in the path."""
    tenant = state.resolve_tenant(segment)
    if segment.lower() in GENERIC_SEGMENTS:
        raise IdentityError("invalid_request", 9001023)
    if not isinstance(tenant, Tenant):
        # /organizations names no tenant, so no directory can be consulted; AADSTS90019
        # ("unable to determine the tenant identifier") is the emulator's choice here.
        raise IdentityError("invalid_request", 90019)
    scope = str(form.get("scope") or "")
    if not scope:
        raise IdentityError("invalid_request", 900144, parameter="scope")
    if scope.split() != [scope] or not scope.endswith("/.default"):
        raise IdentityError("invalid_scope", 1002012, scope=scope)
    if scope not in graph_default_scopes(host):
        raise IdentityError("invalid_resource", 500011, resource=scope.rsplit("/", 1)[0],
                            tenant=tenant.id)
    if (tenant.id, app.client_id) not in state.admin_consents:
        raise IdentityError("unauthorized_client", 700016, client_id=app.client_id,
                            tenant=tenant.id)
    token = state.issue_app_token(tenant.id, app.client_id)
    lifetime = state.settings.access_token_lifetime
    return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": token.value}


def revoke_admin_consent(state: EmulatorState, tenant_id: str, client_id: str) -> bool:
    """Like an admin deleting the app's enterprise application: app tokens stop coming."""
    removed = state.admin_consents.pop((tenant_id.lower(), client_id), None) is not None
    for token in state.access_tokens.values():
        if token.tenant_id == tenant_id.lower() and token.client_id == client_id:
            token.expires_at = min(token.expires_at, state.now() - 1)
    return removed


routes = [Route("/{tenant}/v2.0/adminconsent", admin_consent, methods=["GET", "POST"])]
