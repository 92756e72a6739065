"""`xkit demo` in tests: a real demo process on free ports, and the sandbox's connect flow
driven over HTTP the way a browser would (for tests about what happens after connecting)."""

from __future__ import annotations

import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx

from tests.support.processes import ManagedProcess, free_port, wait_for_http

_EXPORT = re.compile(r"export (XKIT_[A-Z]+)=(\S+)")


@dataclass
class Demo:
    xkit: str
    app: str
    data_dir: Path
    process: ManagedProcess

    def output(self) -> str:
        return self.process.output()

    @property
    def printed(self) -> dict[str, str]:
        """The ``export XKIT_…=…`` lines the demo printed (its URL and API key pair)."""
        return dict(_EXPORT.findall(self.output()))

    def api(self) -> httpx.Client:
        """The Platform API with the key pair the demo printed."""
        return httpx.Client(base_url=self.xkit, timeout=60, auth=(
            self.printed["XKIT_PUBLISHABLE"], self.printed["XKIT_SECRET"]))

    def stop(self) -> None:
        self.process.stop()


def start_demo(tmp_path: Path, *flags: str, env: dict[str, str] | None = None,
               xkit_port: int, app_port: int, host: str = "127.0.0.1") -> Demo:
    """``python -m xkit demo FLAGS`` with its data under ``tmp_path``; ``xkit_port`` and
    ``app_port`` are where the test expects it to listen (from the flags or the env)."""
    process = ManagedProcess(
        [sys.executable, "-m", "xkit", "demo", *flags],
        env={"XKIT_DATA_DIR": str(tmp_path), **(env or {})},
        log_path=tmp_path / "demo.log",
    )
    demo = Demo(xkit=f"http://{host}:{xkit_port}", app=f"http://{host}:{app_port}",
                data_dir=tmp_path / "demo", process=process)
    try:
        wait_for_http(f"{demo.app}/", process=process.process, timeout=60)
        wait_for_http(f"{demo.xkit}/healthz", process=process.process, timeout=60)
    except BaseException:
        print(process.output())
        process.stop()
        raise
    return demo


def free_port_pair() -> int:
    """A port ``p`` with ``p + 1`` free too (the demo's default sample app port)."""
    for _ in range(100):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two neighbouring free ports")


def connect_sandbox(demo: Demo, api: httpx.Client, external_id: str, name: str) -> str:
    """Connect ``external_id``'s Sandbox as sandbox person ``name`` — catalog, popup link,
    consent page, Approve, callback — and return the connection id."""
    token = api.post("/api/platform/contexts",
                     json={"context": {"external_id": external_id}}).json()["access_token"]
    browser_api = f"{demo.xkit}/p/demo/api/platform_user"
    headers = {"Authorization": f"Bearer {token}", "Origin": demo.app}
    created = httpx.post(f"{browser_api}/connections", headers=headers,
                         json={"connector": "sandbox"}).json()
    link = httpx.post(f"{browser_api}/authorizations/{created['authorization']['id']}/popup",
                      headers=headers).json()["url"]
    to_sandbox = httpx.get(f"{link}&{urlencode({'opener_origin': demo.app})}")
    assert to_sandbox.status_code == 302, to_sandbox.text
    consent = httpx.get(to_sandbox.headers["location"])
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                             consent.text))
    back = httpx.post(f"{demo.xkit}/sandbox/authorize",
                      data={**fields, "name": name, "action": "approve"})
    assert back.status_code == 302, back.text
    result = httpx.get(back.headers["location"].replace("&amp;", "&"),
                       cookies=to_sandbox.cookies)
    assert result.status_code == 200, result.text
    connection = api.get(f"/api/platform/contexts/{external_id}/connections/sandbox")
    assert connection.status_code == 200, connection.text
    return str(connection.json()["connection"]["id"])
