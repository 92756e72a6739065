"""Server logs: one JSON object per line when asked, and never a secret."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.support.xkit import XkitEnvironment, XkitServer, create_platform
from xkit.logs import scrub

CLIENT_SECRET = "log-canary-client-secret-93731"


def test_json_logs_carry_requests_and_no_secrets(
    fresh_environment: XkitEnvironment, tmp_path: Path
) -> None:
    fresh_environment.extra = {"XKIT_LOG_FORMAT": "json"}
    server = XkitServer(fresh_environment, tmp_path / "serve.log")
    try:
        platform = create_platform(fresh_environment, "acme")
        with platform.client(server) as api:
            api.post(
                "/api/platform/connectors",
                json={
                    "provider": "outlook-email",
                    "client_id": "cid",
                    "client_secret": CLIENT_SECRET,
                },
            )
            token = api.post(
                "/api/platform/contexts", json={"context": {"external_id": "u"}}
            ).json()["access_token"]
        httpx.get(f"{server.url}/api/platform", auth=("xkit_pk_x", platform.secret_key + "nope"))
        httpx.get(
            f"{server.url}/p/acme/callback",
            params={"code": "log-canary-code", "state": "log-canary-state"},
        )
        httpx.get(
            f"{server.url}/p/acme/api/platform_user/connections",
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        server.stop()
    output = server.output()
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests = [e for e in entries if e["logger"] == "xkit.access"]
    assert any(e["path"] == "/api/platform/connectors" and e["status"] == 201 for e in requests)
    assert all({"time", "level", "message"} <= set(e) for e in entries)
    for secret in (
        CLIENT_SECRET,
        platform.secret_key,
        token,
        "log-canary-code",
        "log-canary-state",
    ):
        assert secret not in output


def test_scrub_removes_secrets_that_slip_into_messages() -> None:
    text = (
        "POST /x?code=abc123&state=zzz client_secret=hunter2 "
        "Authorization: Bearer eyJhbGciOi.xyz xkit_sk_AbCdEf xk1.k1.AAAABBBB"
    )
    cleaned = scrub(text)
    for secret in ("abc123", "zzz", "hunter2", "eyJhbGciOi", "xkit_sk_AbCdEf", "AAAABBBB"):
        assert secret not in cleaned
    assert scrub("status code 500") == "status code 500"
