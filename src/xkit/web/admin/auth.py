"""First-run setup, login and logout, and ``/admin/`` itself (which opens the right platform)."""

from __future__ import annotations

from starlette.responses import Response

from xkit.errors import Conflict, InvalidInput, Unauthorized
from xkit.services.admin import admins, dashboard
from xkit.services.admin import sessions as admin_sessions
from xkit.web.admin.pages import (
    FORM_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    Page,
    errors_of,
    merge_errors,
    page,
    public_page,
    safe_next,
    too_long,
)


async def _sign_in(current: Page, token: str, target: str, notice: str | None = None) -> Response:
    """Set the session cookie (it lives no longer than the session) and go to ``target``."""
    policy = current.runtime.session_policy
    current.set_cookie(SESSION_COOKIE, token, max_age=int(policy.absolute.total_seconds()))
    return current.redirect(target, notice=notice)


@public_page
async def setup(current: Page) -> Response:
    """The one-time link ``xkit serve`` prints while no admin exists: create the first admin."""
    post = current.request.method == "POST"
    token = await current.field("token") if post else current.query("token")
    if not await admin_sessions.setup_token_is_usable(current.db, token):
        return await current.render("setup_used.html", status=410)
    values = {"email": "", "token": token}
    errors: dict[str, str] = {}
    if post:
        values["email"] = await current.field("email")
        password = await current.field("password")
        errors = merge_errors(too_long(values, {"email": 320}), admins.new_admin_problems(
            values["email"], password, await current.field("password_confirmation")))
        if not errors:
            try:
                admin = await admin_sessions.complete_setup(
                    current.db, token=token, email=values["email"], password=password)
            except InvalidInput as exc:
                errors.update(errors_of(exc, "email"))
            except Conflict:
                return await current.render("setup_used.html", status=410)
            else:
                session_token, _ = await admin_sessions.open_session(
                    current.db, admin, policy=current.runtime.session_policy)
                # Platforms made before the first admin (`xkit demo`, `xkit platforms
                # create`) are where the new admin wants to land, not "create your platform".
                if await dashboard.platforms_for_admin(current.db, admin):
                    return await _sign_in(current, session_token, f"{PREFIX}/",
                                          notice="Welcome to xkit.")
                return await _sign_in(current, session_token, f"{PREFIX}/platforms/new",
                                      notice="Welcome to xkit. Start by creating your platform.")
    return await current.render("setup.html", status=422 if errors else 200, values=values,
                                errors=errors, form_csrf=current.form_csrf_token())


@public_page
async def login(current: Page) -> Response:
    post = current.request.method == "POST"
    target = safe_next(await current.field("next") if post else current.query("next"))
    if current.signed_in is not None and not post:
        return current.redirect(target or f"{PREFIX}/")
    values = {"email": await current.field("email") if post else "", "next": target or ""}
    errors: dict[str, str] = {}
    if post:
        try:
            token, _ = await admin_sessions.log_in(
                current.db, email=values["email"], password=await current.field("password"),
                policy=current.runtime.session_policy)
        except Unauthorized:
            errors["password"] = "Email or password is incorrect."
        else:
            current.set_cookie(FORM_CSRF_COOKIE, "", max_age=0)
            return await _sign_in(current, token, target or f"{PREFIX}/")
    return await current.render("login.html", status=401 if errors else 200, values=values,
                                errors=errors, form_csrf=current.form_csrf_token())


@page
async def logout(current: Page) -> Response:
    """GET asks (a link must not log anyone out); POST, with the CSRF token, does it."""
    if current.request.method != "POST":
        return await current.render("logout.html")
    assert current.signed_in is not None
    await admin_sessions.log_out(current.db, current.signed_in)
    current.set_cookie(SESSION_COOKIE, "", max_age=0)
    return current.redirect(f"{PREFIX}/login", notice="You are logged out.")


@page
async def home(current: Page) -> Response:
    """Open the platform used last, the only one, or the list to choose from."""
    assert current.signed_in is not None
    admin = current.signed_in.admin
    last = await dashboard.platform_by_id_for_admin(
        current.db, admin, current.signed_in.session.current_platform_id)
    if last is not None:
        return current.redirect(f"{PREFIX}/p/{last.slug}/connectors")
    mine = await dashboard.platforms_for_admin(current.db, admin)
    if len(mine) == 1:
        return current.redirect(f"{PREFIX}/p/{mine[0].slug}/connectors")
    if not mine and dashboard.may_create_platforms(admin):
        return current.redirect(f"{PREFIX}/platforms/new")
    return current.redirect(f"{PREFIX}/platforms")
