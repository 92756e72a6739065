"""The domain model of DESIGN.md as SQLAlchemy 2 tables.

Every row that belongs to a platform carries ``platform_id``, so every query can be scoped by
platform. Columns holding secrets are ``Text`` ciphertexts from :mod:`xkit.crypto` (listed in
:data:`ENCRYPTED_COLUMNS`) or hashes; plaintext secrets never reach the database.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from xkit.db.types import UTCDateTime, new_id, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}

    if TYPE_CHECKING:
        # Every model maps one plain table (DeclarativeBase allows any FromClause), so code
        # that writes a table directly (the use ledger, the token fetch's query) gets a Table.
        __table__: ClassVar[Table]


def _id() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


def _created() -> Mapped[dt.datetime]:
    return mapped_column(default=utcnow)


def _updated() -> Mapped[dt.datetime]:
    return mapped_column(default=utcnow, onupdate=utcnow)


def _platform_fk() -> Mapped[str]:
    return mapped_column(String(36), ForeignKey("platforms.id", ondelete="CASCADE"), index=True)


class Platform(Base):
    """One developer's product; platforms on one deployment are fully isolated."""

    __tablename__ = "platforms"
    id: Mapped[str] = _id()
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    allowed_origins: Mapped[list[str]] = mapped_column(default=list)
    login_redirect_url: Mapped[str | None] = mapped_column(String(2048))
    branding: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()


class AdminUser(Base):
    __tablename__ = "admin_users"
    id: Mapped[str] = _id()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_superuser: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = _created()
    last_login_at: Mapped[dt.datetime | None]


class PlatformAdmin(Base):
    """Which admins may manage which platforms."""

    __tablename__ = "platform_admins"
    platform_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("platforms.id", ondelete="CASCADE"), primary_key=True
    )
    admin_user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("admin_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20), default="owner")
    created_at: Mapped[dt.datetime] = _created()


class AdminSession(Base):
    """A dashboard login; the cookie holds a random token, the table only its hash."""

    __tablename__ = "admin_sessions"
    id: Mapped[str] = _id()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    admin_user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("admin_users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    current_platform_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = _created()
    last_seen_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime]


class OneTimeToken(Base):
    """Single-use, short-lived tokens (admin setup link, the popup's token), stored hashed."""

    __tablename__ = "one_time_tokens"
    id: Mapped[str] = _id()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(40))
    platform_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("platforms.id", ondelete="CASCADE"), index=True
    )
    subject_id: Mapped[str | None] = mapped_column(String(36))
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = _created()


class ApiKey(Base):
    """A publishable + secret pair. Only a SHA-256 of the secret is kept (it is 256 random bits)."""

    __tablename__ = "api_keys"
    id: Mapped[str] = _id()
    platform_id: Mapped[str] = _platform_fk()
    label: Mapped[str] = mapped_column(String(200), default="")
    publishable_key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = _created()
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class Connector(Base):
    """A platform's configured use of a provider template."""

    __tablename__ = "connectors"
    __table_args__ = (UniqueConstraint("platform_id", "slug"),)
    id: Mapped[str] = _id()
    platform_id: Mapped[str] = _platform_fk()
    slug: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    short_description: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    logo_url: Mapped[str | None] = mapped_column(String(2048))
    client_id: Mapped[str | None] = mapped_column(String(500))
    client_secret: Mapped[str | None] = mapped_column(Text)
    client_secret_set_at: Mapped[dt.datetime | None]
    scopes: Mapped[list[str]] = mapped_column(default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    multiple_connections: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()


class Context(Base):
    """Whatever shares connections in the developer's product: a user, a team, a company."""

    __tablename__ = "contexts"
    __table_args__ = (UniqueConstraint("platform_id", "external_id"),)
    id: Mapped[str] = _id()
    platform_id: Mapped[str] = _platform_fk()
    external_id: Mapped[str] = mapped_column(String(255))
    external_name: Mapped[str | None] = mapped_column(String(255))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()


class Connection(Base):
    __tablename__ = "connections"
    id: Mapped[str] = _id()
    platform_id: Mapped[str] = _platform_fk()
    context_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("contexts.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("connectors.id", ondelete="CASCADE"), index=True
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()


class Authorization(Base):
    """The credential behind a connection and where its OAuth dance stands."""

    __tablename__ = "authorizations"
    __table_args__ = (
        Index("ix_authorizations_status_expires", "status", "expires_at"),
        # the worker's keep-alive scan: active grants idle since a date
        Index("ix_authorizations_status_refreshed", "status", "last_refreshed_at"),
    )
    id: Mapped[str] = _id()
    platform_id: Mapped[str] = _platform_fk()
    connection_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(32), default="awaiting_callback")
    error_code: Mapped[str | None] = mapped_column(String(200))
    error_message: Mapped[str | None] = mapped_column(Text)
    display_label: Mapped[str | None] = mapped_column(String(500))
    provider_account_id: Mapped[str | None] = mapped_column(String(500))
    granted_scopes: Mapped[list[str]] = mapped_column(default=list)
    state_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    state_expires_at: Mapped[dt.datetime | None]
    # The hash of the value in the cookie of the browser sent to the provider: only that
    # browser's callback completes (see services/connect/browser_binding.py).
    browser_binding_hash: Mapped[str | None] = mapped_column(String(64))
    requested_scopes: Mapped[list[str]] = mapped_column(default=list)
    opener_origin: Mapped[str | None] = mapped_column(String(2048))
    return_url: Mapped[str | None] = mapped_column(String(2048))
    pkce_verifier: Mapped[str | None] = mapped_column(Text)
    collected: Mapped[str | None] = mapped_column(Text)
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    token_type: Mapped[str | None] = mapped_column(String(40))
    expires_at: Mapped[dt.datetime | None]
    extras: Mapped[dict[str, Any]] = mapped_column(default=dict)
    refresh_lease_owner: Mapped[str | None] = mapped_column(String(64))
    refresh_lease_until: Mapped[dt.datetime | None]
    # Set when a refresh request goes out, cleared when the provider's answer is committed:
    # still set afterwards means a process died (or timed out) inside the round trip.
    refresh_sent_at: Mapped[dt.datetime | None]
    last_refreshed_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()


class WebhookSubscription(Base):
    """Where a platform wants to hear about events. ``events`` empty means every event; a
    subscription that kept failing is paused (``paused_at``) until someone resumes it."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[str] = _id()
    platform_id: Mapped[str] = _platform_fk()
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[str]] = mapped_column(default=list)
    signing_secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    paused_at: Mapped[dt.datetime | None]
    paused_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()


class JwtIssuer(Base):
    """An issuer of the platform's own user JWTs (its login system: Auth0, Cognito, its own
    OpenID provider...). xkit.js may sign in with such a JWT instead of a context token: xkit
    checks it against the issuer's published keys (``jwks_url``) and maps the ``user_id_claim``
    to a context. ``algorithms`` pins what the signature may use (asymmetric ones only)."""

    __tablename__ = "jwt_issuers"
    __table_args__ = (UniqueConstraint("platform_id", "issuer"),)
    id: Mapped[str] = _id()
    platform_id: Mapped[str] = _platform_fk()
    issuer: Mapped[str] = mapped_column(String(2048))
    audience: Mapped[str] = mapped_column(String(2048))
    jwks_url: Mapped[str] = mapped_column(String(2048))
    user_id_claim: Mapped[str] = mapped_column(String(100), default="sub")
    name_claim: Mapped[str | None] = mapped_column(String(100))
    algorithms: Mapped[list[str]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _updated()


class WebhookEvent(Base):
    """The outbox: written in the same transaction as the change it reports."""

    __tablename__ = "webhook_events"
    id: Mapped[str] = _id()
    platform_id: Mapped[str] = _platform_fk()
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class WebhookDelivery(Base):
    """One event to one subscription; the worker leases rows to deliver them.

    One row per (event, subscription), so a lease on the row is a lease on "this event to this
    receiver": two workers can never send it at the same time. ``attempts`` counts every try;
    ``failures_in_a_row`` only those since the last success, redelivery or resume, and drives
    the backoff and the decision to give up.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_log", "subscription_id", "created_at"),
        UniqueConstraint("event_id", "subscription_id"),
    )
    id: Mapped[str] = _id()
    platform_id: Mapped[str] = _platform_fk()
    # indexed by the unique constraint and the log index, which lead with them
    event_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhook_events.id", ondelete="CASCADE")
    )
    subscription_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = _created()
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]
    last_response_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_duration_ms: Mapped[int | None]
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = _created()


class AuditEvent(Base):
    """Who did what and when; details never hold a secret."""

    __tablename__ = "audit_events"
    id: Mapped[str] = _id()
    platform_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("platforms.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class KeyringCanary(Base):
    """One known value per encryption key that ever wrote data, so start-up can tell a missing
    or wrong key from a healthy one before any request fails."""

    __tablename__ = "keyring_canaries"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()


class SandboxSwitch(Base):
    """The sandbox provider's fault switches for one sandbox account (``XKIT_SANDBOX`` only).

    The sandbox's codes and tokens are signed and stateless, but "fail the next 3 calls" is a
    counter that every replica must count down together, and "revoke" must be seen by every
    replica at once: so the switches are a row, changed by conditional UPDATEs."""

    __tablename__ = "sandbox_switches"
    account_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Grants approved at or before this moment are refused (tokens carry their grant's time).
    revoked_before: Mapped[dt.datetime | None] = mapped_column(default=None)
    fail_remaining: Mapped[int] = mapped_column(Integer, default=0)
    fail_status: Mapped[int] = mapped_column(Integer, default=503)
    retry_after_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    delay_ms: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = _updated()


# (model, column) pairs holding keyring ciphertexts; rotation walks exactly these.
ENCRYPTED_COLUMNS: tuple[tuple[type[Base], str], ...] = (
    (Connector, "client_secret"),
    (Authorization, "pkce_verifier"),
    (Authorization, "collected"),
    (Authorization, "access_token"),
    (Authorization, "refresh_token"),
    (WebhookSubscription, "signing_secret"),
)

#: The key of ``authorizations.extras`` holding the secret extras (one keyring ciphertext of
#: a JSON object, bound to the row like a column).
SECRET_EXTRAS_KEY = "_encrypted"

# (model, JSON column, key) holding a keyring ciphertext inside a JSON object; rotation walks
# these too.
ENCRYPTED_JSON_KEYS: tuple[tuple[type[Base], str, str], ...] = (
    (Authorization, "extras", SECRET_EXTRAS_KEY),
)


class MailFollow(Base):
    """One mailbox whose new mail becomes webhook events (``mail.received`` …).

    ``cursors`` holds the provider's change cursor per followed folder (Graph's deltaLink per
    folder, Gmail's last historyId under ``"history_id"``); it is written in the same
    transaction as the events it led to, so a worker that dies mid-sync loses nothing. The
    worker takes the row with a lease, like a webhook delivery: one sync per mailbox at a time
    (Graph allows 4 concurrent requests per mailbox), and a lease that lapses if it dies.
    ``next_poll_at`` is when to look again: pushed back while the mailbox is idle or throttled,
    set to now by anything that wants it looked at sooner (a push notification, later)."""

    __tablename__ = "mail_follows"
    __table_args__ = (Index("ix_mail_follows_due", "next_poll_at"),)
    connection_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    platform_id: Mapped[str] = _platform_fk()
    folders: Mapped[list[str]] = mapped_column(default=list)
    cursors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_poll_at: Mapped[dt.datetime] = _created()
    idle_polls: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]
    synced_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()


class MailAnnounced(Base):
    """Messages already announced as ``mail.received``, per mailbox: what keeps a cursor
    reset (a resync from a time window) from announcing them again. Pruned by age
    (``XKIT_MAIL_ANNOUNCED_DAYS``), which is the documented bound on duplicates."""

    __tablename__ = "mail_announced"
    __table_args__ = (Index("ix_mail_announced_age", "announced_at"),)
    connection_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    announced_at: Mapped[dt.datetime] = _created()
