"""New-mail events end to end, on Outlook (Graph emulator) and Gmail (Gmail emulator): a
backend turns them on for a connection, mail arrives, and its receiver gets signed
``mail.received`` webhooks from ``xkit worker`` processes — none lost while no worker runs or
when one is killed mid-sync, none twice after the provider forgets the cursor."""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulators.gmail.fixture import GmailEmulator
from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.database import temporary_database
from tests.support.flow import back_at_xkit, follow_provider, new_end_user, outlook_connector
from tests.support.processes import ManagedProcess
from tests.support.tls import TestCertificates
from tests.support.webhooks import WebhookReceiver, start_worker
from tests.support.xkit import (
    PlatformCredentials,
    XkitEnvironment,
    XkitServer,
    create_platform,
    installation_settings,
)
from xkit.db.models import MailFollow
from xkit.runtime import Runtime
from xkit_client import Xkit, verify_webhook

# Polls every 0.2 s, idle backoff up to 1 s: a test sees mail within about a second.
MAIL_SETTINGS = {"XKIT_MAIL_POLL_SECONDS": "0.2", "XKIT_MAIL_POLL_MAX_SECONDS": "1",
                 "XKIT_MAIL_LEASE_SECONDS": "3"}
MAIL_EVENTS = ["mail.received", "mail.deleted"]


@pytest.fixture(scope="module")
def gmail(tmp_path_factory: pytest.TempPathFactory,
          test_certificates: TestCertificates) -> Iterator[GmailEmulator]:
    running = GmailEmulator(test_certificates,
                            log_path=tmp_path_factory.mktemp("gmail") / "gmail.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def events_environment(tmp_path_factory: pytest.TempPathFactory,
                       test_certificates: TestCertificates,
                       gmail: GmailEmulator) -> Iterator[XkitEnvironment]:
    """An installation of its own whose server runs no worker: the tests start and kill
    ``xkit worker`` processes themselves."""
    data_dir = tmp_path_factory.mktemp("mail-events")
    with temporary_database(data_dir) as url:
        environment = XkitEnvironment.new(data_dir, url)
        environment.extra = {**installation_settings(test_certificates),
                             "XKIT_TOKEN_UPKEEP": "false", "XKIT_WORKER_ENABLED": "false",
                             "XKIT_PROVIDER_CONNECT_TO": gmail.connect_to, **MAIL_SETTINGS}
        yield environment


@pytest.fixture(scope="module")
def events_server(events_environment: XkitEnvironment,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[XkitServer]:
    server = XkitServer(events_environment,
                        tmp_path_factory.mktemp("mail-events-xkit") / "xkit.log")
    yield server
    server.stop()


@dataclasses.dataclass
class Followed:
    """A connection whose mail events are on, with the receiver its platform subscribed."""

    api: httpx.Client
    connection_id: str
    receiver: WebhookReceiver
    secret: str
    keys: tuple[str, str]  # the platform's publishable and secret keys

    @property
    def events_path(self) -> str:
        return f"/api/platform/connections/{self.connection_id}/mail/events"

    def received(self) -> list[dict[str, Any]]:
        """Each accepted mail.received event, its signature checked."""
        found = []
        for delivery in self.receiver.accepted():
            verify_webhook(delivery.body, delivery.headers["xkit-signature"], self.secret)
            if delivery.event["event_type"] == "mail.received":
                found.append(delivery.event)
        return found

    def subjects(self) -> Counter[str]:
        return Counter(e["payload"]["message"]["subject"] for e in self.received())

    def wait_for(self, subjects: set[str], timeout: float = 30) -> None:
        self.receiver.wait_until(lambda _: subjects <= set(self.subjects()), timeout=timeout,
                                 what=f"mail.received for {sorted(subjects)}")


def _subscribe(api: httpx.Client, receiver: WebhookReceiver) -> str:
    created = api.post("/api/platform/webhooks", json={"url": receiver.url,
                                                        "events": MAIL_EVENTS})
    assert created.status_code == 201, created.text
    return str(created.json()["signing_secret"])


@pytest.fixture
def outlook(events_environment: XkitEnvironment, events_server: XkitServer,
            microsoft: MicrosoftEmulator) -> Iterator[tuple[Followed, str]]:
    """user-1's Outlook connection, its inbox followed; and the Graph user's id."""
    platform = create_platform(events_environment, f"mail-{secrets.token_hex(3)}")
    with WebhookReceiver() as receiver, platform.client(events_server) as api:
        outlook_connector(api, events_server, platform, microsoft)
        user = microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
        _, to_provider = new_end_user(events_server, platform, "user-1").start_popup(
            "outlook-email")
        assert follow_provider(to_provider, microsoft).status_code == 200
        connection_id = api.get("/api/platform/contexts/user-1/connections/outlook-email"
                                ).json()["connection"]["id"]
        followed = Followed(api, connection_id, receiver, _subscribe(api, receiver),
                            platform.basic_auth)
        before = api.get(followed.events_path).json()
        assert before["enabled"] is False
        turned_on = api.put(followed.events_path, json={})
        assert turned_on.status_code == 200, turned_on.text
        assert turned_on.json()["enabled"] is True and turned_on.json()["folders"] == ["inbox"]
        yield followed, user["id"]


@pytest.fixture
def gmail_box(events_environment: XkitEnvironment, events_server: XkitServer,
              gmail: GmailEmulator) -> Iterator[Followed]:
    """Ada's Gmail connection, connected through the popup, its INBOX followed."""
    gmail.reset()
    gmail.add_account("ada@example.com", name="Ada")
    platform: PlatformCredentials = create_platform(events_environment,
                                                    f"gmail-{secrets.token_hex(3)}")
    app = gmail.register_app(f"{events_server.url}/p/{platform.slug}/callback")
    with WebhookReceiver() as receiver, platform.client(events_server) as api:
        created = api.post("/api/platform/connectors", json={
            "provider": "gmail", "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scopes": ["https://www.googleapis.com/auth/gmail.readonly"]})
        assert created.status_code == 201, created.text
        _, to_provider = new_end_user(events_server, platform, "user-1").start_popup("gmail")
        at_emulator = to_provider.headers["location"].replace("https://accounts.google.com",
                                                              gmail.base_url)
        with gmail.client() as browser:
            consent = browser.get(f"{at_emulator}&login_hint=ada%40example.com")
        assert back_at_xkit(consent.headers["location"], to_provider).status_code == 200
        connection_id = api.get("/api/platform/contexts/user-1/connections/gmail"
                                ).json()["connection"]["id"]
        followed = Followed(api, connection_id, receiver, _subscribe(api, receiver),
                            platform.basic_auth)
        turned_on = api.put(followed.events_path, json={"folders": ["INBOX"]})
        assert turned_on.status_code == 200, turned_on.text
        yield followed


def _follow_row(environment: XkitEnvironment, connection_id: str) -> dict[str, Any]:
    async def _read(runtime: Runtime) -> dict[str, Any]:
        async with runtime.sessions() as session:
            row = await session.get(MailFollow, connection_id)
            assert row is not None
            return {"lease_owner": row.lease_owner, "cursors": row.cursors}
    return environment.with_runtime(_read)


def _worker(environment: XkitEnvironment, log: Path) -> ManagedProcess:
    return start_worker(environment, log, **MAIL_SETTINGS)


def test_outlook_mail_that_arrived_while_no_worker_ran_is_all_announced_once(
        outlook: tuple[Followed, str], microsoft: MicrosoftEmulator,
        events_environment: XkitEnvironment, tmp_path: Path) -> None:
    followed, user = outlook
    for n in range(5):
        microsoft.add_message(user, subject=f"while stopped {n}", body="hello",
                              **{"from": "grace@contoso.test"})
    time.sleep(0.5)
    assert followed.received() == []  # nothing runs to announce them
    worker = _worker(events_environment, tmp_path / "worker.log")
    try:
        followed.wait_for({f"while stopped {n}" for n in range(5)})
        event = followed.received()[0]
        assert event["payload"]["connection"]["id"] == followed.connection_id
        assert event["payload"]["context"]["external_id"] == "user-1"
        message = event["payload"]["message"]
        assert message["from"]["address"] == "grace@contoso.test"
        assert message["id"] and message["thread_id"] and message["folder_ids"]
        assert message["date"] and "text" not in message and "body" not in message

        # steady state: one new message, one event
        microsoft.add_message(user, subject="steady", body="x")
        followed.wait_for({"steady"})
        # the provider forgets the cursor: the resync does not announce anything again
        assert microsoft.expire_delta_tokens() > 0
        microsoft.add_message(user, subject="after the reset", body="x")
        followed.wait_for({"after the reset"})
        time.sleep(1.5)  # a few more polls
        status = followed.api.get(followed.events_path).json()
        assert status["synced_at"] and status["last_error"] is None
    finally:
        worker.stop()
    counted = followed.subjects()
    assert counted and set(counted.values()) == {1}, counted
    assert len(counted) == 7


def test_outlook_a_worker_killed_mid_sync_loses_nothing(
        outlook: tuple[Followed, str], microsoft: MicrosoftEmulator,
        events_environment: XkitEnvironment, tmp_path: Path) -> None:
    followed, user = outlook
    for n in range(8):
        microsoft.add_message(user, subject=f"before the kill {n}", body="x")
    microsoft.configure(graph_latency_seconds=8.0)  # each Graph call takes 8 s
    try:
        first = start_worker(events_environment, tmp_path / "worker-1.log",
                             **MAIL_SETTINGS, XKIT_PROVIDER_TIMEOUT_SECONDS="30")
        deadline = time.monotonic() + 20
        while _follow_row(events_environment, followed.connection_id)["lease_owner"] is None:
            assert time.monotonic() < deadline, "the worker never leased the mailbox"
            time.sleep(0.05)
        time.sleep(0.5)  # it waits on Graph's delta answer
        first.stop(signal.SIGKILL)
        stranded = _follow_row(events_environment, followed.connection_id)
        assert stranded["lease_owner"] is not None and stranded["cursors"] == {}
        assert followed.received() == []
    finally:
        microsoft.configure(graph_latency_seconds=0.0)
    second = _worker(events_environment, tmp_path / "worker-2.log")
    try:  # the dead worker's lease lapses (3 s); the second syncs from the same cursor
        followed.wait_for({f"before the kill {n}" for n in range(8)}, timeout=40)
        time.sleep(1.0)
    finally:
        second.stop()
    assert set(followed.subjects().values()) == {1}


def test_gmail_events_none_lost_none_twice_and_deletions(
        gmail_box: Followed, gmail: GmailEmulator, events_environment: XkitEnvironment,
        tmp_path: Path) -> None:
    followed = gmail_box
    delivered = [gmail.deliver("ada@example.com", subject=f"gmail {n}", text="hi",
                               **{"from": "grace@example.com"}) for n in range(4)]
    worker = _worker(events_environment, tmp_path / "worker.log")
    try:
        followed.wait_for({f"gmail {n}" for n in range(4)})
        event = next(e for e in followed.received()
                     if e["payload"]["message"]["subject"] == "gmail 0")
        message = event["payload"]["message"]
        assert message["id"] == delivered[0]["id"]
        assert message["thread_id"] and "INBOX" in message["folder_ids"]
        assert message["from"]["address"] == "grace@example.com"

        worker.stop()  # mail arriving while no worker runs ...
        gmail.deliver("ada@example.com", subject="while stopped", text="x")
        gmail.forget_history("ada@example.com")  # ... and an expired historyId
        worker = _worker(events_environment, tmp_path / "worker-2.log")
        followed.wait_for({"while stopped"})

        # Gmail's quota: a 429 is waited out, nothing is lost
        gmail.fail_next(status=429, count=2)
        gmail.deliver("ada@example.com", subject="after the quota", text="x")
        followed.wait_for({"after the quota"}, timeout=40)

        gmail.delete("ada@example.com", delivered[1]["id"])
        followed.receiver.wait_until(
            lambda r: any(x.event["event_type"] == "mail.deleted"
                          and x.event["payload"]["message"]["id"] == delivered[1]["id"]
                          for x in r.accepted()), what="mail.deleted")
        time.sleep(1.0)
    finally:
        worker.stop()
    counted = followed.subjects()
    assert set(counted.values()) == {1} and len(counted) == 6, counted


def _events_guide(fence: str) -> str:
    """The code of one kind in docs/mail.md's Events section."""
    guide = (Path(__file__).parent.parent / "docs" / "mail.md").read_text()
    section = guide.split("\n## Events\n", 1)[1]
    return "\n".join(part.split("```", 1)[0] for part in section.split(f"```{fence}\n")[1:])


def test_the_guides_commands_turn_events_on_and_its_receiver_reads_them(
        outlook: tuple[Followed, str], microsoft: MicrosoftEmulator,
        events_environment: XkitEnvironment, events_server: XkitServer,
        tmp_path: Path) -> None:
    followed, user = outlook
    assert followed.api.delete(followed.events_path).status_code == 200
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", _events_guide("bash")],
                         capture_output=True, text=True, timeout=60, env={
                             **os.environ, "XKIT_URL": events_server.url,
                             "XKIT_PUBLISHABLE_KEY": followed.keys[0],
                             "XKIT_SECRET_KEY": followed.keys[1],
                             "CONNECTION": followed.connection_id})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.count('"enabled":true') == 2 and '"folders":["inbox"]' in ran.stdout
    namespace: dict[str, Any] = {}
    exec(compile(_events_guide("python"), "docs/mail.md", "exec"), namespace)
    microsoft.add_message(user, subject="from the guide", body="x")
    worker = _worker(events_environment, tmp_path / "worker.log")
    try:
        followed.wait_for({"from the guide"})
    finally:
        worker.stop()
    delivery = followed.receiver.accepted()[0]
    seen = namespace["on_mail_event"](delivery.body, delivery.headers, followed.secret)
    assert seen["subject"] == "from the guide" and seen["id"]


def test_mail_events_are_refused_for_a_connection_without_a_mailbox_and_turn_off(
        outlook: tuple[Followed, str]) -> None:
    followed, _ = outlook
    too_many = followed.api.put(followed.events_path, json={"folders": ["x"] * 11})
    assert too_many.status_code == 422
    off = followed.api.delete(followed.events_path)
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert followed.api.get(followed.events_path).json()["enabled"] is False
    with Xkit(str(followed.api.base_url).rstrip("/"), *followed.keys) as xkit:
        on = xkit.enable_mail_events(followed.connection_id, folders=["inbox", "archive"])
        assert on.enabled and on.folders == ["inbox", "archive"]
        assert xkit.get_mail_events(followed.connection_id).folders == ["inbox", "archive"]
        assert xkit.disable_mail_events(followed.connection_id).enabled is False
    missing = followed.api.put("/api/platform/connections/nope/mail/events", json={})
    assert missing.status_code == 404
