"""Run real xkit servers and CLI commands for tests, and seed data through the services."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from tests.support.processes import ManagedProcess, free_port, wait_for_http
from tests.support.tls import TestCertificates
from xkit.crypto import EncryptionKey
from xkit.db.models import Connection, Connector
from xkit.runtime import Runtime, start_runtime
from xkit.services.configuration import api_keys, contexts, platforms
from xkit.settings import Settings

T = TypeVar("T")


@dataclass
class XkitEnvironment:
    """The ``XKIT_*`` variables of one test installation (a data dir, a database, a key)."""

    data_dir: Path
    database_url: str
    encryption_keys: str
    public_url: str = "http://127.0.0.1:8000"
    extra: dict[str, str] | None = None

    def variables(self) -> dict[str, str]:
        env = {
            "XKIT_DATA_DIR": str(self.data_dir),
            "XKIT_DATABASE_URL": self.database_url,
            "XKIT_ENCRYPTION_KEYS": self.encryption_keys,
            "XKIT_PUBLIC_URL": self.public_url,
            "XKIT_MIGRATE_ON_START": "true",
            "XKIT_LOG_LEVEL": "info",
        }
        return {**env, **(self.extra or {})}

    def settings(self) -> Settings:
        """The same configuration the subprocesses get, for in-process use."""
        return Settings(
            **{
                name.removeprefix("XKIT_").lower(): value  # type: ignore[arg-type]
                for name, value in self.variables().items()
            }
        )

    @classmethod
    def new(cls, data_dir: Path, database_url: str) -> XkitEnvironment:
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            encryption_keys=EncryptionKey.generate().to_spec(),
        )

    def run_cli(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``xkit ARGS`` in a subprocess, as an operator would type it."""
        variables = {**os.environ, **self.variables(), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "xkit", *args],
            env=variables,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def with_runtime(self, work: Callable[[Runtime], Awaitable[T]]) -> T:
        """Run ``work`` against this installation's database, in this process.

        On a thread of its own when this one already runs an event loop (Playwright's sync
        API keeps one on the test's thread, where ``asyncio.run`` may not start another)."""

        async def _run() -> T:
            runtime = await start_runtime(self.settings())
            try:
                return await work(runtime)
            finally:
                await runtime.close()

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(_run())
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(lambda: asyncio.run(_run())).result()


def contributor_template_dirs() -> list[Path]:
    """The directories of templates not yet built in that a contributor is testing, from
    ``XKIT_PROVIDERS_DIRS`` as they ran pytest (docs/providers.md, "Adding a provider"): the
    test servers load them, and ``tests/test_provider_flows.py`` runs their cases."""
    value = os.environ.get("XKIT_PROVIDERS_DIRS", "")
    return [Path(part) for part in value.split(os.pathsep) if part.strip()]


def installation_settings(certificates: TestCertificates) -> dict[str, str]:
    """What every test installation sets beyond the basics."""
    return {
        "XKIT_CA_BUNDLE": str(certificates.ca_cert),
        "XKIT_PROVIDER_TIMEOUT_SECONDS": "5",
        # Tests make xkit refresh by issuing tokens shorter-lived than the 300 s margin (an
        # Outlook token of 200 s, an oidc-provider one of 60 s); without the cap by the
        # token's own lifetime each fetch of one refreshes. test_client_credentials.py and
        # test_tokens_oidc.py run a server with the default share to test the cap itself.
        "XKIT_TOKEN_MIN_VALIDITY_SHARE": "1",
        # the emulators and webhook receivers listen on 127.0.0.1; production refuses that
        "XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS": "true",
        "XKIT_PROXY_ALLOW_PRIVATE_NETWORKS": "true",
        "XKIT_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        # test-only templates (e.g. one with collect fields)
        "XKIT_PROVIDERS_DIRS": os.pathsep.join(str(d) for d in (
            Path(__file__).parent.parent / "data" / "templates", *contributor_template_dirs())),
        # the worker: retries within a second or two instead of over a day, and a pause
        # after four failures instead of thirteen
        "XKIT_WORKER_POLL_SECONDS": "0.1",
        "XKIT_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
        "XKIT_WEBHOOK_MAX_ATTEMPTS": "4",
        "XKIT_WEBHOOK_TIMEOUT_SECONDS": "3",
        # every test client is 127.0.0.1; test_rate_limits.py checks the limits
        "XKIT_RATE_LIMIT_LOGIN_PER_MINUTE": "100000",
        "XKIT_RATE_LIMIT_PUBLIC_PER_MINUTE": "100000",
    }


class XkitServer:
    """``xkit serve`` as a subprocess on a free port.

    ``url`` is where the server listens; ``public_url`` is where people and providers reach
    it (``XKIT_PUBLIC_URL``): the same, unless a reverse proxy in front says otherwise."""

    def __init__(self, environment: XkitEnvironment, log_path: Path, *,
                 port: int | None = None, public_url: str | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.public_url = public_url or self.url
        environment.public_url = self.public_url
        self.environment = environment
        self.process = ManagedProcess(
            [sys.executable, "-m", "xkit", "serve", "--port", str(self.port)],
            env=environment.variables(),
            log_path=log_path,
        )
        try:
            wait_for_http(f"{self.url}/healthz", process=self.process.process, timeout=60)
        except (RuntimeError, TimeoutError) as exc:
            self.process.stop()
            raise RuntimeError(f"{exc}; server output:\n{self.output()}") from None

    def output(self) -> str:
        return self.process.output()

    def stop(self) -> int:
        return self.process.stop()


@dataclass
class PlatformCredentials:
    slug: str
    platform_id: str
    publishable_key: str
    secret_key: str

    @property
    def basic_auth(self) -> tuple[str, str]:
        return (self.publishable_key, self.secret_key)

    def client(self, server: XkitServer, **options: object) -> httpx.Client:
        options.setdefault("timeout", 30)
        return httpx.Client(base_url=server.url, auth=self.basic_auth, **options)  # type: ignore[arg-type]


def create_platform(
    environment: XkitEnvironment, slug: str, allowed_origins: tuple[str, ...] = ("https://app.example.test",)
) -> PlatformCredentials:
    async def _work(runtime: Runtime) -> PlatformCredentials:
        async with runtime.sessions() as session:
            platform = await platforms.create_platform(
                session, slug=slug, name=slug.title(), actor="test", allowed_origins=allowed_origins
            )
            key, secret = await api_keys.create_api_key(session, platform, actor="test")
            return PlatformCredentials(
                slug=slug,
                platform_id=platform.id,
                publishable_key=key.publishable_key,
                secret_key=secret,
            )

    return environment.with_runtime(_work)


def seed_connector_without_template(
    environment: XkitEnvironment, platform: PlatformCredentials
) -> str:
    """A connector ``crm`` made from a template the server no longer loads (its YAML file was
    taken out of XKIT_PROVIDERS_DIRS), connected once by ``user-1``; the connection's id."""

    async def _work(runtime: Runtime) -> str:
        async with runtime.sessions() as session:
            connector = Connector(platform_id=platform.platform_id, provider="retired-crm",
                                  slug="crm", name="Old CRM", scopes=["crm.read"])
            found = await platforms.get_platform(session, platform.slug)
            context, _ = await contexts.upsert_context(session, found.id, external_id="user-1")
            session.add(connector)
            await session.flush()
            connection = Connection(platform_id=platform.platform_id, context_id=context.id,
                                    connector_id=connector.id)
            session.add(connection)
            await session.commit()
            return connection.id

    return environment.with_runtime(_work)
