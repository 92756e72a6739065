"""``ServicesEmulator``: the services emulator as a real HTTPS subprocess, and its control API.

``emulator.host`` is what a template's host setting takes (Trello's and Stripe's
``api_host``, Google's ``token_host`` and ``api_host``); xkit trusts the test CA.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.processes import free_port
from tests.support.tls import TestCertificates
from tests.support.tls_service import TlsTestService


class ServicesEmulator(TlsTestService):
    def __init__(self, certificates: TestCertificates, *, log_path: Path) -> None:
        self.certificates = certificates
        self.port = free_port()
        self.launch_emulator("tests.emulators.services", port=self.port,
                             cert=certificates.server_cert, key=certificates.server_key,
                             log_path=log_path)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"https://{self.host}"

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.control.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._post("/reset", {})

    def requests(self) -> list[dict[str, Any]]:
        return self.control.get("/requests").json()  # type: ignore[no-any-return]

    def add_trello_member(self, **member: Any) -> dict[str, Any]:
        """``username``, ``api_key``, ``api_token``, optional ``full_name`` and ``boards``."""
        return self._post("/trello/members", member)  # type: ignore[no-any-return]

    def add_stripe_account(self, **account: Any) -> dict[str, Any]:
        """``email``, ``display_name``, ``secret_key``, optional ``customers``."""
        return self._post("/stripe/accounts", account)  # type: ignore[no-any-return]

    def add_service_account(self, key_file: dict[str, str]) -> None:
        """Register the public half of a key made by :func:`service_account_key_file`."""
        private = serialization.load_pem_private_key(key_file["private_key"].encode(), None)
        public = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self._post("/google/service-accounts", {
            "client_email": key_file["client_email"], "client_id": key_file["client_id"],
            "key_id": key_file["private_key_id"], "public_key_pem": public.decode()})

    def delegate(self, domain: str, client_id: str, scopes: list[str]) -> None:
        """What a Workspace admin does under "Domain-wide delegation"."""
        self._post("/google/delegations",
                   {"domain": domain, "client_id": client_id, "scopes": scopes})

    def add_workspace_user(self, email: str, events: list[dict[str, Any]] | None = None) -> None:
        self._post("/google/users", {"email": email, "events": events or []})


def service_account_key_file(project: str = "acme-calendar") -> dict[str, str]:
    """A JSON key file shaped like the one Google's console downloads, with a fresh RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    email = f"xkit-{secrets.token_hex(3)}@{project}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(10**20 + secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def key_json(key_file: dict[str, str]) -> str:
    return json.dumps(key_file)
