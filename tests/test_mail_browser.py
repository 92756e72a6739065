"""The mail story as a developer's user lives it: connect Outlook or Gmail from the app's
catalog in Chromium, then the app's backend reads, downloads, sends with an attachment and
replies in the thread through xkit's mail API — against the Graph and Gmail emulators."""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.emulators.gmail.fixture import GOOGLE_HOSTS, GmailEmulator
from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.browser import chromium
from tests.support.devapp import DeveloperApp, developer_app
from tests.support.flow import outlook_connector
from tests.support.tls import TestCertificates
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer, create_platform
from tests.test_xkit_js import catalog_card, connect_through_consent, open_page

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4 signed contract"


def mail_story(api: httpx.Client, mail: str, first_subject: str) -> dict[str, Any]:
    """What the backend does once the user is connected: the same calls for either provider.
    Returns the message it replied to."""
    page = api.get(f"{mail}/messages", params={"limit": 10})
    assert page.status_code == 200, page.text
    assert page.json()["messages"][0]["subject"] == first_subject
    contract = api.get(f"{mail}/messages/{page.json()['messages'][0]['id']}").json()
    [attachment] = contract["attachments"]
    data = api.get(f"{mail}/messages/{contract['id']}/attachments/{attachment['id']}").content
    assert data == PDF
    sent = api.post(f"{mail}/messages", json={
        "to": [{"address": "legal@example.com"}], "subject": "Countersigned", "text": "Here.",
        "attachments": [{"filename": attachment["filename"], "content_type": "application/pdf",
                         "content_base64": base64.b64encode(data).decode()}]})
    assert sent.status_code == 202, sent.text
    replied = api.post(f"{mail}/messages", json={"in_reply_to": contract["id"],
                                                 "text": "Signed and sent to legal."})
    assert replied.status_code == 202, replied.text
    return contract


def test_outlook_connected_in_chromium_then_read_send_and_reply(
        google_browser: Browser, app: DeveloperApp, api: httpx.Client, xkit_server: XkitServer,
        platform: PlatformCredentials, microsoft: MicrosoftEmulator) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    ada = microsoft.add_user(mail="ada@contoso.test", display_name="Ada Lovelace")
    microsoft.add_message(ada["id"], subject="Contract to sign", body="please sign",
                          **{"from": "bob@example.com"},
                          attachments=[{"name": "contract.pdf", "contentType": "application/pdf",
                                        "contentBytes": base64.b64encode(PDF).decode()}])
    page = open_page(google_browser, app)
    catalog_card(page, "outlook-email").click()
    connect_through_consent(page, microsoft, ada["id"])
    expect(page.locator(".notice.success")).to_have_text("Connected as ada@contoso.test.")

    connection = api.get(f"/api/platform/contexts/{app.external_id}/connections/outlook-email")
    mail = f"/api/platform/connections/{connection.json()['connection']['id']}/mail"
    contract = mail_story(api, mail, "Contract to sign")
    sent_items = [m["message"] for m in microsoft.sent_mail(ada["id"])]
    assert sent_items[0]["attachments"][0]["name"] == "contract.pdf"
    assert sent_items[1]["subject"] == "RE: Contract to sign"
    assert sent_items[1]["conversationId"] == contract["thread_id"]


@pytest.fixture(scope="module")
def gmail(tmp_path_factory: pytest.TempPathFactory,
          test_certificates: TestCertificates) -> Iterator[GmailEmulator]:
    running = GmailEmulator(test_certificates,
                            log_path=tmp_path_factory.mktemp("gmail") / "gmail.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def google_server(xkit_environment: XkitEnvironment, gmail: GmailEmulator,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[XkitServer]:
    environment = dataclasses.replace(xkit_environment, extra={
        **(xkit_environment.extra or {}), "XKIT_PROVIDER_CONNECT_TO": gmail.connect_to})
    server = XkitServer(environment, tmp_path_factory.mktemp("gmail-xkit") / "xkit.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def google_browser(gmail: GmailEmulator) -> Iterator[Browser]:
    """Chromium resolving Google's hosts to the emulator (whose test certificate it is told
    to accept), as xkit reaches them through XKIT_PROVIDER_CONNECT_TO. The module's one
    browser (Playwright's sync API runs one at a time), used for Outlook too."""
    rules = ",".join(f"MAP {host} 127.0.0.1:{gmail.port}" for host in GOOGLE_HOSTS)
    with chromium(f"--host-resolver-rules={rules}", "--ignore-certificate-errors") as launched:
        yield launched


def test_gmail_connected_in_chromium_then_read_send_and_reply(
        google_browser: Browser, gmail: GmailEmulator, google_server: XkitServer,
        xkit_environment: XkitEnvironment) -> None:
    gmail.reset()
    gmail.add_account("ada@example.com", name="Ada", auto_consent=False)
    gmail.add_account("legal@example.com", name="Legal")
    platform = create_platform(xkit_environment, f"gmail-{secrets.token_hex(3)}")
    registered = gmail.register_app(f"{google_server.url}/p/{platform.slug}/callback")
    gmail.deliver("ada@example.com", subject="Contract to sign", text="please sign",
                  **{"from": "bob@example.com"},
                  attachments=[{"filename": "contract.pdf", "content_type": "application/pdf",
                                "data": PDF}])
    with platform.client(google_server) as api, \
            developer_app(xkit_environment, google_server, platform) as app:
        created = api.post("/api/platform/connectors", json={
            "provider": "gmail", "client_id": registered["client_id"],
            "client_secret": registered["client_secret"],
            "scopes": ["https://www.googleapis.com/auth/gmail.readonly",
                       "https://www.googleapis.com/auth/gmail.send"]})
        assert created.status_code == 201, created.text
        page: Page = open_page(google_browser, app)
        catalog_card(page, "gmail").click()
        with page.expect_popup() as opened:
            page.get_by_role("button", name="Connect", exact=True).click()
        popup = opened.value
        popup.wait_for_url("https://accounts.google.com/**")
        expect(popup.get_by_role("heading")).to_have_text("Choose an account")
        with popup.expect_event("close"):
            popup.get_by_role("button", name="ada@example.com").click()
        expect(page.locator(".notice.success")).to_have_text("Connected as ada@example.com.")

        connection = api.get(f"/api/platform/contexts/{app.external_id}/connections/gmail")
        mail = f"/api/platform/connections/{connection.json()['connection']['id']}/mail"
        contract = mail_story(api, mail, "Contract to sign")
    [countersigned] = gmail.messages("legal@example.com", label="INBOX")
    reply = gmail.messages("ada@example.com", label="SENT")[-1]
    parsed = email.message_from_bytes(base64.urlsafe_b64decode(countersigned["raw"] + "=="),
                                      policy=email.policy.default)
    files = [part.get_filename() for part in parsed.iter_attachments()]  # type: ignore[attr-defined]
    assert files == ["contract.pdf"]
    assert reply["threadId"] == contract["thread_id"]
