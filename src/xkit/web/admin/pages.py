"""What every dashboard page shares: sign-in, CSRF, platform access, rendering, error pages.

Handlers are decorated with :func:`page` (signed-in pages) or :func:`public_page` (setup and
login). The decorator runs the checks *before* the handler, so a new page cannot forget one:

1. the session cookie is looked up; no live session means a redirect to the login page;
2. every POST must carry the CSRF token: the session's own, or on the public forms a
   double-submit cookie that xkit signed (there is no session yet to hold one; see
   :mod:`xkit.services.admin.form_tokens`);
3. a ``{platform_slug}`` in the path must name a platform this admin may manage, else 404.

Domain errors that escape a handler become HTML error pages, never a JSON body or a 500 trace;
so do database errors, which :mod:`xkit.db.errors` classifies for the dashboard and the API
alike (a race lost to another request is a 409 page, a value the database refuses a 400).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlencode, urlsplit

import jinja2
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import Receive, Scope, Send

from xkit.db.errors import EXPLANATIONS, DatabaseProblem, classify
from xkit.db.models import Platform
from xkit.errors import Forbidden, NotFound, XkitError
from xkit.http.runtime import get_runtime
from xkit.providers.marks import mark_path
from xkit.runtime import Runtime
from xkit.services.admin import dashboard
from xkit.services.admin import sessions as admin_sessions
from xkit.services.admin.form_tokens import LIFETIME_SECONDS
from xkit.services.admin.sessions import SignedIn
from xkit.web.admin.markdown import render_markdown

log = logging.getLogger("xkit.admin")

#: A response of any kind; :meth:`Page.finish` hands back the kind it was given.
_R = TypeVar("_R", bound=Response)

PREFIX = "/admin"
SESSION_COOKIE = "xkit_admin_session"
FORM_CSRF_COOKIE = "xkit_admin_form"
NOTICE_COOKIE = "xkit_admin_notice"
SAFE_METHODS = frozenset({"GET", "HEAD"})
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Pages are private and change on every save; nothing may be cached, framed or leak a Referer.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' https: http: data:; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'"
    ),
}


class LoginRequired(Exception):
    """Raised before a signed-in page runs without a live session."""


class CsrfRefused(Forbidden):
    code = "csrf_refused"


def _format_time(value: dt.datetime | None, empty: str = "—") -> str:
    if value is None:
        return empty
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _relative_time(value: dt.datetime | None, empty: str = "never") -> str:
    if value is None:
        return empty
    seconds = (dt.datetime.now(dt.UTC) - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "in under a minute" if future else "just now"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = _format_time
    env.filters["ago"] = _relative_time
    env.filters["markdown"] = render_markdown
    env.globals["mark_path"] = mark_path
    return env


templates = Jinja2Templates(env=_environment())


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a dashboard path on this site; anything else (another host,
    ``//evil``, a scheme, a backslash trick) is dropped, so login cannot redirect away."""
    if not target or any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    if parts.path != PREFIX and not parts.path.startswith(PREFIX + "/"):
        return None
    return target


def too_long(values: Mapping[str, object], limits: Mapping[str, int]) -> dict[str, str]:
    """Inline errors for values longer than their column holds (the database would refuse
    them with an error instead of a message)."""
    return {name: f"Too long: at most {limit} characters."
            for name, limit in limits.items() if len(str(values.get(name) or "")) > limit}


# How fields are called on the pages, for messages that services write with field names.
FIELD_LABELS = {
    "client_id": "Client ID", "client_secret": "Client secret", "name": "Name", "slug": "Slug",
    "logo_url": "Logo URL", "branding.logo_url": "Logo URL",
    "login_redirect_url": "Login redirect URL", "allowed_origins": "Allowed web origins",
    "email": "Email", "password": "Password", "scopes": "Scopes", "label": "Label",
    "url": "URL", "events": "Events", "description": "Description",
}


def sentence(message: str) -> str:
    """A service's message as a sentence for the page: the field's label instead of its code
    name, a capital letter, a full stop."""
    for name, label in FIELD_LABELS.items():
        if message.startswith(name + " "):
            message = label + message[len(name):]
            break
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def field_error(exc: XkitError, default_field: str) -> tuple[str, str]:
    """Where a refused save's message goes (the field the service named) and what it says."""
    return str(exc.details.get("field") or default_field), sentence(exc.message)


def errors_of(exc: XkitError, default_field: str) -> dict[str, str]:
    """Every field a refused save names (``details["errors"]``), or the one it names: a form
    shows them all at once."""
    found = exc.details.get("errors")
    if isinstance(found, dict) and found:
        return {str(k): sentence(str(v)) for k, v in found.items()}
    return dict([field_error(exc, default_field)])


def merge_errors(errors: dict[str, str], more: Mapping[str, str]) -> dict[str, str]:
    """``errors`` with the service's problems added (the form's own message wins a field)."""
    return {**{k: sentence(v) for k, v in more.items()}, **errors}


def login_url(next_path: str | None = None) -> str:
    target = safe_next(next_path)
    return f"{PREFIX}/login" + (f"?{urlencode({'next': target})}" if target else "")


@dataclass
class Page:
    """One dashboard request: the database session, who is signed in, and the platform."""

    request: Request
    runtime: Runtime
    db: AsyncSession
    signed_in: SignedIn | None
    platform: Platform | None = None
    _form: FormData | None = None
    _cookies: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    # -- who and where --------------------------------------------------------------------
    @property
    def actor(self) -> str:
        assert self.signed_in is not None
        return self.signed_in.actor

    @property
    def public_url(self) -> str:
        return self.runtime.settings.public_url

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def platform_path(self, suffix: str = "") -> str:
        assert self.platform is not None
        return f"{PREFIX}/p/{self.platform.slug}{suffix}"

    # -- input ----------------------------------------------------------------------------
    async def form(self) -> FormData:
        if self._form is None:
            self._form = await self.request.form()
        return self._form

    async def field(self, name: str, default: str = "") -> str:
        value = (await self.form()).get(name, default)
        return value if isinstance(value, str) else default

    async def fields(self, *names: str) -> dict[str, str]:
        return {name: await self.field(name) for name in names}

    async def values(self, name: str) -> list[str]:
        return [v for v in (await self.form()).getlist(name) if isinstance(v, str)]

    async def rollback(self) -> None:
        """Undo a failed service call's half-applied changes and reload what the page shows
        (a rollback expires every loaded row, and async sessions cannot lazy-load)."""
        await self.db.rollback()
        for row in (self.platform, *(
                (self.signed_in.admin, self.signed_in.session) if self.signed_in else ())):
            if row is not None:
                await self.db.refresh(row)

    # -- output ---------------------------------------------------------------------------
    def set_cookie(self, name: str, value: str, **options: Any) -> None:
        self._cookies.append((name, value, options))

    def redirect(self, url: str, *, notice: str | None = None) -> RedirectResponse:
        """See-other after a POST (post/redirect/get); ``notice`` shows once on the next page."""
        response = RedirectResponse(url, status_code=303)
        if notice:
            self.set_cookie(NOTICE_COOKIE, quote(notice), max_age=60)
        return self.finish(response)

    async def render(self, template: str, /, *, status: int = 200,
                     **context: Any) -> HTMLResponse:
        notice = self.request.cookies.get(NOTICE_COOKIE)
        base: dict[str, Any] = {
            "admin": self.signed_in.admin if self.signed_in else None,
            "csrf_token": self.signed_in.session.csrf_token if self.signed_in else "",
            "platform": self.platform,
            "platforms": (await dashboard.platforms_for_admin(self.db, self.signed_in.admin)
                          if self.signed_in else []),
            "may_create_platforms": (self.signed_in is not None
                                     and dashboard.may_create_platforms(self.signed_in.admin)),
            "notice": unquote(notice) if notice else None,
            "path": self.request.url.path,
            "public_url": self.public_url,
            "errors": {},
            "nav": "",
        }
        base.update(context)
        response = templates.TemplateResponse(self.request, template, base, status_code=status)
        if notice:
            response.delete_cookie(NOTICE_COOKIE, path=PREFIX)
        return self.finish(response)

    def finish(self, response: _R) -> _R:
        """Add the pending cookies and the security headers."""
        secure = self.runtime.settings.secure_cookies
        for name, value, options in self._cookies:
            response.set_cookie(name, value, path=PREFIX, httponly=True, samesite="lax",
                                secure=secure, **options)
        response.headers.update(SECURITY_HEADERS)
        return response

    # -- the double-submit token of the public forms ---------------------------------------
    def form_csrf_token(self) -> str:
        """The token for the login and setup forms, from the cookie if xkit signed it (a
        fresh one otherwise, so a tossed cookie is replaced rather than echoed)."""
        token = self.request.cookies.get(FORM_CSRF_COOKIE)
        if not self.runtime.form_tokens.is_valid(token):
            token = self.runtime.form_tokens.issue()
            self.set_cookie(FORM_CSRF_COOKIE, token, max_age=LIFETIME_SECONDS)
        assert token is not None
        return token


Handler = Callable[[Page], Awaitable[Response]]


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A signed-in page: login, CSRF on POST, and platform access are checked first."""
    return _endpoint(handler, public=False)


def public_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page for people not signed in yet (setup, login); POSTs use the double-submit cookie."""
    return _endpoint(handler, public=True)


def _endpoint(handler: Handler, *, public: bool) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        runtime = get_runtime(request)
        async with runtime.sessions() as db:
            current = Page(request=request, runtime=runtime, db=db, signed_in=None)
            try:
                return await _run(current, handler, public=public)
            except LoginRequired:
                next_path = request.url.path if request.method in SAFE_METHODS else None
                if next_path and request.url.query:
                    next_path += "?" + request.url.query
                return current.redirect(login_url(next_path))
            except CsrfRefused:
                await db.rollback()
                return await error_page(current, 403, "This form has expired",
                                        "The page was open too long, or the request did not "
                                        "come from the dashboard. Nothing was changed. Go back, "
                                        "reload the page and try again.")
            except NotFound:
                await db.rollback()
                return await error_page(current, 404, "Not found",
                                        "There is nothing here, or you may not open it.")
            except XkitError as exc:
                await db.rollback()
                return await error_page(current, exc.status_code, "That did not work",
                                        sentence(exc.message))
            except HTTPException as exc:  # e.g. a malformed form body, or one over the size limit
                title = "That was too large" if exc.status_code == 413 else "That did not work"
                return await error_page(current, exc.status_code, title,
                                        exc.detail if isinstance(exc.detail, str) else "")
            except Exception as exc:
                problem = classify(exc)
                if problem is not None:
                    return await _database_error_page(current, problem, exc)
                log.error("unexpected %s on %s %s", type(exc).__name__, request.method,
                          request.url.path, exc_info=exc)
                return await error_page(current, 500, "Something went wrong",
                                        "xkit hit an unexpected error; it is logged on the server.")

    endpoint.public = public  # type: ignore[attr-defined]  # a mark on the function, read by routes
    return endpoint


async def _run(current: Page, handler: Handler, *, public: bool) -> Response:
    request = current.request
    current.signed_in = await admin_sessions.authenticate(
        current.db, request.cookies.get(SESSION_COOKIE), policy=current.runtime.session_policy)
    if not public and current.signed_in is None:
        raise LoginRequired
    if request.method not in SAFE_METHODS:
        if _posted_from_elsewhere(request, current.runtime.settings.public_url):
            raise CsrfRefused("form posted from another site")
        given = await current.field("csrf_token")
        if public:
            expected = request.cookies.get(FORM_CSRF_COOKIE)
            if not current.runtime.form_tokens.is_valid(expected):
                raise CsrfRefused("form token not signed by xkit, or expired")
        else:
            assert current.signed_in is not None
            expected = current.signed_in.session.csrf_token
        if not admin_sessions.tokens_match(expected, given):
            raise CsrfRefused("missing or wrong CSRF token")
    if "platform_slug" in request.path_params:
        assert current.signed_in is not None
        current.platform = await dashboard.platform_for_admin(
            current.db, current.signed_in.admin, current.param("platform_slug"))
        await admin_sessions.remember_platform(current.db, current.signed_in, current.platform.id)
    return await handler(current)


def _posted_from_elsewhere(request: Request, public_url: str) -> bool:
    """Whether the browser says this form came from another origin than the dashboard's.

    A signed double-submit pair can still be fetched from xkit by anyone and tossed into a
    victim's browser by a page on a sibling host (cookies ignore ports and may be set for a
    parent domain), so tokens alone do not stop login CSRF. Browsers add Fetch Metadata
    (``Sec-Fetch-Site``) or at least ``Origin`` to every form post, and a page cannot forge
    either; clients that send neither (scripts, curl) are left to the tokens.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    public = urlsplit(public_url)
    return origin not in (f"{request.url.scheme}://{request.url.netloc}",
                          f"{public.scheme}://{public.netloc}")


_DATABASE_PAGES = {
    DatabaseProblem.OUTAGE: (503, "Please try again in a moment"),
    DatabaseProblem.INVALID_DATA: (400, "That did not work"),
    DatabaseProblem.CONFLICT: (409, "That did not work"),
}


async def _database_error_page(current: Page, problem: DatabaseProblem,
                               exc: Exception) -> Response:
    """A database error the same as the API explains it (db/errors.py), as a page."""
    log.warning("database %s on %s %s: %s", problem, current.request.method,
                current.request.url.path, type(exc).__name__)
    status, title = _DATABASE_PAGES[problem]
    return await error_page(current, status, title, sentence(EXPLANATIONS[problem]))


async def error_page(current: Page, status: int, title: str, message: str) -> Response:
    """An HTML error page; falls back to plain text if even rendering fails."""
    try:
        if current.signed_in is not None:
            await current.rollback()
        return await current.render("error.html", status=status, title=title, message=message)
    except Exception:  # the error page must not fail in turn
        log.exception("could not render the error page")
        return current.finish(HTMLResponse(f"<h1>{status}</h1>", status_code=status))


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """The dashboard's default app: unknown paths get the HTML 404 page (signed in or not)."""
    request = Request(scope, receive)
    runtime = get_runtime(request)
    async with runtime.sessions() as db:
        current = Page(request=request, runtime=runtime, db=db, signed_in=None)
        current.signed_in = await admin_sessions.authenticate(
            db, request.cookies.get(SESSION_COOKIE), policy=runtime.session_policy)
        response = await error_page(current, 404, "Not found",
                                    "There is nothing here, or you may not open it.")
    await response(scope, receive, send)
