"""Debian's nginx in front of a test xkit, running the configuration docs/deployment.md shows.

The site configuration is ``docs/deployment/nginx.conf`` itself. Only what must differ on a
test machine is replaced, each by an exact string that must be there (so the file cannot drift
away from what the test runs): the upstream's port, the listening addresses, the host name and
the certificate paths. Around it goes a small main configuration that keeps the pid file, logs
and temporary files in the test's directory, so nginx runs as a plain child of the test, in the
foreground, without root or /etc/nginx.
"""

from __future__ import annotations

import os
import shutil
import ssl
from pathlib import Path

from tests.support.processes import ManagedProcess, free_port, wait_for_http

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE_CONFIG = REPO_ROOT / "docs" / "deployment" / "nginx.conf"

MAIN_CONFIG = """{user}worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log notice;
events {{ worker_connections 256; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/xkit.conf;
}}
"""


def nginx_binary() -> str | None:
    """Debian's nginx (``/usr/sbin`` is not on every user's PATH)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def site_config(*, hostname: str, upstream_port: int, http_port: int, https_port: int,
                certificate: Path, key: Path) -> str:
    """docs/deployment/nginx.conf with this machine's names, ports and paths."""
    text = SITE_CONFIG.read_text()
    replacements = {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "/etc/ssl/xkit/fullchain.pem": str(certificate),
        "/etc/ssl/xkit/privkey.pem": str(key),
        "xkit.example.com": hostname,
    }
    for documented, here in replacements.items():
        assert documented in text, f"{SITE_CONFIG.name} no longer has {documented!r}"
        text = text.replace(documented, here)
    return text


class NginxProxy:
    """nginx terminating TLS at ``https://{hostname}:{https_port}`` for xkit on
    ``127.0.0.1:{upstream_port}``; plain HTTP on ``http_port`` redirects to https."""

    def __init__(self, directory: Path, *, hostname: str, upstream_port: int,
                 certificate: Path, key: Path) -> None:
        binary = nginx_binary()
        assert binary, "nginx is not installed (Debian: apt-get install nginx)"
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.hostname = hostname
        self.https_port = free_port()
        self.http_port = free_port()
        self.url = f"https://{hostname}:{self.https_port}"
        (directory / "xkit.conf").write_text(site_config(
            hostname=hostname, upstream_port=upstream_port, http_port=self.http_port,
            https_port=self.https_port, certificate=certificate, key=key))
        # As root (CI containers), workers would run as "nobody", who cannot enter the test's
        # private temporary directory; as anyone else nginx keeps the user it was started as.
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.config_path = directory / "nginx.conf"
        self.config_path.write_text(MAIN_CONFIG.format(user=user, directory=directory))
        self.process = ManagedProcess(
            [binary, "-p", str(directory), "-c", str(self.config_path), "-g", "daemon off;"],
            log_path=directory / "nginx.out")

    def wait_until_serving(self, ca_file: Path) -> None:
        """Until a request through nginx reaches xkit (its certificate checked with ``ca_file``)."""
        try:
            wait_for_http(f"{self.url}/healthz", timeout=30, process=self.process.process,
                          verify=ssl.create_default_context(cafile=str(ca_file)))  # type: ignore[arg-type]
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}; nginx output:\n{self.output()}") from None

    @property
    def access_log(self) -> str:
        path = self.directory / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def output(self) -> str:
        error_log = self.directory / "error.log"
        errors = error_log.read_text(errors="replace") if error_log.exists() else ""
        return self.process.output() + errors

    def stop(self) -> int:
        return self.process.stop()
