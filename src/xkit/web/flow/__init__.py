"""The pages an end user's popup walks through: loading, start (to the provider, or to the
collect form), callback — and the result page that ends every way of connecting.

Every redirect to the provider sets the cookie that binds the flow to this browser
(:mod:`xkit.services.connect.browser_binding`); the callback reads it and, once the flow is over,
clears it.

The result page tells the opener how it went with ``postMessage`` — only to the origin the
flow was started from, which had to be one of the platform's allowed origins — and closes.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from xkit.db.models import Authorization, Platform
from xkit.errors import NotFound, XkitError
from xkit.http.rate_limit import PUBLIC_PAGES
from xkit.http.routes import PageRoute
from xkit.http.runtime import get_runtime
from xkit.providers.marks import mark_path
from xkit.providers.schema import ProviderTemplate
from xkit.runtime import Runtime
from xkit.services.configuration.platforms import find_platform
from xkit.services.connect import browser_binding, one_time_tokens
from xkit.services.connect import flow as authorizations
from xkit.services.connect.browser_binding import BrowserBinding
from xkit.services.connect.collect import submit_collected
from xkit.services.connect.flow import CallbackOutcome
from xkit.services.tokens import connections
from xkit.web.flow.help_text import render_help

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["help_text"] = render_help
templates.env.globals["mark_path"] = mark_path
MESSAGE_TYPE = "xkit:authorization"
COLLECT_PURPOSE = "popup_collect"
COLLECT_TTL = dt.timedelta(minutes=10)


def script_json(value: object) -> str:
    """JSON safe to place inside a <script> element: no '<', '>' or '&' can end it early."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# Browsers apply form-action to the redirect that answers a form post too, and the collect
# form's answer redirects to the provider: that page allows https targets (and loopback http,
# for providers on the same machine), every other page only its own origin.
SELF_ONLY = "'self'"
TO_PROVIDERS = "'self' https: http://127.0.0.1:* http://localhost:*"


def _page(
    request: Request,
    name: str,
    context: dict[str, object],
    status: int = 200,
    *,
    form_action: str = SELF_ONLY,
) -> Response:
    nonce = secrets.token_urlsafe(16)
    response = templates.TemplateResponse(
        request, name, {**context, "nonce": nonce}, status_code=status
    )
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        f"img-src 'self'; base-uri 'none'; form-action {form_action}; frame-ancestors 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _problem(request: Request, platform: Platform | None, message: str, status: int) -> Response:
    return _page(
        request,
        "result.html",
        {
            "platform": platform,
            "ok": False,
            "message": message,
            "message_json": "null",
            "opener_origin_json": "null",
        },
        status,
    )


async def loading(request: Request) -> Response:
    """The popup's first page, opened synchronously by the click (so no popup blocker fires)."""
    async with get_runtime(request).sessions() as session:
        platform = await find_platform(session, request.path_params["platform_slug"])
    if platform is None:
        return _problem(request, None, "This integration page does not exist.", 404)
    return _page(request, "loading.html", {"platform": platform})


async def start(request: Request) -> Response:
    """Check the one-time link, make the state, and send the popup to the provider."""
    runtime = get_runtime(request)
    authorization_id = request.path_params["authorization_id"]
    async with runtime.sessions() as session:
        platform = await find_platform(session, request.path_params["platform_slug"])
        if platform is None:
            return _problem(request, None, "This integration page does not exist.", 404)
        valid = await one_time_tokens.consume(
            session,
            purpose=one_time_tokens.POPUP_START,
            token=request.query_params.get("token", ""),
            platform_id=platform.id,
            subject_id=authorization_id,
        )
        if not valid:
            return _problem(
                request,
                platform,
                "This connection link has expired or was already "
                "used. Close this window and click Connect again.",
                400,
            )
        authorization = await authorizations.find_authorization(
            session, platform.id, authorization_id)
        if authorization is None:
            return _problem(request, platform, "This connection no longer exists.", 404)
        template = await _template_of(session, runtime, authorization)
        if template is None:
            return _problem(request, platform, "This connection no longer exists.", 404)
        where_to = {
            k: request.query_params[k]
            for k in ("opener_origin", "return_url")
            if request.query_params.get(k)
        }
        if authorizations.needs_collect(template, authorization):
            return await _collect_form(
                request, session, platform, authorization, template, where_to, values={}, error=None
            )
        return await _next_step(request, session, runtime, platform, authorization, where_to)


async def collect(request: Request) -> Response:
    """The collect form's answer: check it, keep it encrypted, then on to the provider (or,
    when the answers are the credentials, check them with the provider and finish)."""
    runtime = get_runtime(request)
    authorization_id = request.path_params["authorization_id"]
    form = {k: str(v) for k, v in (await request.form()).items()}
    async with runtime.sessions() as session:
        platform = await find_platform(session, request.path_params["platform_slug"])
        if platform is None:
            return _problem(request, None, "This integration page does not exist.", 404)
        valid = await one_time_tokens.consume(
            session,
            purpose=COLLECT_PURPOSE,
            token=form.pop("token", ""),
            platform_id=platform.id,
            subject_id=authorization_id,
        )
        authorization = await authorizations.find_authorization(
            session, platform.id, authorization_id)
        if not valid or authorization is None:
            return _problem(
                request,
                platform,
                "This form has expired or was already sent. "
                "Close this window and click Connect again.",
                400,
            )
        template = await _template_of(session, runtime, authorization)
        if template is None:
            return _problem(request, platform, "This connection no longer exists.", 404)
        where_to = {k: form.pop(k) for k in ("opener_origin", "return_url") if form.get(k)}
        values = {f.name: form.get(f.name, "") for f in template.collect}
        try:
            outcome = await submit_collected(session, runtime.flow_deps, template,
                                             authorization, values)
        except XkitError as exc:
            # what was typed goes back into the form to be fixed, except secrets; the
            # messages themselves never repeat it
            kept = {f.name: values[f.name] for f in template.collect if f.type != "secret"}
            field_errors = exc.details.get("fields") if exc.code == "invalid_field" else None
            return await _collect_form(
                request,
                session,
                platform,
                authorization,
                template,
                where_to,
                values=kept,
                error=None if field_errors else exc.message,
                field_errors=field_errors or {},
                status=400,
            )
        if outcome is not None:
            return _result(request, platform, outcome)
        return await _next_step(request, session, runtime, platform, authorization, where_to)


async def _template_of(session: AsyncSession, runtime: Runtime,
                       authorization: Authorization) -> ProviderTemplate | None:
    """The authorization's provider template; None once its connection was removed."""
    try:
        view = await connections.get_connection(session, authorization.platform_id,
                                                authorization.connection_id)
    except NotFound:
        return None
    return runtime.providers.get(view.connector.provider)


async def _collect_form(
    request: Request,
    session: AsyncSession,
    platform: Platform,
    authorization: Authorization,
    template: ProviderTemplate,
    where_to: dict[str, str],
    *,
    values: dict[str, str],
    error: str | None,
    field_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    token = await one_time_tokens.issue(
        session,
        purpose=COLLECT_PURPOSE,
        ttl=COLLECT_TTL,
        platform_id=platform.id,
        subject_id=authorization.id,
    )
    await session.commit()
    return _page(
        request,
        "collect.html",
        {
            "platform": platform,
            "template": template,
            "token": token,
            "where_to": where_to,
            "values": values,
            "error": error,
            "field_errors": field_errors or {},
            "authorization": authorization,
        },
        status,
        form_action=TO_PROVIDERS,
    )


async def _next_step(
    request: Request,
    session: AsyncSession,
    runtime: Runtime,
    platform: Platform,
    authorization: Authorization,
    where_to: dict[str, str],
) -> Response:
    try:
        step = await authorizations.next_step(
            session,
            runtime.flow_deps,
            platform,
            authorization,
            opener_origin=where_to.get("opener_origin"),
            return_url=where_to.get("return_url"),
        )
    except XkitError as exc:
        return _problem(request, platform, exc.message, exc.status_code)
    if step.outcome is not None:
        return _result(request, platform, step.outcome)
    assert step.redirect_url is not None and step.binding is not None
    return _to_provider(request, platform, step.redirect_url, step.binding)


def _to(url: str) -> Response:
    return RedirectResponse(
        url,
        status_code=302,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _to_provider(
    request: Request, platform: Platform, url: str, binding: BrowserBinding
) -> Response:
    """Off to the provider, with the cookie only this browser will bring back."""
    response = _to(url)
    response.set_cookie(
        binding.cookie_name,
        binding.value,
        max_age=int(authorizations.STATE_TTL.total_seconds()),
        path=browser_binding.cookie_path(platform.slug),
        secure=get_runtime(request).settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    return response


def _forget_binding(
    request: Request, response: Response, platform: Platform, outcome: CallbackOutcome
) -> Response:
    """The flow is over: the browser need not keep its cookie."""
    if outcome.authorization is not None:
        response.delete_cookie(
            browser_binding.cookie_name(outcome.authorization.id),
            path=browser_binding.cookie_path(platform.slug),
            secure=get_runtime(request).settings.secure_cookies,
            httponly=True,
            samesite="lax",
        )
    return response


async def callback(request: Request) -> Response:
    """Where the provider sends the user back; the one URL developers register."""
    runtime = get_runtime(request)
    async with runtime.sessions() as session:
        platform = await find_platform(session, request.path_params["platform_slug"])
        if platform is None:
            return _problem(request, None, "This integration page does not exist.", 404)
        params = {k: v for k, v in request.query_params.items()}
        outcome = await authorizations.complete_callback(
            session, runtime.flow_deps, platform, params, request.cookies
        )
    if outcome.redirect_url is not None:  # the auth type's next leg
        assert outcome.binding is not None
        return _to_provider(request, platform, outcome.redirect_url, outcome.binding)
    if outcome.error_code == browser_binding.MISMATCH_CODE:
        # Not the browser that started: it gets the explanation, and neither the app's
        # return URL nor its opener hears anything from here.
        return _problem(request, platform, outcome.error_message or "", 400)
    return _forget_binding(request, _result(request, platform, outcome), platform, outcome)


def _result(request: Request, platform: Platform, outcome: CallbackOutcome) -> Response:
    """How connecting ended: back to the app in redirect mode, else the popup's last page."""
    authorization = outcome.authorization
    if authorization is not None and authorization.return_url:
        return RedirectResponse(
            _with_result(authorization.return_url, authorization.id, outcome.status),
            status_code=302,
        )
    message = {
        "type": MESSAGE_TYPE,
        "authorization": {
            "id": authorization.id if authorization else None,
            "status": outcome.status,
            "error_code": outcome.error_code,
            "error_message": outcome.error_message,
        },
    }
    return _page(
        request,
        "result.html",
        {
            "platform": platform,
            "ok": outcome.status == authorizations.ACTIVE,
            "label": authorization.display_label if authorization else None,
            "message": outcome.error_message,
            "message_json": script_json(message),
            "opener_origin_json": script_json(outcome.opener_origin),
        },
        200 if outcome.status == authorizations.ACTIVE else 400,
    )


def _with_result(url: str, authorization_id: str, status: str) -> str:
    parts = urlsplit(url)
    extra = urlencode({"xkit_authorization": authorization_id, "xkit_status": status})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


# Reached without a credential, so each is rate limited per client (state guessing, floods).
routes = [
    PageRoute("/p/{platform_slug}/authorizations/loading", loading, methods=["GET"],
              rate_limit=PUBLIC_PAGES),
    PageRoute("/p/{platform_slug}/authorizations/{authorization_id}/start", start,
              methods=["GET"], rate_limit=PUBLIC_PAGES),
    PageRoute("/p/{platform_slug}/authorizations/{authorization_id}/collect", collect,
              methods=["POST"], rate_limit=PUBLIC_PAGES),
    PageRoute("/p/{platform_slug}/callback", callback, methods=["GET"], rate_limit=PUBLIC_PAGES),
]
