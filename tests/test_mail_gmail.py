"""The mail API over a Gmail connection, end to end: the Gmail template's real endpoints
(accounts.google.com, oauth2.googleapis.com, gmail.googleapis.com) reached at the Gmail
emulator, the user connected through xkit's popup, and the same calls and answers as for
Outlook (``tests/test_mail_outlook.py``)."""

from __future__ import annotations

import base64
import email
import email.policy
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.emulators.gmail.fixture import GmailEmulator
from tests.support.flow import back_at_xkit, new_end_user
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer, create_platform

PDF = b"%PDF-1.4 quarterly numbers"
SCOPES = ["https://www.googleapis.com/auth/gmail.readonly",
          "https://www.googleapis.com/auth/gmail.send"]


@pytest.fixture
def mailbox(gmail: GmailEmulator, google_server: XkitServer,
            xkit_environment: XkitEnvironment) -> Iterator[tuple[httpx.Client, str]]:
    """Ada's Gmail, connected through xkit's popup, with three messages; the backend's client
    and the mail API's base for her connection."""
    gmail.reset()
    gmail.add_account("ada@example.com", name="Ada")
    gmail.add_account("grace@example.com", name="Grace")
    platform: PlatformCredentials = create_platform(xkit_environment,
                                                    f"gmail-{secrets.token_hex(3)}")
    app = gmail.register_app(f"{google_server.url}/p/{platform.slug}/callback")
    with platform.client(google_server) as api:
        created = api.post("/api/platform/connectors", json={
            "provider": "gmail", "client_id": app["client_id"],
            "client_secret": app["client_secret"], "scopes": SCOPES})
        assert created.status_code == 201, created.text
        user = new_end_user(google_server, platform, "user-1")
        _, to_provider = user.start_popup("gmail")
        location = to_provider.headers["location"]
        assert location.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
        at_emulator = location.replace("https://accounts.google.com", gmail.base_url)
        with gmail.client() as browser:  # Ada signs in (login_hint picks her account)
            consent = browser.get(f"{at_emulator}&login_hint=ada%40example.com")
        assert consent.status_code == 302, consent.text
        assert back_at_xkit(consent.headers["location"], to_provider).status_code == 200
        for n, (subject, sender) in enumerate([("Lunch?", "grace@example.com"),
                                               ("Quarterly numbers", "cfo@example.com"),
                                               ("Re: Lunch?", "grace@example.com")]):
            gmail.deliver("ada@example.com", subject=subject, text=f"about {subject}",
                          html=f"<p>about <b>{subject}</b></p>", **{"from": sender},
                          date=f"Mon, 0{n + 2} Nov 2026 09:00:00 +0000",
                          attachments=[{"filename": "q3.pdf", "content_type": "application/pdf",
                                        "data": PDF}] if n == 1 else [])
        connection = api.get("/api/platform/contexts/user-1/connections/gmail")
        assert connection.status_code == 200, connection.text
        assert connection.json()["authorization"]["display_label"] == "ada@example.com"
        yield api, f"/api/platform/connections/{connection.json()['connection']['id']}/mail"


def test_list_search_read_and_download(mailbox: tuple[httpx.Client, str]) -> None:
    api, mail = mailbox
    page = api.get(f"{mail}/messages", params={"limit": 2}).json()
    assert [m["subject"] for m in page["messages"]] == ["Re: Lunch?", "Quarterly numbers"]
    assert page["messages"][0]["from"]["address"] == "grace@example.com"
    assert page["messages"][0]["folder_ids"] == ["INBOX", "UNREAD"]
    rest = api.get(f"{mail}/messages", params={"cursor": page["next_cursor"]}).json()
    assert [m["subject"] for m in rest["messages"]] == ["Lunch?"] and rest["next_cursor"] is None
    from_grace = api.get(f"{mail}/messages", params={"from": "grace@example.com",
                                                     "since": "2026-11-03T00:00:00Z"}).json()
    assert [m["subject"] for m in from_grace["messages"]] == ["Re: Lunch?"]

    found = api.get(f"{mail}/messages", params={"q": "quarterly"}).json()["messages"]
    message = api.get(f"{mail}/messages/{found[0]['id']}").json()
    assert message["text"].strip() == "about Quarterly numbers"
    assert "<b>Quarterly numbers</b>" in message["html"]
    [attachment] = message["attachments"]
    assert (attachment["filename"], attachment["content_type"]) == ("q3.pdf", "application/pdf")
    data = api.get(f"{mail}/messages/{message['id']}/attachments/{attachment['id']}")
    assert data.status_code == 200 and data.content == PDF
    raw = api.get(f"{mail}/messages/{message['id']}/raw").content
    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == (
        "Quarterly numbers")
    labels = {f["id"]: f for f in api.get(f"{mail}/folders").json()["folders"]}
    assert labels["INBOX"]["role"] == "inbox" and labels["INBOX"]["kind"] == "system"


def test_send_with_an_attachment_and_reply_in_the_thread(
        mailbox: tuple[httpx.Client, str], gmail: GmailEmulator) -> None:
    api, mail = mailbox
    sent = api.post(f"{mail}/messages", json={
        "to": [{"address": "grace@example.com"}], "subject": "Report", "text": "Attached.",
        "attachments": [{"filename": "report.pdf", "content_type": "application/pdf",
                         "content_base64": base64.b64encode(PDF).decode()}]})
    assert sent.status_code == 202, sent.text
    assert sent.json()["id"] and sent.json()["thread_id"]
    [arrived] = gmail.messages("grace@example.com", label="INBOX")
    parsed = email.message_from_bytes(base64.urlsafe_b64decode(arrived["raw"] + "=="),
                                      policy=email.policy.default)
    [file] = list(parsed.iter_attachments())  # type: ignore[attr-defined]
    assert file.get_filename() == "report.pdf" and file.get_content() == PDF

    lunch = api.get(f"{mail}/messages", params={"q": "subject:lunch -subject:re"}
                    ).json()["messages"][0]
    replied = api.post(f"{mail}/messages", json={"in_reply_to": lunch["id"],
                                                 "text": "Noon works."})
    assert replied.status_code == 202, replied.text
    assert replied.json()["thread_id"] == lunch["thread_id"]
    answer = gmail.messages("grace@example.com", label="INBOX")[-1]
    reply = email.message_from_bytes(base64.urlsafe_b64decode(answer["raw"] + "=="),
                                     policy=email.policy.default)
    assert reply["Subject"] == "Re: Lunch?" and reply["In-Reply-To"]


def test_gmail_errors_in_xkits_terms(mailbox: tuple[httpx.Client, str],
                                     gmail: GmailEmulator) -> None:
    api, mail = mailbox
    some = api.get(f"{mail}/messages").json()["messages"][0]
    refused = api.patch(f"{mail}/messages/{some['id']}", json={"read": True})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["details"]["scope"].endswith("gmail.modify")
    gmail.fail_next(status=403, reason="userRateLimitExceeded",
                    status_name="PERMISSION_DENIED", message="User Rate Limit Exceeded")
    throttled = api.get(f"{mail}/folders")
    assert throttled.status_code == 429 and throttled.headers["retry-after"]
    missing = api.get(f"{mail}/messages/0000000000000000")
    assert missing.status_code == 404


def test_the_outlook_and_gmail_answers_have_one_shape(mailbox: tuple[httpx.Client, str],
                                                      google_server: XkitServer) -> None:
    api, mail = mailbox
    schema = httpx.get(f"{google_server.url}/openapi.json").json()["components"]["schemas"]
    message = api.get(f"{mail}/messages/"
                      f"{api.get(f'{mail}/messages').json()['messages'][0]['id']}").json()
    assert set(message) == set(schema["MailMessage"]["properties"])


def test_the_log_shows_no_tokens(mailbox: tuple[httpx.Client, str],
                                 google_server: XkitServer, tmp_path: Path) -> None:
    api, mail = mailbox
    token = api.get("/api/platform/contexts/user-1/connections/gmail").json()[
        "authorization"]["access_token"]
    api.get(f"{mail}/messages")
    assert token not in google_server.output()
