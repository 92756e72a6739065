"""``GmailEmulator``: the Gmail emulator as a real HTTPS subprocess, and its control API."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tests.support.processes import free_port
from tests.support.tls import TestCertificates, issue_server_certificate
from tests.support.tls_service import TlsTestService

GOOGLE_HOSTS = ("accounts.google.com", "oauth2.googleapis.com", "gmail.googleapis.com")


class GmailEmulator(TlsTestService):
    """Its certificate, from the test CA, names Google's hosts too, so xkit reaches it by
    those names through ``XKIT_PROVIDER_CONNECT_TO`` and verifies it as it would Google."""

    def __init__(self, certificates: TestCertificates, *, log_path: Path) -> None:
        self.certificates = certificates
        self.port = free_port()
        cert, key = issue_server_certificate(certificates, log_path.parent / "gmail-certs",
                                             list(GOOGLE_HOSTS))
        self.launch_emulator("tests.emulators.gmail", port=self.port, cert=cert, key=key,
                             log_path=log_path)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def connect_to(self) -> str:
        """``XKIT_PROVIDER_CONNECT_TO``'s value: Google's hosts answered here."""
        return ",".join(f"{host}=127.0.0.1:{self.port}" for host in GOOGLE_HOSTS)

    def api_url(self, path: str) -> str:
        return f"{self.base_url}/gmail/v1/users/me/{path}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.control.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._call("POST", "/reset", {})

    def register_app(self, redirect_uri: str) -> dict[str, str]:
        return self._call("POST", "/apps",  # type: ignore[no-any-return]
                          {"redirect_uris": [redirect_uri]})

    def add_account(self, email: str, **options: Any) -> dict[str, Any]:
        return self._call("POST", "/accounts",  # type: ignore[no-any-return]
                          {"email": email, **options})

    def add_label(self, email: str, name: str) -> dict[str, Any]:
        return self._call("POST", f"/accounts/{email}/labels",  # type: ignore[no-any-return]
                          {"name": name})

    def deliver(self, email: str, **message: Any) -> dict[str, Any]:
        """Mail arriving in ``email``'s inbox: ``subject``, ``text``, ``html``, ``from``,
        ``attachments`` ([{filename, content_type, data: bytes}]), or ``raw`` bytes."""
        for attachment in message.get("attachments", []):
            attachment["data"] = base64.b64encode(attachment["data"]).decode()
        if isinstance(message.get("raw"), bytes):
            message["raw"] = base64.b64encode(message["raw"]).decode()
        return self._call("POST", f"/accounts/{email}/messages",  # type: ignore[no-any-return]
                          message)

    def messages(self, email: str, label: str | None = None) -> list[dict[str, Any]]:
        return self._call("POST", f"/accounts/{email}/messages/list",  # type: ignore[no-any-return]
                          {"label": label})

    def delete(self, email: str, message_id: str) -> None:
        self._call("POST", f"/accounts/{email}/messages/{message_id}/delete", {})

    def forget_history(self, email: str) -> None:
        self._call("POST", f"/accounts/{email}/history/forget", {})

    def fail_next(self, **fault: Any) -> None:
        self._call("POST", "/faults", fault)

    def set_quota(self, units_per_minute: int, window_seconds: int = 60) -> None:
        """Gmail's per-user quota, counted afresh from now."""
        self._call("PATCH", "/settings", {"quota_limit_per_minute": units_per_minute,
                                          "quota_window_seconds": window_seconds})

    def expire_tokens(self) -> None:
        self._call("POST", "/tokens/expire", {})

    def counters(self) -> dict[str, int]:
        return self._call("GET", "/counters")  # type: ignore[no-any-return]
