"""The dashboard's JWT issuers (platform settings → "Sign-in with your app's JWT"): add, edit,
remove, every problem of a form shown at once next to its field, what was typed kept."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import PASSWORD, Dashboard, chromium, create_admin, screenshot
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer

ISSUER = "https://login.acme.test/"


def inline_error(page: httpx.Response, field: str) -> str:
    found = re.search(rf'<p class="error" id="error-{re.escape(field)}">([^<]*)</p>', page.text)
    return found.group(1) if found else ""


@pytest.fixture
def dashboard(xkit_environment: XkitEnvironment, xkit_server: XkitServer,
              platform: PlatformCredentials) -> Iterator[Dashboard]:
    email = f"dev-{secrets.token_hex(4)}@example.test"
    create_admin(xkit_environment, email, platform_slugs=(platform.slug,))
    with Dashboard(xkit_server) as client:
        client.log_in(email)
        yield client


@pytest.fixture
def base(platform: PlatformCredentials) -> str:
    return f"/admin/p/{platform.slug}"


def test_the_settings_page_leads_to_the_issuers(dashboard: Dashboard, base: str) -> None:
    settings = dashboard.get(f"{base}/settings")
    assert f'href="{base}/jwt-issuers"' in settings.text
    page = dashboard.get(f"{base}/jwt-issuers")
    assert page.status_code == 200
    assert "No JWT issuers yet" in page.text


def test_add_edit_and_remove_an_issuer(dashboard: Dashboard, base: str,
                                       api: httpx.Client) -> None:
    form = {"issuer": ISSUER, "audience": "acme-web",
            "jwks_url": "https://login.acme.test/.well-known/jwks.json",
            "user_id_claim": "sub", "name_claim": "email", "algorithms": ["RS256", "ES256"]}
    added = dashboard.submit(f"{base}/jwt-issuers", data=form)
    assert added.status_code == 303, added.text
    [stored] = api.get("/api/platform/jwt-issuers").json()["jwt_issuers"]
    assert stored["issuer"] == ISSUER and stored["name_claim"] == "email"
    assert stored["algorithms"] == ["RS256", "ES256"]
    listed = dashboard.follow(f"{base}/jwt-issuers").text
    assert "Issuer https://login.acme.test/ added." in listed
    assert f'data-issuer="{ISSUER}"' in listed

    detail = f"{base}/jwt-issuers/{stored['id']}"
    saved = dashboard.submit(detail, data={**form, "name_claim": "", "algorithms": ["ES256"]})
    assert saved.status_code == 303, saved.text
    changed = api.get(f"/api/platform/jwt-issuers/{stored['id']}").json()
    assert changed["name_claim"] is None and changed["algorithms"] == ["ES256"]
    assert changed["enabled"] is False  # the box was not ticked

    asked = dashboard.get(f"{detail}/delete")
    assert "Remove the issuer" in asked.text
    removed = dashboard.submit(f"{detail}/delete", data={})
    assert removed.status_code == 303
    assert api.get("/api/platform/jwt-issuers").json()["jwt_issuers"] == []


def test_every_problem_is_shown_at_once_and_what_was_typed_is_kept(
        dashboard: Dashboard, base: str, api: httpx.Client) -> None:
    page = dashboard.submit(f"{base}/jwt-issuers", data={
        "issuer": "", "audience": "", "jwks_url": "ftp://keys.acme.test/jwks",
        "user_id_claim": "user id", "name_claim": "name", "algorithms": []})
    assert page.status_code == 422
    for field in ("issuer", "audience", "jwks_url", "user_id_claim", "algorithms"):
        assert inline_error(page, field), field
    assert 'value="ftp://keys.acme.test/jwks"' in page.text
    assert api.get("/api/platform/jwt-issuers").json()["jwt_issuers"] == []


def test_a_second_issuer_with_the_same_iss_is_refused_next_to_it(
        dashboard: Dashboard, base: str) -> None:
    form = {"issuer": ISSUER, "audience": "a", "jwks_url": "https://login.acme.test/jwks",
            "user_id_claim": "sub", "algorithms": ["RS256"]}
    assert dashboard.submit(f"{base}/jwt-issuers", data=form).status_code == 303
    again = dashboard.submit(f"{base}/jwt-issuers", data=form)
    assert again.status_code == 422
    assert "already has the issuer" in inline_error(again, "issuer")


def test_another_platforms_issuer_is_not_found(
        dashboard: Dashboard, base: str, other_platform: PlatformCredentials,
        xkit_server: XkitServer) -> None:
    with other_platform.client(xkit_server) as theirs:
        created = theirs.post("/api/platform/jwt-issuers", json={
            "issuer": ISSUER, "audience": "a", "jwks_url": "https://login.acme.test/jwks"})
        assert created.status_code == 201
    theirs_path = f"/admin/p/{other_platform.slug}/jwt-issuers"
    assert dashboard.get(theirs_path).status_code in (403, 404)
    assert dashboard.get(f"{base}/jwt-issuers/{created.json()['id']}").status_code == 404
    assert dashboard.get(f"{base}/jwt-issuers/{created.json()['id']}/delete").status_code == 404


@pytest.mark.browser
def test_a_developer_adds_an_issuer_in_chromium(
        xkit_environment: XkitEnvironment, xkit_server: XkitServer,
        platform: PlatformCredentials, api: httpx.Client) -> None:
    email = f"dev-{secrets.token_hex(4)}@example.test"
    create_admin(xkit_environment, email, platform_slugs=(platform.slug,))
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        page.goto(f"{xkit_server.url}/admin/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{xkit_server.url}/admin/p/{platform.slug}/settings")
        page.get_by_role("link", name="Manage JWT issuers").click()

        page.get_by_label("JWKS URL").fill("ftp://keys.acme.test/jwks")
        page.get_by_role("button", name="Add issuer").click()
        expect(page.locator(".field.invalid")).to_have_count(3)  # issuer, audience, JWKS URL
        screenshot(page, "admin-jwt-issuers-01-errors")

        page.get_by_label("Issuer").fill(ISSUER)
        page.get_by_label("Audience").fill("acme-web")
        page.get_by_label("JWKS URL").fill("https://login.acme.test/.well-known/jwks.json")
        page.get_by_label("Name claim").fill("email")
        page.get_by_label("ES256").check()
        page.get_by_role("button", name="Add issuer").click()
        expect(page.locator(f'tr[data-issuer="{ISSUER}"]')).to_be_visible()
        screenshot(page, "admin-jwt-issuers-02-added")
    [stored] = api.get("/api/platform/jwt-issuers").json()["jwt_issuers"]
    assert stored["algorithms"] == ["RS256", "ES256"] and stored["name_claim"] == "email"
