"""What the Gmail emulator remembers: apps, accounts, their mailboxes and history, and tokens.

A message is kept as its RFC 822 bytes, with the labels and thread Gmail files it under; every
change to a mailbox (a message added or deleted, labels added or removed) takes the account's
next history id and is recorded as Gmail's ``history`` resource shows it, so
``users.history.list`` can return what changed after a given id. History older than
``oldest_history_id`` is forgotten (Gmail keeps it "at least a week", then answers 404).
"""

from __future__ import annotations

import email
import email.policy
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

SYSTEM_LABELS = ("INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT",
                 "CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS",
                 "CATEGORY_UPDATES", "CATEGORY_FORUMS")


def new_id() -> str:
    """Gmail's message and thread ids are 16 hex digits."""
    return secrets.token_hex(8)


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class Label:
    id: str
    name: str
    type: str = "user"  # or "system"

    def resource(self) -> dict[str, Any]:
        resource: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.type == "user":
            resource.update(messageListVisibility="show", labelListVisibility="labelShow")
        return resource


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    raw: bytes
    label_ids: list[str]
    internal_date: int  # milliseconds since the epoch
    history_id: int

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "threadId": self.thread_id, "labelIds": list(self.label_ids)}


@dataclass
class Account:
    email: str
    sub: str
    name: str
    auto_consent: bool = True
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    history_id: int = 1000
    oldest_history_id: int = 1000

    def __post_init__(self) -> None:
        if not self.labels:
            for name in SYSTEM_LABELS:
                self.labels[name] = Label(name, name, "system")

    def _record(self, kind: str, message: StoredMessage,
                label_ids: list[str] | None = None) -> None:
        self.history_id += 1
        message.history_id = self.history_id
        change: dict[str, Any] = {"message": message.summary()}
        if label_ids is not None:
            change["labelIds"] = label_ids
        self.history.append({"id": str(self.history_id), "messages": [message.summary()],
                             kind: [change]})

    def add(self, raw: bytes, label_ids: list[str], thread_id: str | None = None,
            internal_date: int | None = None) -> StoredMessage:
        if internal_date is None:
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            try:
                internal_date = int(parsedate_to_datetime(str(parsed["Date"])).timestamp() * 1000)
            except (TypeError, ValueError):
                internal_date = int(time.time() * 1000)
        message = StoredMessage(new_id(), thread_id or new_id(), raw, list(label_ids),
                                internal_date, self.history_id)
        self.messages[message.id] = message
        self._record("messagesAdded", message)
        return message

    def relabel(self, message: StoredMessage, add: list[str], remove: list[str]) -> None:
        added = [label for label in add if label not in message.label_ids]
        removed = [label for label in remove if label in message.label_ids]
        message.label_ids = [label for label in message.label_ids if label not in removed]
        message.label_ids += added
        if added:
            self._record("labelsAdded", message, added)
        if removed:
            self._record("labelsRemoved", message, removed)

    def delete(self, message: StoredMessage) -> None:
        del self.messages[message.id]
        self._record("messagesDeleted", message)

    def forget_history(self) -> None:
        """What Gmail does to history after a while: older start ids answer 404."""
        self.oldest_history_id = self.history_id
        self.history.clear()

    def thread_of(self, thread_id: str, subject: str) -> str | None:
        """Gmail puts a sent message in ``threadId`` only if its subject matches the thread's
        ("Sending" guide: the threadId, the References/In-Reply-To headers and the Subject)."""
        plain = _bare_subject(subject)
        for message in self.messages.values():
            if message.thread_id == thread_id and _bare_subject(
                    str(message.parsed()["Subject"] or "")) == plain:
                return thread_id
        return None


def _bare_subject(subject: str) -> str:
    return re.sub(r"^\s*((re|fwd?):\s*)+", "", subject, flags=re.IGNORECASE).strip().lower()


@dataclass
class Grant:
    email: str
    client_id: str
    scopes: list[str]


@dataclass
class GmailState:
    apps: dict[str, App] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, tuple[Grant, float]] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    # Gmail's per-user limit: quota units spent per user in the current minute
    quota_limit_per_minute: int = 15_000
    quota_window_seconds: int = 60  # a test may widen it, so a window can't roll over mid-test
    quota_spent: Counter[tuple[str, int]] = field(default_factory=Counter)
    faults: list[dict[str, Any]] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        fresh = GmailState()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def account(self, address: str) -> Account | None:
        return self.accounts.get(address.lower())

    def spend(self, address: str, units: int) -> bool:
        """Charge ``units`` to the user's minute; False once the minute's quota is spent."""
        minute = int(time.time() // self.quota_window_seconds)
        key = (address, minute)
        if self.quota_spent[key] + units > self.quota_limit_per_minute:
            return False
        self.quota_spent[key] += units
        return True

    def take_fault(self) -> dict[str, Any] | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        fault["count"] -= 1
        if fault["count"] <= 0:
            self.faults.pop(0)
        return fault
