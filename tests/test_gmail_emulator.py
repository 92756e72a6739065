"""The Gmail emulator: Google's consent and token endpoints and the Gmail API a mail client
uses — MIME parts in base64url, labels, search, threads, history, quota and Google's errors.

xkit's Gmail adapter is built against this emulator, so its Gmail rules are pinned here first.
"""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.emulators.gmail.fixture import GmailEmulator

pytestmark = pytest.mark.database_independent

REDIRECT_URI = "https://xkit.test/p/acme/callback"
READONLY = "https://www.googleapis.com/auth/gmail.readonly"
MODIFY = "https://www.googleapis.com/auth/gmail.modify"
SEND = "https://www.googleapis.com/auth/gmail.send"
METADATA = "https://www.googleapis.com/auth/gmail.metadata"
PDF = b"%PDF-1.4 a tiny invoice"


@pytest.fixture
def http(gmail: GmailEmulator) -> Iterator[httpx.Client]:
    gmail.reset()
    with gmail.client(timeout=10.0) as client:
        yield client


@pytest.fixture
def app(gmail: GmailEmulator, http: httpx.Client) -> dict[str, str]:
    gmail.add_account("ada@example.com", name="Ada")
    gmail.add_account("grace@example.com", name="Grace")
    return gmail.register_app(REDIRECT_URI)


def connect(gmail: GmailEmulator, http: httpx.Client, app: dict[str, str],
            scopes: str = f"openid email {MODIFY} {SEND}", who: str = "ada@example.com",
            offline: bool = True) -> dict[str, Any]:
    authorize = http.get(f"{gmail.base_url}/o/oauth2/v2/auth", params={
        "client_id": app["client_id"], "redirect_uri": REDIRECT_URI, "response_type": "code",
        "scope": scopes, "state": "s1", "login_hint": who,
        **({"access_type": "offline", "prompt": "consent"} if offline else {})})
    assert authorize.status_code == 302, authorize.text
    query = parse_qs(urlsplit(authorize.headers["location"]).query)
    assert query["state"] == ["s1"]
    tokens = http.post(f"{gmail.base_url}/token", data={
        "grant_type": "authorization_code", "code": query["code"][0],
        "redirect_uri": REDIRECT_URI, "client_id": app["client_id"],
        "client_secret": app["client_secret"]})
    assert tokens.status_code == 200, tokens.text
    return tokens.json()  # type: ignore[no-any-return]


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_consent_gives_a_refresh_token_only_offline_and_an_id_token_with_the_email(
        gmail: GmailEmulator, http: httpx.Client, app: dict[str, str]) -> None:
    tokens = connect(gmail, http, app)
    claims = tokens["id_token"].split(".")[1]
    decoded = base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4))
    assert b'"email": "ada@example.com"' in decoded
    refreshed = http.post(f"{gmail.base_url}/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": app["client_id"], "client_secret": app["client_secret"]})
    assert refreshed.status_code == 200 and "refresh_token" not in refreshed.json()
    assert "refresh_token" not in connect(gmail, http, app, offline=False)
    dead = http.post(f"{gmail.base_url}/token", data={
        "grant_type": "refresh_token", "refresh_token": "1//nope",
        "client_id": app["client_id"], "client_secret": app["client_secret"]})
    assert dead.json() == {"error": "invalid_grant",
                           "error_description": "Token has been expired or revoked."}


def test_messages_come_as_mime_parts_in_base64url_with_attachments_by_id(
        gmail: GmailEmulator, http: httpx.Client, app: dict[str, str]) -> None:
    tokens = connect(gmail, http, app)
    empty = http.get(gmail.api_url("messages"), headers=bearer(tokens)).json()
    assert empty == {"resultSizeEstimate": 0}  # no "messages" key at all
    gmail.deliver("ada@example.com", subject="Invoice 42", text="Please pay.",
                  html="<p>Please <b>pay</b>.</p>", **{"from": "billing@acme.test"},
                  attachments=[{"filename": "invoice.pdf", "content_type": "application/pdf",
                                "data": PDF}])
    listed = http.get(gmail.api_url("messages"), headers=bearer(tokens)).json()
    [summary] = listed["messages"]
    message = http.get(gmail.api_url(f"messages/{summary['id']}"), headers=bearer(tokens)).json()
    assert message["labelIds"] == ["INBOX", "UNREAD"] and message["snippet"] == "Please pay."
    payload = message["payload"]
    assert payload["mimeType"] == "multipart/mixed"
    headers = {h["name"]: h["value"] for h in payload["headers"]}
    assert headers["Subject"] == "Invoice 42"
    alternative, attachment = payload["parts"]
    text = alternative["parts"][0]
    assert (text["partId"], text["mimeType"]) == ("0.0", "text/plain")
    assert base64.urlsafe_b64decode(text["body"]["data"] + "==").decode().strip() == "Please pay."
    assert attachment["filename"] == "invoice.pdf" and "data" not in attachment["body"]
    fetched = http.get(gmail.api_url(
        f"messages/{summary['id']}/attachments/{attachment['body']['attachmentId']}"),
        headers=bearer(tokens)).json()
    assert base64.urlsafe_b64decode(fetched["data"] + "==") == PDF
    assert fetched["size"] == len(PDF)
    raw = http.get(gmail.api_url(f"messages/{summary['id']}"), params={"format": "raw"},
                   headers=bearer(tokens)).json()["raw"]
    parsed = email.message_from_bytes(base64.urlsafe_b64decode(raw + "=="),
                                      policy=email.policy.default)
    assert parsed["Subject"] == "Invoice 42"


def test_search_labels_and_paging(
        gmail: GmailEmulator, http: httpx.Client, app: dict[str, str]) -> None:
    tokens = connect(gmail, http, app)
    for n in range(3):
        gmail.deliver("ada@example.com", subject=f"Note {n}", text="hello",
                      date=f"Mon, 0{n + 2} Nov 2026 09:00:00 +0000",
                      **{"from": "grace@example.com" if n else "bob@example.com"})
    found = http.get(gmail.api_url("messages"), params={"q": "from:grace is:unread",
                                                        "maxResults": 1},
                     headers=bearer(tokens)).json()
    assert found["resultSizeEstimate"] == 2 and found["nextPageToken"]
    rest = http.get(gmail.api_url("messages"), params={
        "q": "from:grace is:unread", "maxResults": 1, "pageToken": found["nextPageToken"]},
        headers=bearer(tokens)).json()
    assert "nextPageToken" not in rest
    subjects = [
        http.get(gmail.api_url(f"messages/{m['id']}"), params={
            "format": "metadata", "metadataHeaders": "Subject"},
            headers=bearer(tokens)).json()["payload"]["headers"][0]["value"]
        for m in found["messages"] + rest["messages"]]
    assert subjects == ["Note 2", "Note 1"]  # newest first
    labels = http.get(gmail.api_url("labels"), headers=bearer(tokens)).json()["labels"]
    assert {"INBOX", "SENT", "TRASH"} <= {label["id"] for label in labels}


def test_send_raw_mime_with_an_attachment_and_reply_in_the_thread(
        gmail: GmailEmulator, http: httpx.Client, app: dict[str, str]) -> None:
    tokens = connect(gmail, http, app)
    mime = EmailMessage()
    mime["To"], mime["Subject"] = "grace@example.com", "Report"
    mime.set_content("Attached.")
    mime.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    raw = base64.urlsafe_b64encode(mime.as_bytes()).decode()
    sent = http.post(gmail.api_url("messages/send"), json={"raw": raw}, headers=bearer(tokens))
    assert sent.status_code == 200 and sent.json()["labelIds"] == ["SENT"]
    [delivered] = gmail.messages("grace@example.com", label="INBOX")
    assert b"report.pdf" in base64.urlsafe_b64decode(delivered["raw"] + "==")

    reply = EmailMessage()
    reply["To"], reply["Subject"] = "grace@example.com", "Re: Report"
    reply.set_content("And one more thing.")
    threaded = http.post(gmail.api_url("messages/send"), headers=bearer(tokens), json={
        "raw": base64.urlsafe_b64encode(reply.as_bytes()).decode(),
        "threadId": sent.json()["threadId"]}).json()
    assert threaded["threadId"] == sent.json()["threadId"]
    other = EmailMessage()
    other["To"], other["Subject"] = "grace@example.com", "Something else"
    other.set_content("x")
    unthreaded = http.post(gmail.api_url("messages/send"), headers=bearer(tokens), json={
        "raw": base64.urlsafe_b64encode(other.as_bytes()).decode(),
        "threadId": sent.json()["threadId"]}).json()
    assert unthreaded["threadId"] != sent.json()["threadId"]  # the subject must match


def test_history_lists_changes_after_an_id_and_404s_once_forgotten(
        gmail: GmailEmulator, http: httpx.Client, app: dict[str, str]) -> None:
    tokens = connect(gmail, http, app)
    start = http.get(gmail.api_url("profile"), headers=bearer(tokens)).json()["historyId"]
    arrived = gmail.deliver("ada@example.com", subject="New", text="hi")
    read = http.post(gmail.api_url(f"messages/{arrived['id']}/modify"),
                     json={"removeLabelIds": ["UNREAD"]}, headers=bearer(tokens))
    assert read.json()["labelIds"] == ["INBOX"]
    gone = gmail.deliver("ada@example.com", subject="Gone", text="bye")
    gmail.delete("ada@example.com", gone["id"])

    history = http.get(gmail.api_url("history"), params={"startHistoryId": start},
                       headers=bearer(tokens)).json()
    kinds = [next(k for k in record if k not in ("id", "messages"))
             for record in history["history"]]
    assert kinds == ["messagesAdded", "labelsRemoved", "messagesAdded", "messagesDeleted"]
    added_only = http.get(gmail.api_url("history"), params={
        "startHistoryId": start, "historyTypes": "messageAdded"}, headers=bearer(tokens)).json()
    assert [r["messagesAdded"][0]["message"]["id"] for r in added_only["history"]] == [
        arrived["id"], gone["id"]]
    latest = history["historyId"]
    assert "history" not in http.get(gmail.api_url("history"), params={
        "startHistoryId": latest}, headers=bearer(tokens)).json()

    gmail.forget_history("ada@example.com")
    expired = http.get(gmail.api_url("history"), params={"startHistoryId": start},
                       headers=bearer(tokens))
    assert expired.status_code == 404
    assert expired.json()["error"]["errors"][0]["reason"] == "notFound"


def test_scopes_quota_and_googles_error_shapes(
        gmail: GmailEmulator, http: httpx.Client, app: dict[str, str]) -> None:
    reader = connect(gmail, http, app, scopes=f"openid email {READONLY}")
    send = http.post(gmail.api_url("messages/send"), json={"raw": "eA"}, headers=bearer(reader))
    assert send.status_code == 403
    assert send.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    metadata = connect(gmail, http, app, scopes=f"openid email {METADATA}")
    search = http.get(gmail.api_url("messages"), params={"q": "x"}, headers=bearer(metadata))
    assert search.status_code == 403

    gmail.fail_next(status=403, reason="userRateLimitExceeded", status_name="PERMISSION_DENIED",
                    message="User Rate Limit Exceeded")
    limited = http.get(gmail.api_url("messages"), headers=bearer(reader))
    assert limited.status_code == 403
    assert limited.json()["error"]["errors"][0]["reason"] == "userRateLimitExceeded"

    # two lists (5 units each), then the quota is spent (an hour's window: no rollover)
    gmail.set_quota(12, window_seconds=3600)
    statuses = [http.get(gmail.api_url("messages"), headers=bearer(reader)).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    gmail.expire_tokens()
    assert http.get(gmail.api_url("labels"), headers=bearer(reader)).status_code == 401
