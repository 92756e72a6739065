"""What the emulator remembers, in memory: registered credentials, issued tokens, a request
log with secrets redacted. One event loop, no awaits inside a change: no locks needed."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

REDACTED = "[redacted]"
SECRET_QUERY_KEYS = frozenset({"key", "token", "assertion"})


@dataclass
class TrelloMember:
    id: str
    username: str
    full_name: str
    api_key: str
    api_token: str
    boards: list[dict[str, Any]] = field(default_factory=list)

    def profile(self) -> dict[str, Any]:
        """The fields of Trello's member object the tests rely on."""
        return {"id": self.id, "username": self.username, "fullName": self.full_name,
                "url": f"https://trello.com/{self.username}"}


@dataclass
class StripeAccount:
    id: str
    email: str
    display_name: str
    secret_key: str
    customers: list[dict[str, Any]] = field(default_factory=list)

    def account(self) -> dict[str, Any]:
        """The account object's fields that xkit's template reads, as Stripe nests them."""
        return {"id": self.id, "object": "account", "email": self.email,
                "business_profile": {"name": self.display_name},
                "settings": {"dashboard": {"display_name": self.display_name}}}


@dataclass
class ServiceAccount:
    client_email: str
    client_id: str
    public_keys: dict[str, str]  # private_key_id -> PEM public key


@dataclass
class Delegation:
    """A Workspace admin's "domain-wide delegation" entry: this client id, these scopes."""

    domain: str
    client_id: str
    scopes: set[str]


@dataclass
class GoogleToken:
    value: str
    client_email: str
    subject: str | None
    scopes: set[str]
    expires_at: float


@dataclass
class ServicesState:
    trello: dict[str, TrelloMember] = field(default_factory=dict)
    stripe: dict[str, StripeAccount] = field(default_factory=dict)
    service_accounts: dict[str, ServiceAccount] = field(default_factory=dict)
    delegations: list[Delegation] = field(default_factory=list)
    workspace_users: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    google_tokens: dict[str, GoogleToken] = field(default_factory=dict)
    request_log: list[dict[str, Any]] = field(default_factory=list)
    clock_offset: float = 0.0

    def reset(self) -> None:
        fresh = ServicesState()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def now(self) -> float:
        return time.time() + self.clock_offset

    def log(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
            status: int) -> None:
        self.request_log.append({
            "method": method, "path": path, "status": status,
            "query": {k: REDACTED if k in SECRET_QUERY_KEYS else v for k, v in query.items()},
            "auth_scheme": headers.get("authorization", "").split(" ", 1)[0] or None,
        })
        del self.request_log[:-5000]


def new_token() -> str:
    return secrets.token_urlsafe(32)
