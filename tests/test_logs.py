"""Server logs: one JSON object per line when asked, and never a secret."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.xkit import (
    PlatformCredentials,
    XkitEnvironment,
    XkitServer,
    create_platform,
)
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


FORGED = "2026-12-04 17:40:00,000 WARNING xkit.admin: admin root@example.com logged in"


def _forging_requests(server: XkitServer, platform: PlatformCredentials, token: str) -> None:
    """Paths that carry a line break (LF, CR, U+2028, an escape sequence) and keys."""
    forged = FORGED.replace(" ", "%20")
    with httpx.Client(base_url=server.url) as client:
        for breaker in ("%0a", "%0d%0a", "%0d", "%e2%80%a8", "%c2%85", "%1b[2K%0d"):
            assert client.get(f"/healthz{breaker}{forged}").status_code == 404
        client.get(f"/api/platform/connections/{platform.secret_key}")
        client.get(f"/p/acme/api/platform_user/connections/{token}")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_requests_cannot_forge_log_lines_or_leak_keys(
    fresh_environment: XkitEnvironment, tmp_path: Path, log_format: str
) -> None:
    fresh_environment.extra = {"XKIT_LOG_FORMAT": log_format}
    server = XkitServer(fresh_environment, tmp_path / "serve.log")
    try:
        platform = create_platform(fresh_environment, "acme")
        with platform.client(server) as api:
            token = api.post(
                "/api/platform/contexts", json={"context": {"external_id": "u"}}
            ).json()["access_token"]
        _forging_requests(server, platform, token)
    finally:
        server.stop()
    output = server.output()
    lines = output.splitlines()
    forged_lines = [line for line in lines
                    if line.removeprefix("\x1b[2K").startswith(FORGED)]
    assert forged_lines == [], "a request started a log line of its own"
    assert "\u2028" not in output and "\x85" not in output and "\x1b" not in output
    assert platform.secret_key not in output and token not in output
    assert token.split(".")[1] not in output  # no part of the JWT either
    access = [line for line in lines if "/healthz" in line and FORGED in line]
    assert len(access) == 6
    if log_format == "json":
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        paths = [e["path"] for e in entries if e["logger"] == "xkit.access"]
        assert "/healthz\\n" + FORGED in paths
        assert "/healthz\\u2028" + FORGED in paths
        assert any(p.startswith("/api/platform/connections/") and "[redacted]" in p
                   for p in paths)
        assert not [e for e in entries if e["message"].startswith("2026-12-04")]
    else:
        assert any(line.endswith(" 404 " + line.rsplit(" ", 1)[-1]) and "/healthz\\n2026" in line
                   for line in lines)
        assert any("/healthz\\r\\n2026" in line for line in lines)
        assert any("/api/platform/connections/[redacted]" in line for line in lines)


def test_scrub_removes_secrets_that_slip_into_messages() -> None:
    text = (
        "POST /x?code=abc123&state=zzz client_secret=hunter2 "
        "Authorization: Bearer eyJhbGciOi.xyz xkit_sk_AbCdEf xk1.k1.AAAABBBB "
        "/connections/eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"
    )
    cleaned = scrub(text)
    for secret in ("abc123", "zzz", "hunter2", "eyJhbGciOi", "xkit_sk_AbCdEf", "AAAABBBB",
                   "eyJzdWIiOiJ1In0", "c2lnbmF0dXJl"):
        assert secret not in cleaned
    assert scrub("status code 500") == "status code 500"
