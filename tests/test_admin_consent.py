"""Outlook Email Admin end to end: an administrator signs in, approves the app for the
organization, and the backend gets app-only tokens (client credentials) for that tenant."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.devapp import DeveloperApp
from tests.support.flow import EndUser, back_at_xkit, follow_provider, new_end_user
from tests.support.xkit import PlatformCredentials, XkitServer

PROVIDER = "outlook-email-admin"


def _query(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


@pytest.fixture
def organization(
    api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
) -> dict[str, Any]:
    """A customer tenant with an administrator and a mailbox, and the connector for it."""
    tenant = str(uuid.uuid4())
    microsoft.add_tenant(id=tenant, domains=["fabrikam.test"])
    app = microsoft.register_app(
        redirect_uris=[f"{xkit_server.url}/p/{platform.slug}/callback"],
        sign_in_audience="AzureADMultipleOrgs",
        application_permissions=["Mail.Read", "User.Read.All"])
    microsoft.add_user(mail="admin@fabrikam.test", display_name="Alex Admin", tenant_id=tenant,
                       auto_consent=True, is_admin=True)
    mailbox = microsoft.add_user(mail="sam@fabrikam.test", tenant_id=tenant,
                                 messages=[{"subject": "Invoice 42"}])
    created = api.post("/api/platform/connectors", json={
        "provider": PROVIDER, "client_id": app["client_id"], "client_secret": app["secrets"][0],
        "scopes": ["Mail.Read", "User.Read.All"],
        "settings": {"login_host": microsoft.base_host, "graph_host": microsoft.base_host}})
    assert created.status_code == 201, created.text
    return {"tenant": tenant, "app": app, "mailbox": mailbox}


def _sign_in(user: EndUser, microsoft: MicrosoftEmulator) -> tuple[str, httpx.Response]:
    """Start connecting and sign the admin in; the answer sends them to the consent page."""
    authorization_id, to_sign_in = user.start_popup(PROVIDER)
    assert to_sign_in.headers["location"].startswith(
        f"https://{microsoft.base_host}/organizations/oauth2/v2.0/authorize?")
    assert _query(to_sign_in)["scope"] == "openid profile"
    to_consent = follow_provider(to_sign_in, microsoft)
    assert to_consent.status_code == 302, to_consent.text
    return authorization_id, to_consent


def test_an_admin_approves_once_and_the_backend_reads_any_mailbox(
    api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
    microsoft: MicrosoftEmulator, organization: dict[str, Any],
) -> None:
    tenant = organization["tenant"]
    microsoft.configure(access_token_lifetime=200)  # renewed before every use (300 s margin)
    user = new_end_user(xkit_server, platform, "fabrikam")
    authorization_id, to_consent = _sign_in(user, microsoft)
    consent = _query(to_consent)
    assert to_consent.headers["location"].startswith(
        f"https://{microsoft.base_host}/{tenant}/v2.0/adminconsent?")
    assert consent["client_id"] == organization["app"]["client_id"]
    assert consent["scope"] == f"https://{microsoft.base_host}/.default"
    assert consent["redirect_uri"] == f"{xkit_server.url}/p/{platform.slug}/callback"

    result = follow_provider(to_consent, microsoft)
    assert result.status_code == 200, result.text
    assert "Connected" in result.text and "admin@fabrikam.test" in result.text
    status = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert status["status"] == "active" and status["display_label"] == "admin@fabrikam.test"

    microsoft.configure(access_token_lifetime=3600)  # the stored app token lives 200 s
    before = microsoft.counters()["tokens_issued"].get("client_credentials", 0)
    path = "/api/platform/contexts/fabrikam/connections/outlook-email-admin"
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: api.get(path), range(6)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert microsoft.counters()["tokens_issued"]["client_credentials"] == before + 1
    connection = answers[0].json()
    assert {a.json()["authorization"]["access_token"] for a in answers} == \
        {connection["authorization"]["access_token"]}
    assert connection["authorization"]["extras"] == {"tenant_id": tenant}
    assert connection["authorization"]["provider_account_id"] == tenant

    proxy = f"/api/platform/proxy/{connection['connection']['id']}"
    mailbox = organization["mailbox"]
    messages = api.get(f"{proxy}/users/{mailbox['user_principal_name']}/messages")
    assert messages.status_code == 200, messages.text
    assert [m["subject"] for m in messages.json()["value"]] == ["Invoice 42"]
    me = api.get(f"{proxy}/me")
    assert me.status_code == 400 and "delegated" in me.json()["error"]["message"]

    microsoft.revoke_admin_consent(tenant, organization["app"]["client_id"])
    revoked = api.get(path, params={"force_refresh": "true"})
    assert revoked.status_code == 409
    assert revoked.json()["error"]["details"]["error_code"] == "AADSTS700016"


def test_a_callback_naming_another_tenant_is_refused(
    platform: PlatformCredentials, xkit_server: XkitServer, microsoft: MicrosoftEmulator,
    organization: dict[str, Any],
) -> None:
    """Microsoft: never trust the callback's tenant. Someone who signed in to their own
    organization must not end up with tokens for another one that approved the app."""
    user = new_end_user(xkit_server, platform, "mallory")
    authorization_id, to_consent = _sign_in(user, microsoft)
    forged = httpx.get(f"{user.base}/callback", params={
        "admin_consent": "True", "tenant": str(uuid.uuid4()), "state": _query(to_consent)["state"]},
        cookies=to_consent.cookies)
    assert forged.status_code == 400 and "another organization" in forged.text
    status = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert status["status"] == "error" and status["error_code"] == "tenant_mismatch"


def test_an_admin_who_declines_sees_why(
    platform: PlatformCredentials, xkit_server: XkitServer, microsoft: MicrosoftEmulator,
    organization: dict[str, Any],
) -> None:
    user = new_end_user(xkit_server, platform, "declines")
    authorization_id, to_consent = _sign_in(user, microsoft)
    # With two administrators who could approve, the emulator shows its consent page.
    microsoft.add_user(mail="it@fabrikam.test", tenant_id=organization["tenant"],
                       auto_consent=True, is_admin=True)
    with microsoft.client() as browser:
        page = browser.get(to_consent.headers["location"])
        assert page.status_code == 200 and "Mail.Read" in page.text
        flow = page.text.split('name="flow" value="', 1)[1].split('"', 1)[0]
        back = browser.post(f"{microsoft.base_url}/{organization['tenant']}/v2.0/adminconsent",
                            data={"flow": flow, "action": "cancel"})
    declined = back_at_xkit(back.headers["location"], to_consent)
    assert declined.status_code == 400 and "declined" in declined.text
    status = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert status["error_code"] == "AADSTS65004"


@pytest.mark.browser
def test_both_visits_to_microsoft_carry_the_browser_binding_in_chromium(
        browser: Browser, app: DeveloperApp, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, organization: dict[str, Any]) -> None:
    """Two legs, two redirects to Microsoft: the popup holds a binding cookie from the start
    to the last callback, Chromium brings it back on each of Microsoft's redirects, and it is
    gone once connected."""
    app.body = '<button id="connect">Connect your organization</button>'
    app.script = f"""
  xkit.login(window.getToken);
  document.getElementById("connect").addEventListener("click", () => {{
    window.result = xkit.connect("{PROVIDER}").then(c => c.status, e => e.code);
  }});
"""
    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(app.url)

    def bindings() -> list[dict[str, Any]]:
        return [dict(c) for c in context.cookies() if c["name"].startswith("xkit_flow_")]

    # The first leg's code exchange takes a moment: time to look into the popup's cookie jar.
    microsoft.add_fault("token", "delay", seconds=3, count=1, grant_type="authorization_code")
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect your organization").click()
    deadline = time.monotonic() + 10
    while not bindings() and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    [held] = bindings()
    assert held["httpOnly"] and held["sameSite"] == "Lax" and not held["secure"]
    assert held["path"] == f"/p/{platform.slug}/callback"

    opened.value.wait_for_event("close")
    page.wait_for_function("window.result !== undefined")
    assert page.evaluate("window.result") == "connected"
    assert bindings() == []
    context.close()
