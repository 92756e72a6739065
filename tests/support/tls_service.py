"""What every HTTPS test peer (the Microsoft emulator, oidc-provider) has in common: a
subprocess serving with the test CA, clients that trust it, and a clean stop."""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from tests.support.processes import ManagedProcess, wait_for_http
from tests.support.tls import TestCertificates

REPO_ROOT = Path(__file__).resolve().parents[2]


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

    def launch_emulator(self, module: str, *, port: int, cert: Path, key: Path,
                        log_path: Path, args: Sequence[str] = ()) -> None:
        """Run ``python -m module --port --cert --key`` (one of the in-repo emulators) from the
        repository root, wait for its ``/_emulator/health`` and open the control client."""
        python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        self.process = ManagedProcess(
            [sys.executable, "-m", module, "--port", str(port), "--cert", str(cert),
             "--key", str(key), *args],
            log_path=log_path, cwd=REPO_ROOT, env={"PYTHONPATH": python_path})
        base_url = f"https://127.0.0.1:{port}"
        try:
            wait_for_http(f"{base_url}/_emulator/health", timeout=30,
                          verify=self.ssl_context(),  # type: ignore[arg-type]
                          process=self.process.process)
        except Exception as exc:
            self.process.stop()
            raise RuntimeError(f"{exc}\n--- emulator output ---\n{self.output()}") from exc
        self.control = httpx.Client(base_url=f"{base_url}/_emulator", verify=self.ssl_context(),
                                    timeout=10.0)

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
