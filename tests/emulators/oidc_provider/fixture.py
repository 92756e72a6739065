"""``OidcProvider``: run ``server.js`` (panva's oidc-provider) over HTTPS and drive it from tests.

Typical use in a conftest::

    @pytest.fixture(scope="session")
    def oidc_provider(tmp_path_factory, test_certificates):
        provider = OidcProvider.launch(tmp_path_factory.mktemp("oidc"), test_certificates)
        yield provider
        provider.stop()

A "Custom OAuth 2.0" connector then takes ``provider.authorize_url`` and ``provider.token_url``,
and xkit trusts ``provider.ca_file``. Register the connector's callback URL as a client with
``provider.register_client(redirect_uris=[...])`` once xkit's port is known.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx

from tests.support.processes import ManagedProcess, free_port, wait_for_http
from tests.support.tls import TestCertificates, make_test_certificates
from tests.support.tls_service import TlsTestService

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_SCOPE = "openid offline_access email profile api:read"


class OidcProviderError(RuntimeError):
    """The provider (or its control API) answered something a test did not expect."""


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def pkce_pair() -> tuple[str, str]:
    """A fresh ``(code_verifier, code_challenge)`` for ``code_challenge_method=S256``."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --- npm dependencies ----------------------------------------------------------------------------


def _locked_version() -> str | None:
    lock = PACKAGE_DIR / "package-lock.json"
    if not lock.exists():
        return None
    packages = json.loads(lock.read_text())["packages"]
    return packages.get("node_modules/oidc-provider", {}).get("version")


def _installed() -> bool:
    """node_modules holds the oidc-provider version the lock file names."""
    installed = PACKAGE_DIR / "node_modules" / "oidc-provider" / "package.json"
    if not installed.exists():
        return False
    wanted = _locked_version()
    return wanted is None or json.loads(installed.read_text())["version"] == wanted


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """One ``npm ci`` at a time on this machine (parallel test workers start together)."""
    tag = hashlib.sha256(str(PACKAGE_DIR).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"xkit-oidc-provider-{tag}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_node_modules(timeout: float = 300.0) -> None:
    """Install the npm dependencies (``npm ci``, or ``npm install`` without a lock) if needed."""
    if _installed():
        return
    with _install_lock():
        if _installed():  # another worker did it while we waited
            return
        command = "ci" if (PACKAGE_DIR / "package-lock.json").exists() else "install"
        result = subprocess.run(
            ["npm", command, "--no-audit", "--no-fund"],
            cwd=PACKAGE_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0 or not _installed():
            raise OidcProviderError(
                f"npm {command} failed in {PACKAGE_DIR} ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )


# --- the running provider ----------------------------------------------------------------------


class OidcProvider(TlsTestService):
    """A running ``node server.js`` plus a client for its ``/_control`` API."""

    def __init__(
        self,
        certificates: TestCertificates,
        *,
        log_path: Path,
        port: int | None = None,
        clients: list[dict[str, Any]] | None = None,
        access_token_ttl: int = 60,
        refresh_token_ttl: int | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        ensure_node_modules()
        self.certificates = certificates
        self.port = port or free_port()
        args = [
            "node",
            "server.js",
            "--port",
            str(self.port),
            "--cert",
            str(certificates.server_cert),
            "--key",
            str(certificates.server_key),
            "--access-token-ttl",
            str(access_token_ttl),
        ]
        if refresh_token_ttl is not None:
            args += ["--refresh-token-ttl", str(refresh_token_ttl)]
        if clients:
            clients_file = log_path.parent / f"oidc-provider-clients-{self.port}.json"
            clients_file.write_text(json.dumps(clients))
            args += ["--clients", str(clients_file)]
        started = time.monotonic()
        self.process = ManagedProcess(args, log_path=log_path, cwd=PACKAGE_DIR)
        try:
            wait_for_http(
                self.discovery_url,
                timeout=startup_timeout,
                verify=self.ssl_context(),  # type: ignore[arg-type]
                process=self.process.process,
            )
        except Exception as exc:
            self.process.stop()
            raise OidcProviderError(
                f"{exc}\n--- oidc-provider output ---\n{self.output()}"
            ) from exc
        self.startup_seconds = time.monotonic() - started
        self.control = httpx.Client(
            base_url=f"{self.issuer}/_control", verify=self.ssl_context(), timeout=10.0
        )
        self.discovery: dict[str, Any] = self.control.get(self.discovery_url).json()

    @classmethod
    def launch(
        cls, directory: Path, certificates: TestCertificates | None = None, **options: Any
    ) -> OidcProvider:
        """Start one in ``directory`` (log file there; fresh certificates unless given)."""
        certs = certificates or make_test_certificates(directory / "certs")
        return cls(certs, log_path=directory / "oidc-provider.log", **options)

    # --- addresses ------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/auth"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def userinfo_url(self) -> str:
        return f"{self.issuer}/me"

    @property
    def revocation_url(self) -> str:
        return f"{self.issuer}/token/revocation"

    @property
    def introspection_url(self) -> str:
        return f"{self.issuer}/token/introspection"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    # --- control API ----------------------------------------------------------------------

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        response = self.control.request(method, path, json=payload)
        if response.status_code >= 400:
            raise OidcProviderError(
                f"{method} /_control{path}: {response.status_code} {response.text}"
            )
        return response.json()

    def register_client(
        self,
        *,
        redirect_uris: list[str],
        client_id: str | None = None,
        client_secret: str | None = None,
        token_endpoint_auth_method: str = "client_secret_basic",
        require_pkce: bool = False,
        **metadata: Any,
    ) -> dict[str, Any]:
        """Register (or replace) a client; the answer is its metadata, with ``client_id`` and
        ``client_secret`` generated when not given. ``metadata``: any other oidc-provider client
        metadata, e.g. ``client_name``, ``grant_types``, ``scope``, ``application_type``."""
        payload = {
            "redirect_uris": redirect_uris,
            "client_id": client_id,
            "client_secret": client_secret,
            "token_endpoint_auth_method": token_endpoint_auth_method,
            "require_pkce": require_pkce,
            **metadata,
        }
        return self._call("POST", "/clients", {k: v for k, v in payload.items() if v is not None})

    def mint(
        self,
        client_id: str,
        sub: str,
        scope: str = "openid offline_access email profile",
        access_token_ttl: int | None = None,
    ) -> dict[str, Any]:
        """Tokens for ``sub`` as if they had just authorized ``client_id``, without a browser:
        ``access_token``, ``refresh_token``, ``expires_in``, ``scope``, ``grant_id``."""
        payload: dict[str, Any] = {"client_id": client_id, "sub": sub, "scope": scope}
        if access_token_ttl is not None:
            payload["access_token_ttl"] = access_token_ttl
        return self._call("POST", "/mint", payload)

    def stats(self) -> dict[str, Any]:
        """Counters since start or the last ``reset_stats()`` (see the docs for the shape)."""
        return self._call("GET", "/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/reset-stats")

    def refresh_count(self) -> int:
        """Refresh token grants that succeeded."""
        return int(self.stats()["refresh"]["succeeded"])

    def grants_revoked(self) -> int:
        return int(self.stats()["grants_revoked"])

    def settings(self) -> dict[str, Any]:
        return self._call("GET", "/settings")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """``access_token_ttl``, ``refresh_token_ttl`` (seconds, for tokens issued from now on),
        ``offline_access_requires_prompt`` (the library's strict OIDC behaviour),
        ``refresh_token_requires_offline_access`` (no refresh token for a grant without it),
        ``refresh_answer_delay_ms`` / ``refresh_answer_delay_count`` (hold refresh answers back
        after the rotation: the next N, or all while the count is None)."""
        return self._call("POST", "/settings", settings)

    def grant_exists(self, grant_id: str) -> bool:
        response = self.control.get(f"/grants/{grant_id}")
        return response.status_code == 200

    # --- the authorization code flow without a browser ------------------------------------

    def authorization_request(
        self,
        client_id: str,
        redirect_uri: str,
        *,
        scope: str = DEFAULT_SCOPE,
        state: str | None = None,
        code_challenge: str | None = None,
        **extra: str,
    ) -> str:
        """The URL of an authorization request (``response_type=code``)."""
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state or secrets.token_urlsafe(12),
            **extra,
        }
        if code_challenge:
            params |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
        return f"{self.authorize_url}?{urlencode(params)}"

    def complete_authorization(
        self,
        url: str,
        *,
        login: str = "alice",
        approve: bool = True,
        http: httpx.Client | None = None,
        max_steps: int = 12,
    ) -> str:
        """Walk an authorization request through the login and consent pages, as a browser
        would, and return the URL the provider finally sends the user to (the client's
        ``redirect_uri`` with ``code`` and ``state``, or with ``error=access_denied`` when
        ``approve`` is false). ``http``: reuse a cookie jar (an existing provider session)."""
        own = http is None
        browser = http or self.client(timeout=10.0)
        try:
            for _ in range(max_steps):
                if not url.startswith(f"{self.issuer}/"):
                    return url  # left the provider: this is the client's redirect
                response = browser.get(url)
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    continue
                response = self._submit_page(browser, url, response, login, approve)
                if not response.is_redirect:
                    raise OidcProviderError(
                        f"form at {url} answered {response.status_code}: {response.text[:500]}"
                    )
                url = urljoin(url, response.headers["location"])
            raise OidcProviderError(f"no redirect back to the client after {max_steps} steps")
        finally:
            if own:
                browser.close()

    @staticmethod
    def _submit_page(
        browser: httpx.Client, url: str, page: httpx.Response, login: str, approve: bool
    ) -> httpx.Response:
        """Answer one of our login/consent pages; the forms carry ``data-prompt``."""
        forms = dict(re.findall(r'data-prompt="(\w+)"[^>]*action="([^"]+)"', page.text))
        if page.status_code != 200 or not forms:
            raise OidcProviderError(f"{url} answered {page.status_code}: {page.text[:500]}")
        if "login" in forms:
            return browser.post(
                urljoin(url, forms["login"]), data={"login": login, "password": "ignored"}
            )
        return browser.post(urljoin(url, forms["consent" if approve else "abort"]))
