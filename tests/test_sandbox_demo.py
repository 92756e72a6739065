"""`xkit demo`: the sandbox provider and the sample app, end to end over HTTP."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.processes import ManagedProcess, free_port, wait_for_http
from tests.support.xkit import XkitEnvironment

pytestmark = pytest.mark.database_independent  # the demo always runs on its own SQLite


@pytest.fixture
def demo(tmp_path: Path):  # type: ignore[no-untyped-def]
    port, app_port = free_port(), free_port()
    process = ManagedProcess(
        [sys.executable, "-m", "xkit", "demo", "--port", str(port), "--app-port", str(app_port)],
        env={"XKIT_DATA_DIR": str(tmp_path)},
        log_path=tmp_path / "demo.log",
    )
    wait_for_http(f"http://127.0.0.1:{app_port}/", process=process.process, timeout=60)
    wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process.process, timeout=60)
    yield {
        "xkit": f"http://127.0.0.1:{port}",
        "app": f"http://127.0.0.1:{app_port}",
        "data_dir": tmp_path / "demo",
        "process": process,
    }
    process.stop()


def test_demo_connects_the_sandbox_from_the_sample_app(demo) -> None:  # type: ignore[no-untyped-def]
    output = demo["process"].output()
    assert f"Open the sample app: {demo['app']}" in output
    assert "/admin/setup?token=" in output

    page = httpx.get(demo["app"])
    assert f"{demo['xkit']}/p/demo/xkit.js" in page.text and "renderCatalog" in page.text
    token = httpx.post(f"{demo['app']}/api/xkit-token").text
    browser_api = f"{demo['xkit']}/p/demo/api/platform_user"
    headers = {"Authorization": f"Bearer {token}", "Origin": demo["app"]}
    catalog = httpx.get(f"{browser_api}/connectors", headers=headers).json()["connectors"]
    assert [c["slug"] for c in catalog] == ["sandbox"]

    created = httpx.post(
        f"{browser_api}/connections", headers=headers, json={"connector": "sandbox"}
    ).json()
    link = httpx.post(
        f"{browser_api}/authorizations/{created['authorization']['id']}/popup", headers=headers
    ).json()["url"]
    to_sandbox = httpx.get(f"{link}&{urlencode({'opener_origin': demo['app']})}")
    assert to_sandbox.status_code == 302, to_sandbox.text
    consent = httpx.get(to_sandbox.headers["location"])
    assert consent.status_code == 200 and 'id="approve"' in consent.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
    back = httpx.post(
        f"{demo['xkit']}/sandbox/authorize",
        data={**fields, "name": "Ada Lovelace", "action": "approve"},
    )
    assert back.status_code == 302
    result = httpx.get(back.headers["location"].replace("&amp;", "&"), cookies=to_sandbox.cookies)
    assert result.status_code == 200 and "ada.lovelace@sandbox.test" in result.text

    # The developer's backend, with a key of its own.
    environment = XkitEnvironment(
        data_dir=demo["data_dir"], database_url="", encryption_keys="", public_url=demo["xkit"]
    )
    key = json.loads(
        environment.run_cli(
            "keys",
            "create",
            "--platform",
            "demo",
            "--json",
            env={"XKIT_DATABASE_URL": "", "XKIT_ENCRYPTION_KEYS": ""},
        ).stdout
    )
    with httpx.Client(
        base_url=demo["xkit"], auth=(key["publishable_key"], key["secret_key"])
    ) as api:
        connection = api.get("/api/platform/contexts/demo-user/connections/sandbox").json()
        assert connection["authorization"]["display_label"] == "ada.lovelace@sandbox.test"
        notes = api.get(f"/api/platform/proxy/{connection['connection']['id']}/notes")
    assert notes.status_code == 200, notes.text
    assert notes.json()["notes"][0]["text"] == "Buy milk"


def test_the_sandbox_sends_people_back_only_to_this_xkits_callbacks(demo) -> None:  # type: ignore[no-untyped-def]
    """Otherwise its authorize page would be an open redirect on xkit's own origin."""
    authorize = f"{demo['xkit']}/sandbox/authorize"
    own = {"client_id": "sandbox", "state": "s", "redirect_uri": f"{demo['xkit']}/p/demo/callback"}
    assert httpx.get(authorize, params=own).status_code == 200
    for elsewhere in ("https://evil.example/p/demo/callback", f"{demo['xkit']}/admin/login",
                      f"{demo['xkit']}/p/demo/callback/../../admin", "javascript:alert(1)"):
        for answer in (
            httpx.get(authorize, params={**own, "redirect_uri": elsewhere}),
            httpx.post(authorize, data={**own, "redirect_uri": elsewhere, "action": "deny"}),
            httpx.post(authorize, data={**own, "redirect_uri": elsewhere, "action": "approve"}),
        ):
            assert answer.status_code == 400, (elsewhere, answer.status_code)
            assert "location" not in answer.headers
            assert "not the callback URL" in answer.text


def test_sandbox_is_off_unless_asked(xkit_server) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(f"{xkit_server.url}/sandbox/authorize").status_code == 404
