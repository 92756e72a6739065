"""All of xkit's configuration, read from ``XKIT_*`` environment variables.

One object, built once at start-up and passed down: nothing else in the code base reads the
environment, so a test can run several differently configured servers in one process.
"""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from xkit.connect_to import ConnectTo
from xkit.outbound import OutboundPolicy


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "xkit"


class Settings(BaseSettings):
    """Configuration; each field is the environment variable ``XKIT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="XKIT_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    encryption_keys: SecretStr | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    context_token_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # ":"-separated in the environment, so no JSON decoding (NoDecode) before the validator.
    providers_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    migrate_on_start: bool | None = None
    ca_bundle: Path | None = None
    provider_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    # "pattern=address:port,..." (see xkit.connect_to): reach provider hosts elsewhere.
    provider_connect_to: str = ""
    # Outbound address policy (xkit.outbound): private networks for provider calls, the
    # proxy, webhooks; each off unless the operator allows it.
    provider_allow_private_networks: bool = False
    token_min_validity_seconds: int = Field(default=300, ge=0, le=3600)
    # ...but never more than this share of the token's own lifetime: a 30-second token is
    # reused for its first 15 seconds instead of refreshed on every fetch. 1 = no cap.
    token_min_validity_share: float = Field(default=0.5, gt=0, le=1)
    proxy_allow_private_networks: bool = False
    sandbox: bool = False
    proxy_max_body_bytes: int = Field(default=26_214_400, ge=1024)
    admin_session_hours: float = Field(default=12, gt=0, le=24 * 30)
    admin_session_idle_minutes: float = Field(default=120, gt=0, le=24 * 60 * 30)
    # Processes of `xkit serve` sharing its port (docs/operations.md#several-processes).
    workers: int = Field(default=1, ge=1, le=64)
    # Per process. PostgreSQL allows 100 connections by default: replicas x XKIT_WORKERS x
    # (size + overflow) must stay under it, with room for `xkit worker`s and migrations.
    database_pool_size: int = Field(default=10, ge=1, le=500)
    database_max_overflow: int = Field(default=5, ge=0, le=500)
    # Per client address and per process (see xkit.api.rate_limit).
    rate_limit_login_per_minute: int = Field(default=10, ge=1)
    rate_limit_public_per_minute: int = Field(default=300, ge=1)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated
    # addresses or CIDR networks. None by default, so no client can choose its own address
    # (and with it a fresh rate-limit bucket) by sending the header itself.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The worker: webhook deliveries and token upkeep (docs/worker.md).
    worker_enabled: bool = True
    # SIGTERM: stop taking work, then let requests, refreshes and callbacks in flight finish
    # for up to this long before exiting (orchestrators kill after ~30 s).
    shutdown_grace_seconds: int = Field(default=20, ge=0, le=600)
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    worker_batch_size: int = Field(default=20, ge=1, le=500)
    worker_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_base_seconds: float = Field(default=60.0, gt=0, le=3600)
    webhook_max_attempts: int = Field(default=13, ge=1, le=50)
    webhook_allow_private_networks: bool = False
    webhook_retention_days: int = Field(default=30, ge=1, le=3650)
    # New-mail events (docs/mail.md#events): how often a followed mailbox is looked at, up
    # to how long an idle one waits, how many mailboxes one worker syncs at once, how long it
    # holds one, how long announced message ids are remembered (the duplicate bound), and how
    # far back a resync after an expired cursor looks.
    mail_poll_seconds: float = Field(default=30.0, gt=0, le=3600)
    mail_poll_max_seconds: float = Field(default=600.0, gt=0, le=24 * 3600)
    mail_sync_concurrency: int = Field(default=20, ge=1, le=500)
    mail_lease_seconds: float = Field(default=120.0, gt=0, le=3600)
    mail_announced_days: int = Field(default=14, ge=1, le=365)
    mail_resync_margin_seconds: int = Field(default=3600, ge=0, le=7 * 24 * 3600)
    token_upkeep: bool = True
    token_upkeep_interval_seconds: float = Field(default=60.0, gt=0, le=3600)
    refresh_ahead_seconds: int = Field(default=900, ge=0, le=24 * 3600)
    # /metrics (docs/operations.md): answers only a scraper sending this bearer token; unset,
    # /metrics answers 404. The commands keep the numbers of all their processes in
    # metrics_dir (default: <data dir>/metrics).
    metrics_token: SecretStr | None = None
    metrics_dir: Path | None = None

    @field_validator("public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _default_public_url(self) -> Settings:
        """Unset, the public URL follows the bound address, so `--port` alone just works."""
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> Settings:
        """A lease shorter than a delivery could expire mid-request and let a second worker
        send the same event to the same receiver at the same time."""
        if self.worker_lease_seconds <= self.webhook_timeout_seconds + 1:
            raise ValueError(
                "XKIT_WORKER_LEASE_SECONDS must exceed XKIT_WEBHOOK_TIMEOUT_SECONDS by more "
                "than a second"
            )
        return self
    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        """``XKIT_LOG_LEVEL=INFO`` is what people write (Python's own levels are upper case)."""
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("encryption_keys", "database_url", "ca_bundle", "metrics_token",
                     "metrics_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("providers_dirs", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_addresses(cls, value: object) -> object:
        """Each entry an address or a network, written the way uvicorn compares them: uvicorn
        would silently take a malformed one (``10.0.0.1/8``) as a literal that never matches."""
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, list):
            return value
        parsed = []
        for entry in (str(e).strip() for e in entries):
            if not entry:
                continue
            try:
                if "/" in entry:
                    parsed.append(str(ipaddress.ip_network(entry, strict=False)))
                else:
                    parsed.append(str(ipaddress.ip_address(entry)))
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/8)"
                ) from None
        return parsed

    @field_validator("provider_connect_to")
    @classmethod
    def _connect_to_parses(cls, value: str) -> str:
        ConnectTo.parse(value)  # a ValueError names the entry at fault
        return value

    @cached_property
    def connect_to(self) -> ConnectTo:
        return ConnectTo.parse(self.provider_connect_to)

    @property
    def provider_policy(self) -> OutboundPolicy:
        """Token exchange, refresh, account lookup, revocation, consent, JWT grants."""
        return OutboundPolicy(self.provider_allow_private_networks, self.connect_to)

    @property
    def proxy_policy(self) -> OutboundPolicy:
        return OutboundPolicy(self.proxy_allow_private_networks, self.connect_to)

    @property
    def webhook_policy(self) -> OutboundPolicy:
        return OutboundPolicy(self.webhook_allow_private_networks)

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'xkit.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def should_migrate_on_start(self) -> bool:
        """SQLite (the embedded default) migrates itself; PostgreSQL waits for ``xkit migrate``."""
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.is_sqlite

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry ``Secure`` whenever people reach xkit over HTTPS."""
        return self.public_url.startswith("https://")

    @property
    def resolved_metrics_dir(self) -> Path:
        """Where the processes of this xkit write their metrics for one /metrics to sum."""
        return self.metrics_dir or self.data_dir / "metrics"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "encryption.key"

    @property
    def public_url_problem(self) -> str | None:
        """Why the public URL cannot be what people and providers reach, if it cannot: a
        wildcard bind address is where the server listens, not an address anyone can open."""
        host = (urlsplit(self.public_url).hostname or "").strip("[]")
        if host in ("0.0.0.0", "::"):
            return (f"the public URL is {self.public_url}, which nobody can open, and callback "
                    "URLs are built from it: set XKIT_PUBLIC_URL to the address people and "
                    "providers reach this server at (e.g. https://xkit.example.com)")
        return None
