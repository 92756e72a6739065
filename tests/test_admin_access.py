"""Who may open which dashboard page: login, sessions, CSRF, platform isolation, the setup link.

The route lists come from the dashboard's own URL map, so a page added later is covered here
without anyone remembering to add it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from tests.support.browser import Dashboard, create_admin, csrf_field, setup_link
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.app import create_app
from xkit.crypto import EncryptionKey, Keyring, fingerprint
from xkit.db.models import AdminSession, AdminUser, OneTimeToken
from xkit.db.types import utcnow
from xkit.runtime import Runtime, start_runtime
from xkit.services.admin import admins
from xkit.services.admin import sessions as admin_sessions
from xkit.services.admin.form_tokens import FormTokenSigner
from xkit.web.admin import routes

PARAMS = {"connector_slug": "outlook-email", "provider_slug": "outlook-email",
          "publishable_key": "xkit_pk_nope",
          "context_id": "00000000-0000-0000-0000-000000000000",
          "connection_id": "00000000-0000-0000-0000-000000000000",
          "webhook_id": "00000000-0000-0000-0000-000000000000",
          "issuer_id": "00000000-0000-0000-0000-000000000000",
          "delivery_id": "00000000-0000-0000-0000-000000000000"}


def dashboard_requests(platform_slug: str) -> Iterator[tuple[str, str]]:
    """(method, path) for every method of every signed-in dashboard route."""
    for route in routes:
        if getattr(route.endpoint, "public", False):
            continue
        path = route.path.format(platform_slug=platform_slug, **PARAMS)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                yield method, f"/admin{path}"


def platform_requests(platform_slug: str) -> list[tuple[str, str]]:
    return [(m, p) for m, p in dashboard_requests(platform_slug)
            if p.startswith(f"/admin/p/{platform_slug}")]


@pytest.fixture
def dashboard(xkit_server: XkitServer) -> Iterator[Dashboard]:
    with Dashboard(xkit_server) as client:
        yield client


def admin_email() -> str:
    return f"dev-{secrets.token_hex(4)}@example.test"


def test_the_route_map_covers_the_dashboard() -> None:
    paths = {route.path for route in routes}
    assert {"/login", "/setup", "/p/{platform_slug}/connectors/{connector_slug}/settings",
            "/p/{platform_slug}/api-keys", "/p/{platform_slug}/audit"} <= paths
    assert len(list(dashboard_requests("acme"))) > 25
    public = {route.path for route in routes if getattr(route.endpoint, "public", False)}
    assert public == {"/login", "/setup"}


def test_every_dashboard_page_requires_login(
        dashboard: Dashboard, platform: PlatformCredentials) -> None:
    for method, path in dashboard_requests(platform.slug):
        response = dashboard.http.request(method, path, data={"csrf_token": "x"})
        assert response.status_code == 303, (method, path, response.status_code)
        location = response.headers["location"]
        assert location.startswith("/admin/login"), (method, path, location)
        if method == "GET":
            assert httpx.URL(location).params["next"] == path


def test_login_and_setup_pages_are_open_and_unknown_pages_are_html_404(
        dashboard: Dashboard) -> None:
    assert dashboard.get("/admin/login").status_code == 200
    assert dashboard.get("/admin/setup").status_code == 410
    missing = dashboard.get("/admin/no/such/page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")


def test_an_admin_cannot_open_another_platforms_pages(
        xkit_environment: XkitEnvironment, dashboard: Dashboard,
        platform: PlatformCredentials, other_platform: PlatformCredentials,
        xkit_server: XkitServer) -> None:
    email = create_admin(xkit_environment, admin_email(), platform_slugs=(platform.slug,))
    dashboard.log_in(email)
    token = csrf_field(dashboard.get(f"/admin/p/{platform.slug}/connectors").text)
    nowhere = dashboard.get("/admin/p/no-such-platform/connectors")

    for method, path in platform_requests(other_platform.slug):
        response = dashboard.http.request(
            method, path, data={"csrf_token": token, "provider": "outlook-email",
                                "label": "stolen", "name": "Hijacked"})
        # Exactly what a platform that does not exist gets: no hint that this one does.
        assert response.status_code == nowhere.status_code == 404, (method, path)
        assert "<h1>Not found</h1>" in response.text
        assert other_platform.slug not in response.text

    switcher = dashboard.get(f"/admin/p/{platform.slug}/connectors").text
    assert f"/admin/p/{platform.slug}/connectors" in switcher
    assert other_platform.slug not in switcher
    with other_platform.client(xkit_server) as api:
        assert api.get("/api/platform/connectors").json()["connectors"] == []
        assert api.get("/api/platform").json()["name"] != "Hijacked"


def test_a_superuser_may_open_every_platform(
        xkit_environment: XkitEnvironment, dashboard: Dashboard,
        platform: PlatformCredentials, other_platform: PlatformCredentials) -> None:
    dashboard.log_in(create_admin(xkit_environment, admin_email(), superuser=True))
    for slug in (platform.slug, other_platform.slug):
        assert dashboard.get(f"/admin/p/{slug}/connectors").status_code == 200


def test_posts_without_the_right_csrf_token_are_refused_and_change_nothing(
        xkit_environment: XkitEnvironment, xkit_server: XkitServer,
        platform: PlatformCredentials, dashboard: Dashboard) -> None:
    email = create_admin(xkit_environment, admin_email(), platform_slugs=(platform.slug,))
    dashboard.log_in(email)
    with Dashboard(xkit_server) as someone_else:
        someone_else.log_in(create_admin(xkit_environment, admin_email(),
                                         platform_slugs=(platform.slug,)))
        their_token = csrf_field(someone_else.get("/admin/platforms").text)

    add = f"/admin/p/{platform.slug}/connectors/new"
    for form in ({"provider": "outlook-email"},
                 {"provider": "outlook-email", "csrf_token": ""},
                 {"provider": "outlook-email", "csrf_token": "forged"},
                 {"provider": "outlook-email", "csrf_token": their_token}):
        refused = dashboard.http.post(add, data=form,
                                      headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
        assert "Nothing was changed" in refused.text

    with platform.client(xkit_server) as api:
        assert api.get("/api/platform/connectors").json()["connectors"] == []
    # The session's own token works.
    assert dashboard.submit(add, data={"provider": "outlook-email"}).status_code == 303


def test_every_dashboard_form_refuses_a_missing_or_forged_csrf_token(
        xkit_environment: XkitEnvironment, platform: PlatformCredentials,
        dashboard: Dashboard, xkit_server: XkitServer) -> None:
    """Every POST of the route map — each form the dashboard has, or will have."""
    dashboard.log_in(create_admin(xkit_environment, admin_email(),
                                  platform_slugs=(platform.slug,)))
    before = dashboard.get(f"/admin/p/{platform.slug}/api-keys").text
    forms = [path for method, path in dashboard_requests(platform.slug) if method == "POST"]
    assert len(forms) > 10
    for path in forms:
        for token in ({}, {"csrf_token": "forged"}):
            refused = dashboard.http.post(path, data={**token, "provider": "outlook-email",
                                                      "label": "csrf", "name": "Hijacked"},
                                          headers={"Origin": "https://evil.example"})
            assert refused.status_code == 403, (path, refused.status_code)
            assert "Nothing was changed" in refused.text, path
    assert dashboard.get(f"/admin/p/{platform.slug}/api-keys").text.count("xkit_pk_") == \
        before.count("xkit_pk_")
    with platform.client(xkit_server) as api:
        assert api.get("/api/platform/connectors").json()["connectors"] == []
        assert api.get("/api/platform").json()["name"] != "Hijacked"


def test_login_form_needs_its_double_submit_token(
        xkit_environment: XkitEnvironment, xkit_server: XkitServer) -> None:
    email = create_admin(xkit_environment, admin_email())
    with Dashboard(xkit_server) as client:
        form_page = client.get("/admin/login")
        token = csrf_field(form_page.text)
        assert "xkit_admin_form" in form_page.headers["set-cookie"]
        no_token = client.http.post("/admin/login", data={"email": email, "password": "x" * 20})
        assert no_token.status_code == 403
        client.http.cookies.clear()  # the token without its cookie, as a forging site has it
        forged = client.http.post("/admin/login", data={
            "csrf_token": token, "email": email, "password": "correct horse battery staple"})
        assert forged.status_code == 403
        assert not client.signed_in


def test_a_tossed_form_cookie_is_refused_and_replaced(
        xkit_environment: XkitEnvironment, xkit_server: XkitServer) -> None:
    """Login CSRF: a sibling subdomain can set a cookie for xkit's host. A cookie and field
    of its choosing (unsigned, or signed with another key) must not log the victim into the
    attacker's account; xkit's own pair still works."""
    email = create_admin(xkit_environment, admin_email())
    signed_elsewhere = f"{int(dt.datetime.now(dt.UTC).timestamp())}.nonce.{'A' * 43}"
    for tossed in ("attacker-chosen-value", secrets.token_urlsafe(32), signed_elsewhere):
        with Dashboard(xkit_server) as victim:
            victim.http.cookies.set("xkit_admin_form", tossed, path="/admin")
            forged = victim.http.post("/admin/login", data={
                "csrf_token": tossed, "email": email, "password": "correct horse battery staple"})
            assert forged.status_code == 403, tossed
            assert "Nothing was changed" in forged.text
            assert not victim.signed_in
            form_page = victim.get("/admin/login")  # the tossed cookie is not echoed back
            assert csrf_field(form_page.text) != tossed
            assert "xkit_admin_form=" in form_page.headers["set-cookie"]
            victim.http.cookies.delete("xkit_admin_form")
            victim.http.cookies.set("xkit_admin_form", form_page.cookies["xkit_admin_form"],
                                    path="/admin")
            assert victim.log_in(email).status_code == 303
            assert victim.signed_in


@pytest.mark.database_independent
def test_form_tokens_follow_key_rotation_and_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = EncryptionKey.generate(), EncryptionKey.generate()
    token = FormTokenSigner(Keyring([old])).issue()
    assert FormTokenSigner(Keyring([old])).is_valid(token)
    assert FormTokenSigner(Keyring([new, old])).is_valid(token)  # rotated: still accepted
    assert not FormTokenSigner(Keyring([new])).is_valid(token)
    assert not FormTokenSigner(Keyring([old])).is_valid(token[:-1] + "x")
    for refused in (None, "", "a.b", "x" * 500, "1.2.3.4"):
        assert not FormTokenSigner(Keyring([old])).is_valid(refused)
    later = time.time() + 24 * 3600 + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert not FormTokenSigner(Keyring([old])).is_valid(token)


def test_only_a_superuser_may_create_platforms(
        xkit_environment: XkitEnvironment, xkit_server: XkitServer,
        platform: PlatformCredentials) -> None:
    """An admin given some platforms was trusted with those, not with making more."""
    scoped = create_admin(xkit_environment, admin_email(), platform_slugs=(platform.slug,))
    unassigned = create_admin(xkit_environment, admin_email())
    slug = f"sneaky-{secrets.token_hex(3)}"
    for email in (scoped, unassigned):
        with Dashboard(xkit_server) as dashboard:
            dashboard.log_in(email)
            form = dashboard.get("/admin/platforms/new")
            assert form.status_code == 403
            assert "only an admin who manages every platform" in form.text.lower()
            assert form.headers["content-type"].startswith("text/html")
            token = csrf_field(dashboard.get("/admin/platforms").text)
            posted = dashboard.http.post("/admin/platforms/new", data={
                "csrf_token": token, "name": "Sneaky", "slug": slug})
            assert posted.status_code == 403
            assert "Only an admin who manages every platform" in posted.text
            listing = dashboard.get("/admin/platforms").text
            assert "/admin/platforms/new" not in listing
            assert dashboard.get(f"/admin/p/{slug}/connectors").status_code == 404
    with Dashboard(xkit_server) as dashboard:  # the unassigned admin is not sent to the form
        dashboard.log_in(unassigned)
        assert dashboard.get("/admin/").headers["location"] == "/admin/platforms"
    with Dashboard(xkit_server) as owner:
        owner.log_in(create_admin(xkit_environment, admin_email(), superuser=True))
        assert "/admin/platforms/new" in owner.get("/admin/platforms").text
        created = owner.submit("/admin/platforms/new", data={"name": "Fine", "slug": slug})
        assert created.headers["location"] == f"/admin/p/{slug}/connectors"


def test_login_failure_keeps_the_email_and_says_why(
        xkit_environment: XkitEnvironment, dashboard: Dashboard) -> None:
    email = create_admin(xkit_environment, admin_email())
    failed = dashboard.submit("/admin/login", data={"email": email, "password": "wrong password"})
    assert failed.status_code == 401
    assert "Email or password is incorrect." in failed.text
    assert f'value="{email}"' in failed.text
    unknown = dashboard.submit("/admin/login", data={"email": "nobody@example.test",
                                                     "password": "wrong password"})
    assert unknown.status_code == 401
    assert "Email or password is incorrect." in unknown.text
    assert not dashboard.signed_in


def test_session_cookie_is_httponly_samesite_and_scoped_to_the_dashboard(
        xkit_environment: XkitEnvironment, dashboard: Dashboard) -> None:
    response = dashboard.log_in(create_admin(xkit_environment, admin_email()))
    cookie = response.headers["set-cookie"]
    assert "xkit_admin_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # this test server is plain http
    page = dashboard.get("/admin/platforms")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_cookies_are_secure_when_xkit_is_served_over_https(
        xkit_environment: XkitEnvironment) -> None:
    settings = xkit_environment.settings().model_copy(
        update={"public_url": "https://xkit.example.com"})

    async def scenario() -> str:
        runtime: Runtime = await start_runtime(settings)
        try:
            app = create_app(runtime=runtime)
            app.state.runtime = runtime
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport,
                                         base_url="https://xkit.example.com") as client:
                return (await client.get("/admin/login")).headers["set-cookie"]
        finally:
            await runtime.close()

    assert "Secure" in asyncio.run(scenario())


def test_login_redirects_only_to_dashboard_pages(
        xkit_environment: XkitEnvironment, xkit_server: XkitServer) -> None:
    email = create_admin(xkit_environment, admin_email())
    for target, expected in [
        ("/admin/platforms", "/admin/platforms"),
        ("https://evil.example/admin", "/admin/"),
        ("//evil.example/admin", "/admin/"),
        ("/\\evil.example", "/admin/"),
        ("/api/platform/connectors", "/admin/"),
        ("javascript:alert(1)", "/admin/"),
        ("/admin\r\nLocation: https://evil.example", "/admin/"),
    ]:
        with Dashboard(xkit_server) as client:
            form = client.get("/admin/login", params={"next": target}).text
            response = client.http.post("/admin/login", data={
                "csrf_token": csrf_field(form), "email": email,
                "password": "correct horse battery staple", "next": target})
            assert response.status_code == 303
            assert response.headers["location"] == expected, target


def test_logout_ends_the_session_on_the_server(
        xkit_environment: XkitEnvironment, dashboard: Dashboard) -> None:
    dashboard.log_in(create_admin(xkit_environment, admin_email()))
    stolen_cookie = dashboard.http.cookies.get("xkit_admin_session")
    assert dashboard.get("/admin/logout").status_code == 200  # a page that asks, not a logout
    assert dashboard.signed_in
    logged_out = dashboard.submit("/admin/logout")
    assert logged_out.status_code == 303 and logged_out.headers["location"] == "/admin/login"
    assert not dashboard.signed_in
    with httpx.Client(base_url=dashboard.server.url, cookies={
            "xkit_admin_session": stolen_cookie or ""}) as replay:
        assert replay.get("/admin/platforms").status_code == 303


@pytest.mark.parametrize("column", ["expires_at", "last_seen_at"])
def test_sessions_expire_absolutely_and_when_idle(
        xkit_environment: XkitEnvironment, dashboard: Dashboard, column: str) -> None:
    email = create_admin(xkit_environment, admin_email())
    dashboard.log_in(email)
    assert dashboard.signed_in
    settings = xkit_environment.settings()
    moved_back = {
        "expires_at": utcnow() - dt.timedelta(seconds=1),
        "last_seen_at": utcnow() - dt.timedelta(minutes=settings.admin_session_idle_minutes + 1),
    }[column]

    async def age_sessions(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            admin_id = await session.scalar(select(AdminUser.id).where(AdminUser.email == email))
            await session.execute(update(AdminSession).where(
                AdminSession.admin_user_id == admin_id).values({column: moved_back}))
            await session.commit()

    xkit_environment.with_runtime(age_sessions)
    expired = dashboard.get("/admin/platforms")
    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/admin/login")


# --- the setup link ---------------------------------------------------------------------------

@pytest.fixture
def empty_server(fresh_environment: XkitEnvironment, tmp_path: Path) -> Iterator[XkitServer]:
    server = XkitServer(fresh_environment, tmp_path / "serve.log")
    yield server
    server.stop()


def _setup(client: Dashboard, link: str, email: str) -> httpx.Response:
    path = link.split("127.0.0.1", 1)[1].split("/", 1)[1]
    token = httpx.URL(link).params["token"]
    form = client.get("/" + path)
    if form.status_code != 200:
        return form
    return client.http.post("/admin/setup", data={
        "csrf_token": csrf_field(form.text), "token": token, "email": email,
        "password": "correct horse battery staple",
        "password_confirmation": "correct horse battery staple"})


def test_setup_link_creates_one_superuser_once(
        fresh_environment: XkitEnvironment, empty_server: XkitServer, tmp_path: Path) -> None:
    output = empty_server.output()
    assert f"dashboard: {empty_server.url}/admin" in output
    link = setup_link(empty_server)

    with Dashboard(empty_server) as first:
        created = _setup(first, link, "first@example.test")
        assert created.status_code == 303, created.text
        assert created.headers["location"] == "/admin/platforms/new"
        assert first.signed_in

    with Dashboard(empty_server) as second:
        again = second.get(link.replace(empty_server.url, ""))
        assert again.status_code == 410
        assert "cannot be used" in again.text
        replay = second.http.post("/admin/setup", data={
            "csrf_token": csrf_field(second.get("/admin/login").text),
            "token": httpx.URL(link).params["token"], "email": "second@example.test",
            "password": "correct horse battery staple",
            "password_confirmation": "correct horse battery staple"})
        assert replay.status_code == 410

    async def admins_now(runtime: Runtime) -> list[tuple[str, bool]]:
        async with runtime.sessions() as session:
            rows = (await session.execute(AdminUser.__table__.select())).all()
            return [(row.email, row.is_superuser) for row in rows]

    assert fresh_environment.with_runtime(admins_now) == [("first@example.test", True)]

    empty_server.stop()
    restarted = XkitServer(fresh_environment, tmp_path / "restarted.log")
    try:
        assert "/admin/setup?token=" not in restarted.output()
        assert f"dashboard: {restarted.url}/admin" in restarted.output()
    finally:
        restarted.stop()


def test_setup_refuses_bad_input_without_spending_the_link(
        fresh_environment: XkitEnvironment, empty_server: XkitServer) -> None:
    link = setup_link(empty_server)
    with Dashboard(empty_server) as client:
        form = client.get(link.replace(empty_server.url, ""))
        token = httpx.URL(link).params["token"]
        base = {"csrf_token": csrf_field(form.text), "token": token,
                "email": "dev@example.test"}
        short = client.http.post("/admin/setup", data={
            **base, "password": "short", "password_confirmation": "short"})
        assert short.status_code == 422 and "at least 10 characters" in short.text
        assert 'value="dev@example.test"' in short.text
        differ = client.http.post("/admin/setup", data={
            **base, "password": "a long enough password",
            "password_confirmation": "another long password"})
        assert differ.status_code == 422 and "The two passwords differ." in differ.text
        bad_email = client.http.post("/admin/setup", data={
            **base, "email": "not-an-email", "password": "a long enough password",
            "password_confirmation": "a long enough password"})
        assert bad_email.status_code == 422 and "Enter an email address" in bad_email.text
        assert _setup(client, link, "dev@example.test").status_code == 303


def test_expired_or_unknown_setup_tokens_do_nothing(
        fresh_environment: XkitEnvironment, empty_server: XkitServer) -> None:
    async def expired_token(runtime: Runtime) -> str:
        async with runtime.sessions() as session:
            token = await admin_sessions.issue_setup_token(session)
            await session.execute(update(OneTimeToken).where(
                OneTimeToken.token_hash == fingerprint(token)).values(
                expires_at=utcnow() - dt.timedelta(minutes=1)))
            await session.commit()
            return token

    token = fresh_environment.with_runtime(expired_token)
    with Dashboard(empty_server) as client:
        for candidate in (token, "made-up-token", ""):
            response = client.get("/admin/setup", params={"token": candidate})
            assert response.status_code == 410, candidate

    async def count(runtime: Runtime) -> int:
        async with runtime.sessions() as session:
            return await admins.count_admins(session)

    assert fresh_environment.with_runtime(count) == 0
    assert re.search(r"/admin/setup\?token=", empty_server.output())
