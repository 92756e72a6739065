"""What every HTTPS test peer (the Microsoft emulator, oidc-provider) has in common: a
subprocess serving with the test CA, clients that trust it, and a clean stop."""

from __future__ import annotations

import ssl
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from tests.support.processes import ManagedProcess
from tests.support.tls import TestCertificates


class TlsTestService:
    """Subclasses set ``certificates``, ``process`` and, once it answers, ``control``."""

    certificates: TestCertificates
    process: ManagedProcess
    control: httpx.Client

    @property
    def ca_file(self) -> Path:
        return self.certificates.ca_cert

    def ssl_context(self) -> ssl.SSLContext:
        """A TLS context that trusts the test CA, for httpx's ``verify=``."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self, **options: Any) -> httpx.Client:
        """An httpx client that trusts the test CA."""
        return httpx.Client(verify=self.ssl_context(), **options)

    def stop(self) -> int:
        if hasattr(self, "control"):
            self.control.close()
        return self.process.stop()

    def output(self) -> str:
        return self.process.output()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
