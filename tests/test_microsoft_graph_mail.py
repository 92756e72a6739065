"""The Graph mail emulator: what a mail client of Outlook meets — folders, filters, search,
delta rounds, MIME, attachments, sending, replying, and the mailbox concurrency limit.

xkit's mail API is built against this emulator, so each Graph rule it plays (and each trap,
like ``InefficientFilter`` or a message's new id after a move) is pinned here first.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.test_microsoft_emulator import Registration, bearer, connect

pytestmark = pytest.mark.database_independent

REDIRECT_URI = "http://127.0.0.1:8000/p/acme/callback"
SECRET = "emulated-client-secret"
SCOPE = "openid profile email offline_access Mail.ReadWrite Mail.Send"
PDF = b"%PDF-1.4 a tiny invoice"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MicrosoftEmulator]:
    running = MicrosoftEmulator.launch(tmp_path_factory.mktemp("graph-mail"))
    yield running
    running.stop()


@pytest.fixture
def http(emulator: MicrosoftEmulator) -> Iterator[httpx.Client]:
    emulator.reset()
    with emulator.client(timeout=10.0) as client:
        yield client


@pytest.fixture
def ada(emulator: MicrosoftEmulator, http: httpx.Client) -> Registration:
    app = emulator.register_app(redirect_uris=[REDIRECT_URI], client_secret=SECRET)
    user = emulator.add_user(user_id="ada-1", mail="ada@example.com", display_name="Ada",
                             auto_consent=True)
    emulator.add_user(user_id="grace-1", mail="grace@example.com", display_name="Grace",
                      auto_consent=True)
    for day, (subject, sender, read) in enumerate([
            ("Lunch?", "grace@example.com", True), ("Invoice 42", "billing@acme.test", False),
            ("Re: Lunch?", "grace@example.com", False)], start=1):
        emulator.add_message(user["id"], subject=subject, body=f"about {subject}",
                             receivedDateTime=f"2026-11-0{day}T09:00:00Z", isRead=read,
                             **{"from": sender},
                             attachments=[{"name": "invoice.pdf", "contentType":
                                           "application/pdf", "contentBytes":
                                           base64.b64encode(PDF).decode()}]
                             if subject == "Invoice 42" else [])
    return Registration(app["client_id"], user["id"], user["mail"])


@pytest.fixture
def token(emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration) -> str:
    return str(connect(http, emulator, ada, scope=SCOPE)["access_token"])


def get(http: httpx.Client, emulator: MicrosoftEmulator, token: str, path: str,
        **params: Any) -> httpx.Response:
    return http.get(emulator.graph_url(path), params=params, headers=bearer(token))


def subjects(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["subject"] for m in response.json()["value"]]


def test_folders_have_opaque_ids_and_answer_to_their_well_known_names(
        emulator: MicrosoftEmulator, http: httpx.Client, token: str) -> None:
    folders = get(http, emulator, token, "me/mailFolders").json()["value"]
    inbox = next(f for f in folders if f["displayName"] == "Inbox")
    assert inbox["id"] != "inbox" and inbox["totalItemCount"] == 3
    assert inbox["unreadItemCount"] == 2
    assert get(http, emulator, token, "me/mailFolders/Inbox").json()["id"] == inbox["id"]
    messages = get(http, emulator, token, f"me/mailFolders/{inbox['id']}/messages")
    assert subjects(messages) == ["Re: Lunch?", "Invoice 42", "Lunch?"]
    assert {m["parentFolderId"] for m in messages.json()["value"]} == {inbox["id"]}


def test_filters_and_the_orderby_trap(
        emulator: MicrosoftEmulator, http: httpx.Client, token: str) -> None:
    unread = get(http, emulator, token, "me/messages", **{"$filter": "isRead eq false"})
    assert subjects(unread) == ["Re: Lunch?", "Invoice 42"]
    from_grace = get(http, emulator, token, "me/messages", **{
        "$filter": "receivedDateTime ge 2026-11-02T00:00:00Z and "
                   "from/emailAddress/address eq 'grace@example.com'",
        "$orderby": "receivedDateTime desc"})
    assert subjects(from_grace) == ["Re: Lunch?"]
    # $orderby's property must come first in $filter, or Graph refuses the query.
    trap = get(http, emulator, token, "me/messages", **{
        "$filter": "isRead eq false", "$orderby": "receivedDateTime desc"})
    assert trap.status_code == 400 and trap.json()["error"]["code"] == "InefficientFilter"
    bad = get(http, emulator, token, "me/messages", **{"$filter": "subject eq 'x'"})
    assert bad.status_code == 400


def test_search_pages_with_a_skiptoken_and_refuses_filter(
        emulator: MicrosoftEmulator, http: httpx.Client, token: str) -> None:
    first = get(http, emulator, token, "me/messages", **{"$search": '"lunch"', "$top": 1})
    assert subjects(first) == ["Re: Lunch?"]
    assert "$skiptoken=" in first.json()["@odata.nextLink"]
    second = http.get(first.json()["@odata.nextLink"], headers=bearer(token))
    assert subjects(second) == ["Lunch?"] and "@odata.nextLink" not in second.json()
    both = get(http, emulator, token, "me/messages",
               **{"$search": '"lunch"', "$filter": "isRead eq false"})
    assert both.status_code == 400


def test_a_delta_round_then_only_changes_and_a_410_when_the_token_is_forgotten(
        emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration, token: str) -> None:
    page = http.get(emulator.graph_url("me/mailFolders/inbox/messages/delta"),
                    headers={**bearer(token), "Prefer": "odata.maxpagesize=2"})
    assert page.headers["preference-applied"] == "odata.maxpagesize=2"
    seen = [m["subject"] for m in page.json()["value"]]
    assert "@odata.deltaLink" not in page.json()
    page = http.get(page.json()["@odata.nextLink"], headers=bearer(token))
    seen += [m["subject"] for m in page.json()["value"]]
    assert sorted(seen) == ["Invoice 42", "Lunch?", "Re: Lunch?"]
    delta_link = page.json()["@odata.deltaLink"]

    quiet = http.get(delta_link, headers=bearer(token)).json()
    assert quiet["value"] == [] and "@odata.deltaLink" in quiet

    arrived = emulator.add_message(ada.user_id, subject="New!", body="hi")
    invoice = next(m for m in get(http, emulator, token, "me/messages").json()["value"]
                   if m["subject"] == "Invoice 42")
    assert http.patch(emulator.graph_url(f"me/messages/{invoice['id']}"), json={"isRead": True},
                      headers=bearer(token)).json()["isRead"] is True
    lunch = next(m for m in get(http, emulator, token, "me/messages").json()["value"]
                 if m["subject"] == "Lunch?")
    moved = http.post(emulator.graph_url(f"me/messages/{lunch['id']}/move"),
                      json={"destinationId": "archive"}, headers=bearer(token))
    assert moved.status_code == 201 and moved.json()["id"] != lunch["id"]

    changes = http.get(quiet["@odata.deltaLink"], headers=bearer(token)).json()
    by_id = {row["id"]: row for row in changes["value"]}
    assert by_id[arrived["id"]]["subject"] == "New!"
    assert by_id[invoice["id"]]["isRead"] is True
    assert by_id[lunch["id"]]["@removed"] == {"reason": "deleted"}
    assert len(by_id) == 3

    assert emulator.expire_delta_tokens() >= 1
    gone = http.get(changes["@odata.deltaLink"], headers=bearer(token))
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "SyncStateNotFound"


def test_mime_and_attachments_round_trip_through_the_email_package(
        emulator: MicrosoftEmulator, http: httpx.Client, token: str) -> None:
    invoice = get(http, emulator, token, "me/messages",
                  **{"$filter": "hasAttachments eq true"}).json()["value"][0]
    listed = get(http, emulator, token, f"me/messages/{invoice['id']}/attachments").json()
    [attachment] = listed["value"]
    assert (attachment["name"], attachment["size"]) == ("invoice.pdf", len(PDF))
    raw = get(http, emulator, token,
              f"me/messages/{invoice['id']}/attachments/{attachment['id']}/$value")
    assert raw.content == PDF
    mime = get(http, emulator, token, f"me/messages/{invoice['id']}/$value")
    parsed = email.message_from_bytes(mime.content, policy=email.policy.default)
    assert parsed["Subject"] == "Invoice 42" and "billing@acme.test" in parsed["From"]
    [part] = list(parsed.iter_attachments())  # type: ignore[attr-defined]
    assert part.get_filename() == "invoice.pdf" and part.get_content() == PDF


def test_send_with_an_attachment_and_reply_in_the_thread(
        emulator: MicrosoftEmulator, http: httpx.Client, token: str) -> None:
    sent = http.post(emulator.graph_url("me/sendMail"), headers=bearer(token), json={
        "message": {
            "subject": "Report", "body": {"contentType": "Text", "content": "Attached."},
            "toRecipients": [{"emailAddress": {"address": "grace@example.com"}}],
            "attachments": [{"@odata.type": "#microsoft.graph.fileAttachment",
                             "name": "report.pdf", "contentType": "application/pdf",
                             "contentBytes": base64.b64encode(PDF).decode()}]}})
    assert sent.status_code == 202
    [copy] = get(http, emulator, token, "me/mailFolders/sentitems/messages").json()["value"]
    assert copy["subject"] == "Report" and copy["hasAttachments"] is True

    lunch = next(m for m in get(http, emulator, token, "me/messages").json()["value"]
                 if m["subject"] == "Lunch?")
    replied = http.post(emulator.graph_url(f"me/messages/{lunch['id']}/reply"),
                        json={"comment": "Yes, noon."}, headers=bearer(token))
    assert replied.status_code == 202
    reply = next(m for m in get(http, emulator, token, "me/mailFolders/sentitems/messages")
                 .json()["value"] if m["subject"] == "RE: Lunch?")
    assert reply["conversationId"] == lunch["conversationId"]
    assert reply["toRecipients"][0]["emailAddress"]["address"] == "grace@example.com"
    assert [m["message"]["subject"] for m in emulator.sent_mail()] == ["Report", "RE: Lunch?"]


def test_a_fifth_request_at_once_on_one_mailbox_is_throttled(
        emulator: MicrosoftEmulator, token: str) -> None:
    emulator.configure(graph_latency_seconds=0.5)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(verify=emulator.ssl_context(), timeout=10.0) as client:
            return await asyncio.gather(*(
                client.get(emulator.graph_url("me/messages"), headers=bearer(token))
                for _ in range(6)))

    statuses = sorted(r.status_code for r in asyncio.run(burst()))
    assert statuses == [200, 200, 200, 200, 429, 429]
    throttled = [r for r in asyncio.run(burst()) if r.status_code == 429]
    assert throttled[0].headers["retry-after"] == "1"
    assert throttled[0].json()["error"]["code"] == "ApplicationThrottled"
