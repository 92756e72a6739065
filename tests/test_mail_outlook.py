"""The mail API over an Outlook connection: what a backend does with a user's mailbox, end to
end through xkit against the Graph emulator (connected through the real connect flow)."""

from __future__ import annotations

import base64
import email
import email.policy
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.xkit import PlatformCredentials, XkitServer
from tests.test_tokens_microsoft import TOKEN_PATH
from xkit_client import MailAddress, PermissionDenied, Xkit

PDF = b"%PDF-1.4 quarterly numbers"


@pytest.fixture
def mail(api: httpx.Client, connected: dict[str, str], microsoft: MicrosoftEmulator) -> str:
    """The mail API's base for user-1's Outlook connection, with three messages in the inbox."""
    user = connected["user_id"]
    microsoft.add_message(user, subject="Lunch?", body="noon?", isRead=True,
                          receivedDateTime="2026-11-01T09:00:00Z",
                          **{"from": "grace@contoso.test"})
    microsoft.add_message(user, subject="Quarterly numbers", body="see attached",
                          receivedDateTime="2026-11-02T09:00:00Z",
                          **{"from": "cfo@contoso.test"},
                          attachments=[{"name": "q3.pdf", "contentType": "application/pdf",
                                        "contentBytes": base64.b64encode(PDF).decode()}])
    microsoft.add_message(user, subject="Re: Lunch?",
                          body={"contentType": "html", "content": "<p>make it <b>one</b></p>"},
                          receivedDateTime="2026-11-03T09:00:00Z",
                          **{"from": "grace@contoso.test"})
    connection_id = api.get(TOKEN_PATH).json()["connection"]["id"]
    return f"/api/platform/connections/{connection_id}/mail"


def test_list_newest_first_with_a_cursor_and_filters(api: httpx.Client, mail: str) -> None:
    first = api.get(f"{mail}/messages", params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [m["subject"] for m in page["messages"]] == ["Re: Lunch?", "Quarterly numbers"]
    assert page["messages"][0]["from"] == {"name": "grace@contoso.test",
                                           "address": "grace@contoso.test"}
    rest = api.get(f"{mail}/messages", params={"cursor": page["next_cursor"]}).json()
    assert [m["subject"] for m in rest["messages"]] == ["Lunch?"] and rest["next_cursor"] is None

    unread = api.get(f"{mail}/messages", params={"unread": "true"}).json()["messages"]
    assert [m["subject"] for m in unread] == ["Re: Lunch?", "Quarterly numbers"]
    recent = api.get(f"{mail}/messages", params={
        "since": "2026-11-02T00:00:00Z", "from": "grace@contoso.test"}).json()["messages"]
    assert [m["subject"] for m in recent] == ["Re: Lunch?"]
    searched = api.get(f"{mail}/messages", params={"q": "quarterly"}).json()["messages"]
    assert [m["subject"] for m in searched] == ["Quarterly numbers"]
    both = api.get(f"{mail}/messages", params={"q": "lunch", "unread": "true"})
    assert both.status_code == 422 and both.json()["error"]["code"] == "mail_query_unsupported"
    forged = api.get(f"{mail}/messages", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert forged.status_code == 422


def test_read_a_message_its_attachment_and_its_mime(api: httpx.Client, mail: str) -> None:
    listed = api.get(f"{mail}/messages", params={"q": "quarterly"}).json()["messages"]
    message = api.get(f"{mail}/messages/{listed[0]['id']}").json()
    assert message["text"] == "see attached" and message["html"] is None
    assert message["folder_ids"] and message["read"] is False
    [attachment] = message["attachments"]
    assert (attachment["filename"], attachment["size"]) == ("q3.pdf", len(PDF))
    data = api.get(f"{mail}/messages/{message['id']}/attachments/{attachment['id']}")
    assert data.status_code == 200 and data.content == PDF
    raw = api.get(f"{mail}/messages/{message['id']}/raw")
    assert raw.headers["content-type"].startswith("message/rfc822")
    parsed = email.message_from_bytes(raw.content, policy=email.policy.default)
    assert parsed["Subject"] == "Quarterly numbers"
    html = api.get(f"{mail}/messages", params={"q": "one"}).json()["messages"][0]
    assert "<b>one</b>" in api.get(f"{mail}/messages/{html['id']}").json()["html"]
    missing = api.get(f"{mail}/messages/AAMkAnope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "mail_not_found"


def test_send_with_an_attachment_and_reply_in_the_thread(
        api: httpx.Client, mail: str, microsoft: MicrosoftEmulator,
        connected: dict[str, str]) -> None:
    sent = api.post(f"{mail}/messages", json={
        "to": [{"address": "grace@contoso.test", "name": "Grace"}], "subject": "Report",
        "text": "Attached.", "attachments": [{"filename": "report.pdf",
                                               "content_type": "application/pdf",
                                               "content_base64": base64.b64encode(PDF).decode()}]})
    assert sent.status_code == 202, sent.text
    assert sent.json() == {"id": None, "thread_id": None}  # Graph's sendMail gives no id
    delivered = microsoft.sent_mail(connected["user_id"])[-1]["message"]
    assert delivered["attachments"][0]["name"] == "report.pdf"
    assert base64.b64decode(delivered["attachments"][0]["contentBytes"]) == PDF

    lunch = api.get(f"{mail}/messages", params={"q": "noon"}).json()["messages"][0]
    replied = api.post(f"{mail}/messages", json={"in_reply_to": lunch["id"],
                                                 "text": "Noon works."})
    assert replied.status_code == 202, replied.text
    reply = microsoft.sent_mail(connected["user_id"])[-1]["message"]
    assert reply["subject"] == "RE: Lunch?"
    assert reply["conversationId"] == lunch["thread_id"]
    nobody = api.post(f"{mail}/messages", json={"subject": "to whom?", "text": "x"})
    assert nobody.status_code == 422


def test_a_missing_permission_names_the_scope_and_folders_have_roles(
        api: httpx.Client, mail: str) -> None:
    some = api.get(f"{mail}/messages").json()["messages"][0]
    refused = api.patch(f"{mail}/messages/{some['id']}", json={"read": True})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "mail_scope_missing"
    assert refused.json()["error"]["details"]["scope"] == "Mail.ReadWrite"
    folders = api.get(f"{mail}/folders").json()["folders"]
    roles = {f["role"]: f for f in folders if f["role"]}
    assert {"inbox", "sent", "drafts", "trash", "spam", "archive"} <= set(roles)
    assert roles["inbox"]["total"] == 3 and roles["inbox"]["unread"] == 2


def test_throttling_is_a_429_with_retry_after(
        api: httpx.Client, mail: str, microsoft: MicrosoftEmulator) -> None:
    microsoft.throttle_graph(count=2, retry_after=30)  # longer than the proxy waits
    throttled = api.get(f"{mail}/messages")
    assert throttled.status_code == 429, throttled.text
    assert throttled.headers["retry-after"] == "30"
    assert throttled.json()["error"]["code"] == "mail_throttled"


def test_a_connection_without_a_mailbox_is_refused(api: httpx.Client) -> None:
    unknown = api.get("/api/platform/connections/no-such-connection/mail/messages")
    assert unknown.status_code == 404


def test_the_python_sdk_reads_and_sends_mail(
        mail: str, platform: PlatformCredentials, xkit_server: XkitServer,
        microsoft: MicrosoftEmulator, connected: dict[str, str]) -> None:
    connection_id = mail.split("/")[-2]
    with Xkit(xkit_server.url, platform.publishable_key, platform.secret_key) as xkit:
        unread = xkit.list_mail(connection_id, unread=True)
        assert [m.subject for m in unread.messages] == ["Re: Lunch?", "Quarterly numbers"]
        everything = list(xkit.iter_mail(connection_id, limit=1))
        assert len(everything) == 3 and everything[0].date is not None
        numbers = xkit.get_mail(connection_id, unread.messages[1].id)
        assert numbers.sender is not None and numbers.sender.address == "cfo@contoso.test"
        pdf = xkit.get_mail_bytes(connection_id, numbers.id, numbers.attachments[0].id)
        assert pdf == PDF
        sent = xkit.send_mail(connection_id, to=[MailAddress(address="grace@contoso.test")],
                              subject="Numbers", text="Forwarding.",
                              attachments=[("q3.pdf", "application/pdf", pdf)])
        assert sent.id is None
        with pytest.raises(PermissionDenied) as refused:
            xkit.update_mail(connection_id, numbers.id, read=True)
        assert refused.value.code == "mail_scope_missing"
    assert microsoft.sent_mail(connected["user_id"])[-1]["message"]["subject"] == "Numbers"


def test_the_mail_guides_examples_run_as_written(
        mail: str, platform: PlatformCredentials, xkit_server: XkitServer,
        microsoft: MicrosoftEmulator, connected: dict[str, str]) -> None:
    """docs/mail.md's curl commands and Python, with this server's URL and keys filled in."""
    guide = (Path(__file__).parent.parent / "docs" / "mail.md").read_text()
    shell = "\n".join(part.split("```", 1)[0] for part in guide.split("```bash\n")[1:])
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", shell], capture_output=True,
                         text=True, timeout=60, env={
                             **os.environ, "XKIT_URL": xkit_server.url,
                             "XKIT_PUBLISHABLE_KEY": platform.publishable_key,
                             "XKIT_SECRET_KEY": platform.secret_key,
                             "CONNECTION": mail.split("/")[-2]})
    assert ran.returncode == 0, ran.stderr
    assert '"subject":"Re: Lunch?"' in ran.stdout
    assert microsoft.sent_mail(connected["user_id"])[-1]["message"]["subject"] == "Hello"

    example = "\n".join(part.split("```", 1)[0] for part in guide.split("```python\n")[1:])
    example = (example.replace("http://127.0.0.1:8000", xkit_server.url)
               .replace("xkit_pk_…", platform.publishable_key)
               .replace("xkit_sk_…", platform.secret_key).replace('"user-42"', '"user-1"'))
    namespace: dict[str, Any] = {}
    exec(compile(example, "docs/mail.md", "exec"), namespace)
    assert namespace["unread_subjects"]() == ["Re: Lunch?", "Quarterly numbers"]
    numbers = next(m for m in namespace["xkit"].list_mail(namespace["connection"]).messages
                   if m.subject == "Quarterly numbers")
    namespace["forward_first_attachment"](numbers.id, "grace@contoso.test")
    forwarded = microsoft.sent_mail(connected["user_id"])[-1]["message"]
    assert forwarded["subject"] == "Fwd: Quarterly numbers"
    assert base64.b64decode(forwarded["attachments"][0]["contentBytes"]) == PDF
    namespace["xkit"].close()
