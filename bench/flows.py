"""Complete OAuth connect flows over HTTP, as xkit.js, the popup and the user's browser would,
against the Microsoft emulator — shared by the connect and stampede benchmarks."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench.seed import Installation, seed
from bench.support import bench_database, production_environment
from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.processes import free_port

APP_ORIGIN = "https://app.bench.test"


@dataclass(frozen=True)
class FlowTarget:
    """Where the flows go: an xkit server, a platform's API key, a connector."""

    xkit_url: str
    platform_slug: str
    secret_key: str
    connector: str


@dataclass(frozen=True)
class EmulatedInstallation:
    """An empty installation whose Outlook connector signs in at the emulator."""

    microsoft: MicrosoftEmulator
    installation: Installation
    env: dict[str, str]  # for every xkit server of the installation
    port: int  # the first server's: the public URL registered at the emulator


@contextmanager
def emulated_installation(work: Path, database: str) -> Iterator[EmulatedInstallation]:
    microsoft = MicrosoftEmulator.launch(work / "microsoft")
    try:
        with bench_database(database, work) as url:
            port = free_port()
            public_url = f"http://127.0.0.1:{port}"  # a load balancer's address, with replicas
            installation = asyncio.run(seed(
                url, work / "data", connections=0, public_url=public_url,
                connector_fields=outlook_app(microsoft, public_url, "bench")))
            env = production_environment(url, installation.encryption_keys, work / "data",
                                         XKIT_PUBLIC_URL=public_url,
                                         XKIT_CA_BUNDLE=str(microsoft.ca_file),
                                         # the emulator listens on 127.0.0.1
                                         XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS="true")
            yield EmulatedInstallation(microsoft, installation, env, port)
    finally:
        microsoft.stop()


def outlook_app(microsoft: MicrosoftEmulator, public_url: str, platform_slug: str) -> dict:
    """An app registered at the emulator, and the connector fields that use it."""
    app = microsoft.register_app(redirect_uris=[f"{public_url}/p/{platform_slug}/callback"])
    return {"client_id": app["client_id"], "client_secret": app["secrets"][0],
            "scopes": ["User.Read", "Mail.Read"],
            "settings": {"login_host": microsoft.base_host, "graph_host": microsoft.base_host}}


def add_users(microsoft: MicrosoftEmulator, count: int) -> list[str]:
    """``count`` users who consent without a page (one seed call); returns their logins."""
    users = [{"mail": f"user{n}@contoso.test", "auto_consent": True} for n in range(count)]
    microsoft.seed({"users": users})
    return [u["mail"] for u in users]


async def connect(http: httpx.AsyncClient, provider: httpx.AsyncClient, target: FlowTarget,
                  external_id: str, login: str) -> float:
    """One flow end to end; returns its duration in seconds. Raises when a step fails."""
    started = time.perf_counter()
    backend = {"Authorization": f"Bearer {target.secret_key}"}
    created = await http.post(f"{target.xkit_url}/api/platform/contexts", headers=backend,
                              json={"context": {"external_id": external_id}})
    _expect(created, 200, 201)
    browser = {"Authorization": f"Bearer {created.json()['access_token']}",
               "Origin": APP_ORIGIN}
    base = f"{target.xkit_url}/p/{target.platform_slug}"
    connection = await http.post(f"{base}/api/platform_user/connections", headers=browser,
                                 json={"connector": target.connector})
    _expect(connection, 201)
    authorization_id = connection.json()["authorization"]["id"]
    link = await http.post(f"{base}/api/platform_user/authorizations/{authorization_id}/popup",
                           headers=browser)
    _expect(link, 200)
    start = await http.get(f"{link.json()['url']}&{urlencode({'opener_origin': APP_ORIGIN})}")
    _expect(start, 302)
    # The user signs in as themselves: login_hint picks the emulator's user.
    authorize = f"{start.headers['location']}&{urlencode({'login_hint': login})}"
    consent = await provider.get(authorize)
    _expect(consent, 302)
    # ``http`` keeps cookies like the user's browser: the callback brings back the cookie
    # ``start`` set, which binds the flow to it (one per authorization, so flows can share it).
    callback = await http.get(consent.headers["location"])
    _expect(callback, 200)
    return time.perf_counter() - started


async def connect_many(target: FlowTarget, microsoft: MicrosoftEmulator, logins: list[str],
                       *, concurrency: int, prefix: str = "flow-") -> tuple[list[float], float]:
    """A flow per login, ``concurrency`` at a time; (durations, wall seconds)."""
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for number, login in enumerate(logins):
        queue.put_nowait((number, login))
    durations: list[float] = []
    provider_tls = ssl.create_default_context(cafile=str(microsoft.ca_file))
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http, \
            httpx.AsyncClient(timeout=60, verify=provider_tls, limits=limits) as provider:

        async def worker() -> None:
            while not queue.empty():
                number, login = queue.get_nowait()
                durations.append(await connect(http, provider, target, f"{prefix}{number}",
                                               login))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return durations, time.perf_counter() - started


def _expect(response: httpx.Response, *statuses: int) -> None:
    if response.status_code not in statuses:
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: "
                           f"{response.status_code} {response.text[:300]}")
