"""Issue 3's story in a real browser: from an empty server to an Outlook Email connector that
the developer's backend sees through the Platform API.

Screenshots of the key pages land in test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import chromium, screenshot, setup_link
from tests.support.xkit import XkitEnvironment, XkitServer

pytestmark = pytest.mark.browser

EMAIL = "dev@acme.test"
PASSWORD = "a long enough password"
CLIENT_ID = "0f3c1a52-7d7e-4a40-9b1e-2d6f3c9a8b11"
CLIENT_SECRET = "Qx8~Z3.rEaL-looking_client-secret~v4lue"


class ResponseLog:
    """Every response body the browser received, to search for leaked secrets."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        self.unreadable: list[str] = []

    def record(self, response: Any) -> None:
        if 300 <= response.status < 400:
            return  # redirects carry no body
        try:
            self.bodies.append((response.url, response.body()))
        except Exception:
            self.unreadable.append(response.url)

    def containing(self, text: str) -> list[str]:
        return [url for url, body in self.bodies if text.encode() in body]


@pytest.fixture
def empty_server(fresh_environment: XkitEnvironment, tmp_path: Path) -> Any:
    server = XkitServer(fresh_environment, tmp_path / "xkit-serve.log")
    yield server
    server.stop()


def test_developer_sets_up_outlook_email_from_an_empty_server(empty_server: XkitServer) -> None:
    server = empty_server
    link = setup_link(server)
    responses = ResponseLog()

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("response", responses.record)

        # First run: the link xkit serve printed creates the first admin.
        page.goto(link)
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password, again").fill(PASSWORD)
        screenshot(page, "01-setup")
        page.get_by_role("button", name="Create admin and sign in").click()

        # A new platform.
        page.wait_for_url("**/admin/platforms/new")
        page.get_by_label("Name").fill("Acme")
        page.get_by_label("Slug").fill("acme")
        page.get_by_label("Allowed web origins").fill("https://app.acme.test")
        screenshot(page, "02-new-platform")
        page.get_by_role("button", name="Create platform").click()
        page.wait_for_url("**/admin/p/acme/connectors")

        # "New Connector" is in the sidebar and at the bottom of the Connectors screen.
        new_connector = page.get_by_role("link", name="New Connector")
        assert new_connector.count() == 2
        screenshot(page, "03-connectors-empty")
        new_connector.last.click()

        # The provider list is searchable; typing filters it without a round trip.
        page.wait_for_url("**/connectors/new")
        outlook = page.get_by_role("link", name=re.compile(r"^Outlook Email Read"))
        assert outlook.is_visible()
        assert "Read, organise and send email" in outlook.inner_text()
        screenshot(page, "04-provider-picker")
        custom = page.get_by_role("link", name=re.compile(r"^Custom OAuth 2\.0 Connect any"))
        assert custom.is_visible()
        page.get_by_label("Search providers").fill("outlook")
        assert not custom.is_visible()
        assert outlook.is_visible()
        outlook.click()

        # A preview first (what it is, its guide, its scopes); "Add connector" adds it.
        page.wait_for_url("**/admin/p/acme/connectors/new/outlook-email")
        assert "offline_access" in page.locator(".preview-scopes").inner_text()
        page.get_by_role("button", name="Add connector").click()

        # The connector page: callback URL (with copy button), credentials, setup guide.
        page.wait_for_url("**/admin/p/acme/connectors/outlook-email")
        callback = f"{server.url}/p/acme/callback"
        assert page.get_by_label("Callback URL").input_value() == callback
        assert page.get_by_role("button", name="Copy").is_visible()
        guide = page.locator(".guide")
        assert callback in guide.inner_text()
        assert "App registrations" in guide.inner_text()
        screenshot(page, "05-connector-setup")

        # A slip first: the message sits next to the field, and what was typed stays.
        page.get_by_label("Client ID").fill("Application (client) ID")
        page.get_by_label("Client secret").fill(CLIENT_SECRET)
        page.get_by_role("button", name="Save", exact=True).click()
        page.wait_for_load_state()
        assert "without spaces" in page.locator("#error-client_id").inner_text()
        assert page.get_by_label("Client ID").input_value() == "Application (client) ID"
        assert page.get_by_label("Client secret").input_value() == ""
        assert "paste the secret again" in page.locator("#error-client_secret").inner_text()
        screenshot(page, "06-connector-inline-errors")

        page.get_by_label("Client ID").fill(CLIENT_ID)
        page.get_by_label("Client secret").fill(CLIENT_SECRET)
        page.get_by_role("button", name="Save", exact=True).click()
        page.wait_for_load_state()
        assert "Client ID and secret saved" in page.locator(".notice").inner_text()
        assert "A client secret is set (since" in page.locator("#secret-state").inner_text()
        assert page.get_by_label("Replace client secret").input_value() == ""
        assert page.get_by_label("Client ID").input_value() == CLIENT_ID
        screenshot(page, "07-connector-credentials-saved")

        # Catalog settings, with a Markdown preview before saving.
        tabs = page.get_by_role("navigation", name="Connector")
        tabs.get_by_role("link", name="Catalog settings").click()
        page.get_by_label("Name", exact=True).fill("Outlook")
        page.get_by_label("Short description").fill("Your Microsoft 365 or Outlook.com mail")
        page.get_by_label("Description", exact=True).fill(
            "Connect your mailbox so Acme can **file receipts** for you.\n\n"
            "- reads new mail\n- never deletes anything")
        page.get_by_role("button", name="Preview").click()
        page.wait_for_load_state()
        preview = page.locator(".catalog-card")
        assert preview.locator("strong", has_text="file receipts").is_visible()
        assert page.get_by_label("Name", exact=True).input_value() == "Outlook"
        screenshot(page, "08-catalog-preview")
        page.get_by_role("button", name="Save", exact=True).click()
        page.wait_for_load_state()
        assert "Catalog settings saved" in page.locator(".notice").inner_text()

        # Connector settings: offline_access is ticked and locked, with a reason.
        tabs.get_by_role("link", name="Connector settings").click()
        offline = page.get_by_role("checkbox", name=re.compile(r"^offline_access"))
        assert offline.is_checked() and offline.is_disabled()
        offline.click(force=True)  # a determined click changes nothing
        assert offline.is_checked()
        assert "Always requested" in page.locator(".scope.locked .why").inner_text()
        page.get_by_label("Search scopes").fill("send")
        assert not page.get_by_role("checkbox", name=re.compile(r"^Mail\.Read ")).is_visible()
        page.get_by_role("checkbox", name=re.compile(r"^Mail\.Send ")).check()
        page.get_by_label("Search scopes").fill("")
        assert page.get_by_label("Tenant").input_value() == "common"
        page.get_by_label("Tenant").fill("organizations")
        screenshot(page, "09-connector-settings")
        page.get_by_role("button", name="Save connector settings").click()
        page.wait_for_load_state()
        assert "Connector settings saved" in page.locator(".notice").inner_text()
        assert page.get_by_role("checkbox", name=re.compile(r"^Mail\.Send ")).is_checked()
        assert page.get_by_role("checkbox", name=re.compile(r"^offline_access")).is_checked()

        # The same page at phone width.
        page.set_viewport_size({"width": 390, "height": 844})
        screenshot(page, "10-connector-settings-phone")
        page.set_viewport_size({"width": 1280, "height": 860})

        # An API key, created in the dashboard; its secret is shown this once.
        page.get_by_role("link", name="API keys").click()
        page.get_by_label("Label").fill("backend")
        page.get_by_role("button", name="Create API key").click()
        page.wait_for_load_state()
        assert "shown only this once" in page.get_by_role("alert").inner_text()
        secret_key = page.get_by_label("Secret key").input_value()
        publishable_key = page.get_by_label("Publishable key").input_value()
        assert secret_key.startswith("xkit_sk_")
        screenshot(page, "11-api-key-created")
        page.get_by_role("link", name="I have stored the secret").click()
        assert secret_key not in page.content()
        assert publishable_key in page.content()

        page.get_by_role("link", name="Settings", exact=True).click()
        assert page.get_by_label("Allowed web origins").input_value() == "https://app.acme.test"
        screenshot(page, "12-platform-settings")

        page.get_by_role("link", name="Audit log").click()
        audit_text = page.locator("table").inner_text()
        for action in ("connector.created", "connector.updated", "api_key.created"):
            assert action in audit_text
        screenshot(page, "13-audit-log")

        page.get_by_role("link", name="Connectors", exact=True).click()
        assert "Enabled" in page.locator(".list-item").inner_text()
        screenshot(page, "14-connectors")
        context.close()

    # The backend sees exactly what the developer chose, plus the required scope.
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret_key}"},
                      timeout=30) as api:
        listed = api.get("/api/platform/connectors")
    assert listed.status_code == 200, listed.text
    [connector] = listed.json()["connectors"]
    assert connector["provider"] == "outlook-email"
    assert connector["name"] == "Outlook"
    assert connector["enabled"] is True and connector["ready"] is True
    assert connector["client_id"] == CLIENT_ID and connector["client_secret_set"] is True
    assert connector["settings"]["tenant"] == "organizations"
    assert connector["scopes"] == ["User.Read", "Mail.Read", "Mail.Send"]
    assert connector["effective_scopes"] == ["offline_access", "User.Read", "Mail.Read",
                                             "Mail.Send"]
    assert CLIENT_SECRET not in listed.text

    # The client secret never came back to the browser, in any page, script or style sheet.
    assert len(responses.bodies) > 20 and responses.unreadable == []
    assert responses.containing(CLIENT_SECRET) == []
    assert len(responses.containing(secret_key)) == 1  # the one-time display, nowhere else
