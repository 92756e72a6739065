"""``QuirkEmulator``: run the quirk emulator as an HTTPS subprocess answering for many hosts.

Typical use (conftest.py does this once per session)::

    emulator = QuirkEmulator.launch(directory, certificates, hosts=["slack.com", "*.zendesk.com"])
    environment.extra["XKIT_PROVIDER_CONNECT_TO"] = emulator.connect_to

The emulator's certificate, from the session's test CA, names every host, so xkit verifies
TLS against ``slack.com`` as it would in production; only the TCP connection is redirected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.processes import free_port
from tests.support.tls import TestCertificates, issue_server_certificate
from tests.support.tls_service import TlsTestService


class QuirkEmulator(TlsTestService):
    def __init__(self, certificates: TestCertificates, directory: Path, hosts: list[str]) -> None:
        self.certificates = certificates
        self.hosts = sorted(set(hosts))
        self.port = free_port()
        cert, key = issue_server_certificate(certificates, directory / "certs", self.hosts)
        self.launch_emulator("tests.emulators.oauth_quirks", port=self.port, cert=cert, key=key,
                             log_path=directory / "oauth-quirks.log")

    @classmethod
    def launch(cls, directory: Path, certificates: TestCertificates,
               hosts: list[str]) -> QuirkEmulator:
        return cls(certificates, directory, hosts)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def connect_to(self) -> str:
        """The value of ``XKIT_PROVIDER_CONNECT_TO`` that sends every host here."""
        return ",".join(f"{host}=127.0.0.1:{self.port}" for host in self.hosts)

    # --- control --------------------------------------------------------------------------

    def register_app(self, *, redirect_uri: str, profile: dict[str, Any]) -> dict[str, str]:
        """An app (``client_id``, ``client_secret``) whose provider behaves as ``profile``
        says (see ``app.DEFAULT_PROFILE``)."""
        response = self.control.post("/apps", json={"redirect_uri": redirect_uri,
                                                    "profile": profile})
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def requests(self, client_id: str) -> list[dict[str, Any]]:
        """What the provider saw for this app: authorize, token and API requests, in order."""
        response = self.control.get("/requests", params={"client_id": client_id})
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    # --- acting as the end user's browser -------------------------------------------------

    def visit(self, url: str) -> httpx.Response:
        """GET a provider URL (an authorize URL xkit redirected to) the way a browser would,
        reaching this emulator instead of the real host."""
        host = urlsplit(url).hostname or ""
        assert host in self.hosts or any(
            h.startswith("*.") and host.endswith(h[1:]) for h in self.hosts), (
            f"{host} is not one of the emulated hosts")
        local = httpx.URL(url).copy_with(host="127.0.0.1", port=self.port)
        with self.client(timeout=10.0) as browser:
            return browser.get(local, headers={"Host": host},
                               extensions={"sni_hostname": host})
