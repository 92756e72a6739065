"""``MicrosoftEmulator``: start the emulator as a real HTTPS subprocess and drive it from tests.

Typical use in a conftest::

    @pytest.fixture(scope="session")
    def microsoft(tmp_path_factory):
        emulator = MicrosoftEmulator.launch(tmp_path_factory.mktemp("microsoft"))
        yield emulator
        emulator.stop()

then ``microsoft.base_host`` is what an Outlook connector takes as ``login_host`` and
``graph_host``, and ``microsoft.ca_file`` is what xkit must trust (``XKIT_CA_BUNDLE``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import ManagedProcess, free_port, wait_for_http
from tests.support.tls import TestCertificates, make_test_certificates
from tests.support.tls_service import TlsTestService

REPO_ROOT = Path(__file__).resolve().parents[3]


def pkce_pair() -> tuple[str, str]:
    """A fresh ``(code_verifier, code_challenge)`` for ``code_challenge_method=S256``."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class EmulatorControlError(RuntimeError):
    """The control API refused a request; the message carries its answer."""


class MicrosoftEmulator(TlsTestService):
    """A running emulator process plus a client for its ``/_emulator`` control API."""

    def __init__(
        self,
        certificates: TestCertificates,
        *,
        log_path: Path,
        state_file: Path | None = None,
        port: int | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.certificates = certificates
        self.port = port or free_port()
        args = [
            sys.executable,
            "-m",
            "tests.emulators.microsoft",
            "--port",
            str(self.port),
            "--cert",
            str(certificates.server_cert),
            "--key",
            str(certificates.server_key),
        ]
        if state_file is not None:
            args += ["--state-file", str(state_file)]
        python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        self.process = ManagedProcess(
            args, log_path=log_path, cwd=REPO_ROOT, env={"PYTHONPATH": python_path}
        )
        try:
            wait_for_http(
                f"{self.base_url}/_emulator/health",
                timeout=startup_timeout,
                # An SSLContext: httpx deprecates a CA path string for ``verify``.
                verify=self.ssl_context(),  # type: ignore[arg-type]
                process=self.process.process,
            )
        except Exception as exc:
            self.process.stop()
            raise RuntimeError(f"{exc}\n--- emulator output ---\n{self.process.output()}") from exc
        self.control = httpx.Client(
            base_url=f"{self.base_url}/_emulator", verify=self.ssl_context(), timeout=10.0
        )

    @classmethod
    def launch(
        cls, directory: Path, certificates: TestCertificates | None = None, **options: Any
    ) -> MicrosoftEmulator:
        """Start one in ``directory`` (log file there; fresh certificates unless given)."""
        certs = certificates or make_test_certificates(directory / "certs")
        return cls(certs, log_path=directory / "microsoft-emulator.log", **options)

    # --- addresses ------------------------------------------------------------------------

    @property
    def base_host(self) -> str:
        """``127.0.0.1:PORT``: the connector's ``login_host`` and ``graph_host``."""
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"https://{self.base_host}"

    def authorize_url(self, tenant: str = "common") -> str:
        return f"{self.base_url}/{tenant}/oauth2/v2.0/authorize"

    def token_url(self, tenant: str = "common") -> str:
        return f"{self.base_url}/{tenant}/oauth2/v2.0/token"

    def graph_url(self, path: str = "") -> str:
        return f"{self.base_url}/v1.0/{path.lstrip('/')}"

    # --- control API ----------------------------------------------------------------------

    def _call(self, method: str, path: str, payload: Any = None, **params: Any) -> Any:
        response = self.control.request(
            method,
            path,
            json=payload,
            params={k: v for k, v in params.items() if v is not None},
        )
        if response.status_code >= 400:
            raise EmulatorControlError(f"{method} /_emulator{path}: {response.text}")
        return response.json()

    def reset(self) -> None:
        self._call("POST", "/reset")

    def seed(self, document: dict[str, Any]) -> None:
        self._call("POST", "/seed", document)

    def configure(self, **settings: Any) -> dict[str, Any]:
        """``access_token_lifetime``, ``code_lifetime``, ``strict_rotation``."""
        return self._call("PATCH", "/settings", settings)

    def advance_clock(self, seconds: float) -> None:
        self._call("POST", "/clock/advance", {"seconds": seconds})

    def add_tenant(self, **tenant: Any) -> dict[str, Any]:
        return self._call("POST", "/tenants", tenant)

    def register_app(
        self,
        *,
        redirect_uris: list[str],
        client_id: str | None = None,
        client_secret: str | None = None,
        sign_in_audience: str = "AzureADandPersonalMicrosoftAccount",
        **extra: Any,
    ) -> dict[str, Any]:
        """Register an app; the answer holds ``client_id`` and ``secrets`` (generated if not
        given). ``extra``: ``public_client``, ``client_secrets``, ``home_tenant_id``,
        ``display_name``, ``required_permissions``, ``application_permissions``."""
        payload = {
            "redirect_uris": redirect_uris,
            "client_id": client_id,
            "client_secret": client_secret,
            "sign_in_audience": sign_in_audience,
            **extra,
        }
        return self._call("POST", "/apps", {k: v for k, v in payload.items() if v is not None})

    def update_app(self, client_id: str, **changes: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/apps/{client_id}", changes)

    def add_user(
        self,
        *,
        mail: str,
        user_id: str | None = None,
        display_name: str | None = None,
        user_principal_name: str | None = None,
        password: str | None = None,
        auto_consent: bool = False,
        tenant_id: str | None = None,
        messages: list[dict[str, Any]] | None = None,
        is_admin: bool = False,
    ) -> dict[str, Any]:
        payload = {
            "id": user_id,
            "mail": mail,
            "displayName": display_name,
            "userPrincipalName": user_principal_name,
            "password": password,
            "auto_consent": auto_consent,
            "tenant_id": tenant_id,
            "is_admin": is_admin,
        }
        user = self._call("POST", "/users", {k: v for k, v in payload.items() if v is not None})
        for message in messages or []:
            self.add_message(user["id"], **message)
        return user

    def user(self, user_id: str) -> dict[str, Any]:
        return self._call("GET", f"/users/{user_id}")

    def add_message(self, user_id: str, **message: Any) -> dict[str, Any]:
        """Seed a Graph message (``subject``, ``body``, ``from``, ``receivedDateTime``,
        ``folder``...) into the user's mailbox."""
        return self._call("POST", f"/users/{user_id}/messages", message)

    def expire_delta_tokens(self) -> int:
        """Forget every Graph delta and skip token: the next use of one answers 410."""
        return int(self._call("POST", "/delta-tokens/expire")["expired"])

    def revoke_refresh_tokens(
        self, user_id: str, error_code: int = 70008, client_id: str | None = None
    ) -> int:
        payload = {"error_code": error_code, "client_id": client_id}
        return self._call("POST", f"/users/{user_id}/revoke-refresh-tokens", payload)["revoked"]

    def revoke_admin_consent(self, tenant_id: str, client_id: str) -> bool:
        """An admin removing the app from the tenant: client credentials stop working."""
        payload = {"tenant_id": tenant_id, "client_id": client_id}
        return self._call("POST", "/admin-consents/revoke", payload)["revoked"]

    def expire_access_tokens(self, user_id: str | None = None) -> int:
        return self._call("POST", "/access-tokens/expire", {"user_id": user_id})["expired"]

    def add_fault(
        self, target: str = "token", kind: str = "status", **options: Any
    ) -> dict[str, Any]:
        """Make the next matching request(s) misbehave. ``target``: token, graph, authorize;
        ``kind``: status (``status``, ``retry_after``), delay (``seconds``), garbage; plus
        ``count``, ``grant_type`` (token), ``path`` (graph path prefix)."""
        return self._call("POST", "/faults", {"target": target, "kind": kind, **options})

    def throttle_graph(self, count: int = 1, retry_after: int = 1) -> dict[str, Any]:
        return self.add_fault("graph", "status", status=429, retry_after=retry_after, count=count)

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def counters(self) -> dict[str, Any]:
        return self._call("GET", "/counters")

    def requests(self, path_prefix: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/requests", path_prefix=path_prefix)

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def sent_mail(self, user_id: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/sent-mail", user_id=user_id)
