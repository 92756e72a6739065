"""Typed records for what the Platform API answers, in the shapes of xkit's ``/openapi.json``.

Times are timezone-aware ``datetime`` objects (xkit writes UTC, as ``Z`` or ``+00:00``: both
parse). A record that holds a secret — an access token, credentials, a signing secret, a
context token — keeps it out of ``repr()``, so a logged or printed record never shows it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

ConnectionStatus = Literal["connected", "error", "pending", "disabled", "not_authorized"]
AuthorizationStatus = Literal["awaiting_callback", "retrieving_tokens", "active", "error"]
DeliveryStatus = Literal["pending", "delivered", "failed"]


def parse_time(value: Any) -> dt.datetime:
    """An ISO 8601 time from xkit as an aware ``datetime`` (``Z`` read as UTC)."""
    text = str(value)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _optional_time(value: Any) -> dt.datetime | None:
    return None if value is None else parse_time(value)


@dataclass(frozen=True, kw_only=True)
class Context:
    """A context (a user, a team, a company: whatever shares connections)."""

    id: str
    external_id: str
    external_name: str | None
    attributes: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Context:
        return cls(**_context_fields(body))


def _context_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": body["id"],
        "external_id": body["external_id"],
        "external_name": body.get("external_name"),
        "attributes": dict(body.get("attributes") or {}),
        "created_at": parse_time(body["created_at"]),
        "updated_at": parse_time(body["updated_at"]),
    }


@dataclass(frozen=True, kw_only=True)
class ContextWithToken(Context):
    """A context just created or updated, with a short-lived context token for ``xkit.js``."""

    token: str = field(repr=False)
    token_expires_at: dt.datetime

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> ContextWithToken:
        return cls(**_context_fields(body["context"]), token=body["access_token"],
                   token_expires_at=parse_time(body["expires_at"]))


@dataclass(frozen=True, kw_only=True)
class Authorization:
    """Where a connection's grant stands; never a credential."""

    id: str
    status: AuthorizationStatus
    error_code: str | None
    error_message: str | None
    display_label: str | None
    granted_scopes: list[str]
    #: Codes of what a working grant is short of (``no_refresh_token``); empty when nothing.
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Authorization:
        return cls(id=body["id"], status=body["status"], error_code=body.get("error_code"),
                   error_message=body.get("error_message"),
                   display_label=body.get("display_label"),
                   granted_scopes=list(body.get("granted_scopes") or []),
                   warnings=[str(w.get("code")) for w in body.get("warnings") or []
                             if isinstance(w, dict)])


@dataclass(frozen=True, kw_only=True)
class Connection:
    """A connection as a list shows it: no token. ``connector`` is the connector's slug and
    ``context`` the context's ``external_id``; ``authorization`` is null before a first connect."""

    id: str
    connector: str
    connector_name: str
    provider: str
    context: str
    enabled: bool
    status: ConnectionStatus
    created_at: dt.datetime
    authorization: Authorization | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Connection:
        return cls(**_connection_fields(body))

    @property
    def account_label(self) -> str | None:
        """The account as people know it (an e-mail address), once connected."""
        return self.authorization.display_label if self.authorization else None


def _connection_fields(body: dict[str, Any]) -> dict[str, Any]:
    connection, connector = body["connection"], body["connector"]
    authorization = connection.get("authorization")
    return {
        "id": connection["id"],
        "connector": connector["slug"],
        "connector_name": connector.get("name", connector["slug"]),
        "provider": connector.get("provider", ""),
        "context": body["context"]["external_id"],
        "enabled": bool(connection.get("enabled")),
        "status": connection["status"],
        "created_at": parse_time(connection["created_at"]),
        "authorization": Authorization.from_api(authorization) if authorization else None,
    }


@dataclass(frozen=True, kw_only=True)
class ConnectionWithToken(Connection):
    """A connection with what to call the provider with: the token answer made flat.

    ``access_token`` is valid for at least the server's margin (5 minutes by default); it and
    ``expires_at`` are None for API-key and password connectors, whose ``credentials`` hold
    what the user entered. ``subject`` is set only for a token acting as someone (service
    accounts). Tokens, credentials and ``extras`` (which can hold a second token) are kept out
    of ``repr()``."""

    access_token: str | None = field(repr=False)
    token_type: str
    expires_at: dt.datetime | None
    granted_scopes: list[str]
    account_id: str | None
    extras: dict[str, Any] = field(repr=False)
    credentials: dict[str, str] = field(repr=False)
    subject: str | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> ConnectionWithToken:
        grant = body["authorization"]
        return cls(
            **_connection_fields(body),
            access_token=grant.get("access_token"),
            token_type=grant.get("token_type") or "Bearer",
            expires_at=_optional_time(grant.get("expires_at")),
            granted_scopes=list(grant.get("granted_scopes") or []),
            account_id=grant.get("provider_account_id"),
            extras=dict(grant.get("extras") or {}),
            credentials=dict(grant.get("credentials") or {}),
            subject=grant.get("subject"),
        )


@dataclass(frozen=True, kw_only=True)
class Revocation:
    """Whether the provider was asked to revoke the grant, and how that went."""

    attempted: bool
    succeeded: bool | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class ConnectionDeleted:
    deleted: bool
    revocation: Revocation

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> ConnectionDeleted:
        revocation = body.get("revocation") or {}
        return cls(deleted=bool(body.get("deleted")),
                   revocation=Revocation(attempted=bool(revocation.get("attempted")),
                                         succeeded=revocation.get("succeeded"),
                                         error=revocation.get("error")))


@dataclass(frozen=True, kw_only=True)
class ConnectorProblem:
    code: str
    message: str


@dataclass(frozen=True, kw_only=True)
class Connector:
    """A connector: a platform's configured use of a provider template. The client secret is
    never returned, only whether one is set."""

    id: str
    slug: str
    provider: str
    auth_type: str | None
    name: str
    short_description: str
    description: str
    logo_url: str | None
    client_id: str | None
    client_secret_set: bool
    client_secret_set_at: dt.datetime | None
    scopes: list[str]
    required_scopes: list[str]
    effective_scopes: list[str]
    settings: dict[str, str]
    enabled: bool
    multiple_connections: bool
    ready: bool
    problem: ConnectorProblem | None
    callback_url: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Connector:
        problem = body.get("problem")
        return cls(
            id=body["id"], slug=body["slug"], provider=body["provider"],
            auth_type=body.get("auth_type"), name=body["name"],
            short_description=body.get("short_description") or "",
            description=body.get("description") or "", logo_url=body.get("logo_url"),
            client_id=body.get("client_id"),
            client_secret_set=bool(body.get("client_secret_set")),
            client_secret_set_at=_optional_time(body.get("client_secret_set_at")),
            scopes=list(body.get("scopes") or []),
            required_scopes=list(body.get("required_scopes") or []),
            effective_scopes=list(body.get("effective_scopes") or []),
            settings=dict(body.get("settings") or {}), enabled=bool(body.get("enabled")),
            multiple_connections=bool(body.get("multiple_connections")),
            ready=bool(body.get("ready")),
            problem=ConnectorProblem(code=problem["code"], message=problem["message"])
            if problem else None,
            callback_url=body.get("callback_url", ""),
            created_at=parse_time(body["created_at"]), updated_at=parse_time(body["updated_at"]),
        )


@dataclass(frozen=True, kw_only=True)
class DeliveryCounts:
    pending: int
    delivered: int
    failed: int


@dataclass(frozen=True, kw_only=True)
class Webhook:
    """A webhook subscription. ``events`` empty means every event type; ``paused`` is set after
    a delivery kept failing (resume it with ``resume_webhook``)."""

    id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    paused: bool
    paused_at: dt.datetime | None
    paused_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    deliveries: DeliveryCounts | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Webhook:
        return cls(**_webhook_fields(body))


def _webhook_fields(body: dict[str, Any]) -> dict[str, Any]:
    counts = body.get("deliveries")
    return {
        "id": body["id"], "url": body["url"], "description": body.get("description") or "",
        "events": list(body.get("events") or []), "enabled": bool(body.get("enabled")),
        "paused": bool(body.get("paused")), "paused_at": _optional_time(body.get("paused_at")),
        "paused_reason": body.get("paused_reason"),
        "created_at": parse_time(body["created_at"]), "updated_at": parse_time(body["updated_at"]),
        "deliveries": DeliveryCounts(pending=int(counts["pending"]),
                                     delivered=int(counts["delivered"]),
                                     failed=int(counts["failed"])) if counts else None,
    }


@dataclass(frozen=True, kw_only=True)
class WebhookSecret:
    """A subscription's signing secret, in both forms: ``signing_secret`` for
    ``Xkit-Signature`` and ``standard_webhooks_secret`` for the ``standardwebhooks``
    libraries. Shown by xkit once: store it now."""

    signing_secret: str = field(repr=False)
    standard_webhooks_secret: str = field(repr=False)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> WebhookSecret:
        return cls(signing_secret=body["signing_secret"],
                   standard_webhooks_secret=body["standard_webhooks_secret"])


@dataclass(frozen=True, kw_only=True)
class CreatedWebhook(Webhook):
    """A subscription just created: the only answer that carries its secrets."""

    signing_secret: str = field(repr=False)
    standard_webhooks_secret: str = field(repr=False)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> CreatedWebhook:
        return cls(**_webhook_fields(body), signing_secret=body["signing_secret"],
                   standard_webhooks_secret=body["standard_webhooks_secret"])


@dataclass(frozen=True, kw_only=True)
class WebhookResumed:
    webhook: Webhook
    deliveries_queued: int


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One event's delivery to one subscription, across its attempts."""

    id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    in_flight: bool
    attempts: int
    next_attempt_at: dt.datetime | None
    last_response_code: int | None
    last_error: str | None
    last_duration_ms: int | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Delivery:
        return cls(
            id=body["id"], event_id=body["event_id"], event_type=body["event_type"],
            status=body["status"], in_flight=bool(body.get("in_flight")),
            attempts=int(body.get("attempts") or 0),
            next_attempt_at=_optional_time(body.get("next_attempt_at")),
            last_response_code=body.get("last_response_code"),
            last_error=body.get("last_error"), last_duration_ms=body.get("last_duration_ms"),
            delivered_at=_optional_time(body.get("delivered_at")),
            created_at=parse_time(body["created_at"]),
        )


@dataclass(frozen=True, kw_only=True)
class EventError:
    code: str
    message: str


@dataclass(frozen=True, kw_only=True)
class WebhookEvent:
    """A verified webhook event (see ``construct_event``). For the ``connection.*`` events
    ``connector``, ``context``, ``connection_id`` and ``connection_status`` (``connected``,
    ``error`` or ``removed``) are set, and ``error`` for ``connection.error``; ``payload`` is
    the event's payload as sent."""

    id: str
    event_type: str
    created_at: dt.datetime
    payload: dict[str, Any]
    connector: str | None
    context: str | None
    connection_id: str | None
    connection_status: str | None
    error: EventError | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> WebhookEvent:
        payload = body.get("payload") or {}
        error = payload.get("error")
        return cls(
            id=body["id"], event_type=body["event_type"],
            created_at=parse_time(body["created_at"]), payload=payload,
            connector=(payload.get("connector") or {}).get("slug"),
            context=(payload.get("context") or {}).get("external_id"),
            connection_id=(payload.get("connection") or {}).get("id"),
            connection_status=(payload.get("connection") or {}).get("status"),
            error=EventError(code=str(error.get("code", "")), message=str(error.get("message", "")))
            if isinstance(error, dict) else None,
        )


@dataclass(frozen=True, kw_only=True)
class ConnectionPage:
    """One page of a platform's connections; ``next_cursor`` asks for the next (None: last)."""

    connections: list[Connection]
    next_cursor: str | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> ConnectionPage:
        return cls(connections=[Connection.from_api(c) for c in body["connections"]],
                   next_cursor=body.get("next_cursor"))


@dataclass(frozen=True, kw_only=True)
class ContextPage:
    """One page of a platform's contexts; ``next_cursor`` asks for the next (None: last)."""

    contexts: list[Context]
    next_cursor: str | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> ContextPage:
        return cls(contexts=[Context.from_api(c) for c in body["contexts"]],
                   next_cursor=body.get("next_cursor"))


# --- mail (docs/mail.md) ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MailAddress:
    address: str
    name: str | None = None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> MailAddress:
        return cls(address=body["address"], name=body.get("name"))

    def to_api(self) -> dict[str, Any]:
        return {"address": self.address, **({"name": self.name} if self.name else {})}


@dataclass(frozen=True, kw_only=True)
class MailAttachment:
    """An attachment's description; its bytes come from ``get_mail_attachment``."""

    id: str
    filename: str
    content_type: str
    size: int | None
    inline: bool


@dataclass(frozen=True, kw_only=True)
class MailMessage:
    """One message in the shape xkit gives both Outlook and Gmail; ``text``/``html`` and
    ``attachments`` are filled when read one by one, not in lists. ``provider`` keeps what
    only that provider has."""

    id: str
    thread_id: str | None
    internet_message_id: str | None
    folder_ids: list[str]
    subject: str
    sender: MailAddress | None
    to: list[MailAddress]
    cc: list[MailAddress]
    bcc: list[MailAddress]
    reply_to: list[MailAddress]
    date: dt.datetime | None
    read: bool
    starred: bool
    snippet: str
    text: str | None
    html: str | None
    attachments: list[MailAttachment]
    provider: dict[str, Any]

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> MailMessage:
        def people(name: str) -> list[MailAddress]:
            return [MailAddress.from_api(a) for a in body.get(name) or []]
        return cls(
            id=body["id"], thread_id=body.get("thread_id"),
            internet_message_id=body.get("internet_message_id"),
            folder_ids=list(body.get("folder_ids") or []), subject=body.get("subject") or "",
            sender=MailAddress.from_api(body["from"]) if body.get("from") else None,
            to=people("to"), cc=people("cc"), bcc=people("bcc"), reply_to=people("reply_to"),
            date=_optional_time(body.get("date")), read=bool(body["read"]),
            starred=bool(body.get("starred")), snippet=body.get("snippet") or "",
            text=body.get("text"), html=body.get("html"),
            attachments=[MailAttachment(id=a["id"], filename=a["filename"],
                                        content_type=a["content_type"], size=a.get("size"),
                                        inline=bool(a.get("inline")))
                         for a in body.get("attachments") or []],
            provider=dict(body.get("provider") or {}))


@dataclass(frozen=True, kw_only=True)
class MailPage:
    """One page of a mailbox, newest first; ``next_cursor`` asks for the next (None: last)."""

    messages: list[MailMessage]
    next_cursor: str | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> MailPage:
        return cls(messages=[MailMessage.from_api(m) for m in body["messages"]],
                   next_cursor=body.get("next_cursor"))


@dataclass(frozen=True, kw_only=True)
class MailFolder:
    """An Outlook folder or a Gmail label; ``role`` says inbox, sent, drafts, trash … ."""

    id: str
    name: str
    kind: Literal["system", "user"]
    role: str | None
    total: int | None
    unread: int | None

    @classmethod
    def list_from_api(cls, body: dict[str, Any]) -> list[MailFolder]:
        return [cls(id=f["id"], name=f["name"], kind=f["kind"], role=f.get("role"),
                    total=f.get("total"), unread=f.get("unread")) for f in body["folders"]]


@dataclass(frozen=True, kw_only=True)
class MailEvents:
    """Whether a connection's mailbox is followed for ``mail.received``/``mail.deleted``
    events, which folders (labels), and how its last sync went."""

    enabled: bool
    folders: list[str]
    synced_at: dt.datetime | None
    next_poll_at: dt.datetime | None
    last_error: str | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> MailEvents:
        return cls(enabled=bool(body["enabled"]), folders=list(body.get("folders") or []),
                   synced_at=_optional_time(body.get("synced_at")),
                   next_poll_at=_optional_time(body.get("next_poll_at")),
                   last_error=body.get("last_error"))


@dataclass(frozen=True, kw_only=True)
class SentMail:
    """``id`` is None where the provider does not say (Outlook's sendMail)."""

    id: str | None
    thread_id: str | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> SentMail:
        return cls(id=body.get("id"), thread_id=body.get("thread_id"))
