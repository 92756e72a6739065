"""Everything a running xkit holds, built once at start-up in a fixed order.

Start-up fails with a :class:`~xkit.errors.ConfigurationError` whose message says what to do
(a schema that needs migrating, a missing key) rather than with a traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from xkit import metrics, telemetry
from xkit.crypto import Keyring
from xkit.db import migrate
from xkit.db.engine import create_engine, create_sessionmaker, private_directory
from xkit.errors import ConfigurationError
from xkit.providers.registry import ProviderRegistry, TemplateError
from xkit.services.admin.form_tokens import FormTokenSigner
from xkit.services.admin.sessions import SessionPolicy
from xkit.services.configuration.connectors import ConnectorServices
from xkit.services.configuration.jwt_issuers import IssuerPolicy
from xkit.services.configuration.keyring import open_keyring
from xkit.services.connect.context_tokens import ContextTokenSigner
from xkit.services.connect.flow import FlowDeps
from xkit.services.connect.user_jwt import JwksCache, UserJwtVerifier
from xkit.services.tokens.provider_http import create_provider_http
from xkit.services.tokens.refresh import TokenDeps
from xkit.services.tokens.use_ledger import UseLedger
from xkit.services.webhooks.subscriptions import SubscriptionPolicy
from xkit.settings import Settings

log = logging.getLogger("xkit")
SANDBOX_TEMPLATES_DIR = Path(__file__).parent / "providers" / "sandbox"


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keyring: Keyring
    providers: ProviderRegistry
    context_tokens: ContextTokenSigner
    provider_http: httpx.AsyncClient
    uses: UseLedger

    @property
    def connector_services(self) -> ConnectorServices:
        return ConnectorServices(
            providers=self.providers, keyring=self.keyring, public_url=self.settings.public_url,
            allow_private_networks=self.settings.provider_allow_private_networks,
        )

    @cached_property
    def flow_deps(self) -> FlowDeps:
        """What the connect flow needs, for the browser API and the popup pages alike."""
        return FlowDeps(providers=self.providers, keyring=self.keyring,
                        http=self.provider_http, public_url=self.settings.public_url)

    @property
    def issuer_policy(self) -> IssuerPolicy:
        """JWKS URLs are fetched like provider endpoints, so the same setting allows them on
        private networks (XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS)."""
        return IssuerPolicy(allow_private_networks=self.settings.provider_allow_private_networks)

    @cached_property
    def user_jwt(self) -> UserJwtVerifier:
        """Checks the apps' own user JWTs; its JWKS cache lives as long as this process, and
        every JWKS request goes through the provider client's outbound policy."""
        return UserJwtVerifier(JwksCache(self.provider_http))

    @cached_property
    def session_policy(self) -> SessionPolicy:
        """How long a dashboard login lasts (XKIT_ADMIN_SESSION_HOURS, _IDLE_MINUTES)."""
        return SessionPolicy(
            absolute=dt.timedelta(hours=self.settings.admin_session_hours),
            idle=dt.timedelta(minutes=self.settings.admin_session_idle_minutes))

    @cached_property
    def form_tokens(self) -> FormTokenSigner:
        """Signs the double-submit cookie of the dashboard's login and setup forms."""
        return FormTokenSigner(self.keyring)

    @cached_property
    def token_deps(self) -> TokenDeps:
        """Built once: every token fetch asks for it, and building it costs as much as
        decrypting the token."""
        return TokenDeps(
            sessions=self.sessions,
            providers=self.providers,
            keyring=self.keyring,
            http=self.provider_http,
            uses=self.uses,
            min_validity=dt.timedelta(seconds=self.settings.token_min_validity_seconds),
            min_validity_share=self.settings.token_min_validity_share,
            provider_timeout=dt.timedelta(seconds=self.settings.provider_timeout_seconds),
            reads=(self.engine if self.settings.is_sqlite else
                   self.engine.execution_options(isolation_level="AUTOCOMMIT")),
        )

    @cached_property
    def proxy_http(self) -> httpx.AsyncClient:
        """The proxy's client: the same transport as provider calls, held to the proxy's own
        policy (XKIT_PROXY_ALLOW_PRIVATE_NETWORKS); made on the first proxied call."""
        return create_provider_http(
            timeout_seconds=self.settings.provider_timeout_seconds,
            ca_bundle=self.settings.ca_bundle, policy=self.settings.proxy_policy)

    @property
    def subscription_policy(self) -> SubscriptionPolicy:
        return SubscriptionPolicy(
            keyring=self.keyring,
            allow_private_networks=self.settings.webhook_allow_private_networks,
        )

    async def close(self) -> None:
        """Let refreshes in flight store their answers (up to the shutdown grace), then
        close everything: a refresh cut off here would lose a rotated refresh token."""
        if "token_deps" in self.__dict__:  # built on first use (cached_property)
            left = await self.token_deps.in_flight.drain(self.settings.shutdown_grace_seconds)
            if left:
                log.warning("stopping with %d token refreshes unfinished", left)
        await self.uses.close()
        await self.provider_http.aclose()
        if "proxy_http" in self.__dict__:
            await self.proxy_http.aclose()
        await self.engine.dispose()


async def start_runtime(settings: Settings, *, migrate_now: bool | None = None) -> Runtime:
    telemetry.start()  # before the engine and the clients: they are traced from the start
    template_dirs = [
        *settings.providers_dirs,
        *([SANDBOX_TEMPLATES_DIR] if settings.sandbox else []),
    ]
    try:
        providers = ProviderRegistry.load(template_dirs)
    except TemplateError as exc:
        raise ConfigurationError(f"invalid provider template: {exc}") from None
    if not settings.provider_allow_private_networks:
        _refuse_plain_http(providers)
    # A failed connect flow is counted under its code when a template declares it.
    metrics.allow_error_codes(code for template in providers for code in template.errors)
    try:
        provider_http = create_provider_http(
            timeout_seconds=settings.provider_timeout_seconds, ca_bundle=settings.ca_bundle,
            policy=settings.provider_policy,
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"XKIT_CA_BUNDLE={settings.ca_bundle} cannot be used: {exc}"
        ) from None
    if settings.is_sqlite:
        private_directory(settings.data_dir)
    pool = (
        {}
        if settings.is_sqlite
        else {
            "pool_size": settings.database_pool_size,
            "max_overflow": settings.database_max_overflow,
        }
    )
    engine = create_engine(settings.resolved_database_url, hide_parameters=True, **pool)
    telemetry.instrument_engine(engine)
    try:
        await _prepare_schema(engine, settings, migrate_now)
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            keyring = await open_keyring(settings, session)
    except ConfigurationError:
        await engine.dispose()
        await provider_http.aclose()
        raise
    except (OSError, ConnectionError) as exc:
        await engine.dispose()
        await provider_http.aclose()
        raise ConfigurationError(f"cannot reach the database: {exc}") from None
    except Exception as exc:
        await engine.dispose()
        await provider_http.aclose()
        if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3", "psycopg")):
            raise ConfigurationError(
                f"cannot use the database: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            ) from None
        raise
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        keyring=keyring,
        providers=providers,
        context_tokens=ContextTokenSigner(keyring, issuer=settings.public_url),
        provider_http=provider_http,
        uses=UseLedger(engine),
    )


def _refuse_plain_http(providers: ProviderRegistry) -> None:
    """Template validation lets an operator's template call a loopback host over plain http
    (a provider run on this machine); that is a private network, so it needs
    XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS, and saying so at start-up beats failing each call."""
    for template in providers:
        for path, url in template.endpoint_urls():
            parts = urlsplit(url)
            if parts.scheme == "http" and "{" not in parts.netloc:
                raise ConfigurationError(
                    f"provider template {template.slug!r}: {path} is plain http to "
                    f"{parts.netloc}; set XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS=true to call "
                    "providers on this machine or a private network")


async def _prepare_schema(
    engine: AsyncEngine, settings: Settings, migrate_now: bool | None
) -> None:
    if settings.should_migrate_on_start if migrate_now is None else migrate_now:
        before = await migrate.current_revision(engine)
        await migrate.upgrade(engine)
        after = await migrate.current_revision(engine)
        if before != after:
            log.info("migrated the database from %s to %s", before or "empty", after)
        return
    current, head = await migrate.current_revision(engine), migrate.head_revision()
    if current != head:
        raise ConfigurationError(
            f"the database schema is at revision {current or 'none'} but this xkit needs "
            f"{head}: run `xkit migrate` first"
        )
