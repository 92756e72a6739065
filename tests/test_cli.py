"""The command line, run as an operator runs it: in a subprocess."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from tests.support.processes import ManagedProcess, free_port, wait_for_http
from tests.support.xkit import XkitEnvironment, XkitServer


def test_platforms_keys_and_admin_round_trip(fresh_environment: XkitEnvironment) -> None:
    env = fresh_environment
    created = env.run_cli(
        "platforms", "create", "acme", "--name", "Acme", "--origin", "https://app.acme.test"
    )
    assert created.returncode == 0, created.stderr
    assert "created platform acme" in created.stdout
    listed = json.loads(env.run_cli("platforms", "list", "--json").stdout)
    assert listed[0]["slug"] == "acme"
    assert listed[0]["allowed_origins"] == ["https://app.acme.test"]

    key = json.loads(env.run_cli("keys", "create", "--platform", "acme", "--json").stdout)
    assert key["publishable_key"].startswith("xkit_pk_")
    assert key["secret_key"].startswith("xkit_sk_")
    listing = env.run_cli("keys", "list", "--platform", "acme").stdout
    assert key["publishable_key"] in listing and key["secret_key"] not in listing
    assert "active" in listing

    revoked = env.run_cli("keys", "revoke", key["publishable_key"], "--platform", "acme")
    assert revoked.returncode == 0
    assert "revoked" in env.run_cli("keys", "list", "--platform", "acme").stdout

    admin = env.run_cli(
        "admin",
        "create",
        "--email",
        "dev@acme.test",
        "--platform",
        "acme",
        input="correct horse battery\ncorrect horse battery\n",
    )
    assert admin.returncode == 0, admin.stderr
    assert "created admin dev@acme.test" in admin.stdout


def test_errors_are_one_line_without_traceback(fresh_environment: XkitEnvironment) -> None:
    env = fresh_environment
    env.run_cli("platforms", "create", "acme")
    for args, message in [
        (("platforms", "create", "acme"), "already exists"),
        (("platforms", "create", "Not A Slug"), "slug must be"),
        (("keys", "create", "--platform", "nope"), "no platform with slug 'nope'"),
        (("providers", "show", "nope"), "no provider template 'nope'"),
        (("admin", "create", "--email", "x@y.test", "--password", "short"), "at least 10"),
        (("platforms", "create", "long", "--name", "n" * 300), "at most 200"),
        (("platforms", "create", "badorigin", "--origin", "https://[oops"), "not a valid URL"),
        (("platforms", "create", "pathorigin", "--origin", "https://a.test/x"), "not an origin"),
        (("platforms", "create", "portorigin", "--origin", "https://a.test:99999"),
         "invalid port: use 1-65535"),
        (("platforms", "create", "longorigin", "--origin", f"https://{'a' * 3000}.test"),
         "longer than 253 characters"),
    ]:
        result = env.run_cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_providers_list_and_show(fresh_environment: XkitEnvironment) -> None:
    listed = fresh_environment.run_cli("providers", "list").stdout
    assert "outlook-email" in listed and "oauth2" in listed
    shown = json.loads(fresh_environment.run_cli("providers", "show", "outlook-email").stdout)
    assert shown["slug"] == "outlook-email"
    assert "offline_access" in shown["required_scopes"]


def test_migrate_is_idempotent(fresh_environment: XkitEnvironment) -> None:
    first = fresh_environment.run_cli("migrate")
    second = fresh_environment.run_cli("migrate")
    assert first.returncode == second.returncode == 0, first.stderr
    assert "database is at revision" in second.stdout


def test_served_server_answers_health_readiness_and_docs(xkit_server: XkitServer) -> None:
    assert httpx.get(f"{xkit_server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{xkit_server.url}/readyz").json()["database"] == "ok"
    schema = httpx.get(f"{xkit_server.url}/openapi.json").json()
    assert "/api/platform/connectors" in schema["paths"]
    assert "/api/platform/contexts" in schema["paths"]
    assert httpx.get(f"{xkit_server.url}/docs").status_code == 200


def test_log_level_may_be_written_in_any_case(fresh_environment: XkitEnvironment) -> None:
    for level in ("INFO", "Warning", "debug"):
        result = fresh_environment.run_cli("providers", "list", env={"XKIT_LOG_LEVEL": level})
        assert result.returncode == 0, (level, result.stderr)


def test_invalid_configuration_is_one_clear_line_per_problem(
    fresh_environment: XkitEnvironment,
) -> None:
    result = fresh_environment.run_cli(
        "serve", env={"XKIT_PORT": "eighty", "XKIT_LOG_LEVEL": "verbose",
                      "XKIT_PUBLIC_URL": "ftp://xkit.example.com"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: invalid configuration:"
    problems = sorted(line.strip() for line in lines[1:])
    assert [p.split(":")[0] for p in problems] == [
        "XKIT_LOG_LEVEL", "XKIT_PORT", "XKIT_PUBLIC_URL"]
    assert "'debug', 'info', 'warning' or 'error'" in problems[0]
    assert "pydantic" not in result.stderr and "Traceback" not in result.stderr
    assert "eighty" not in result.stderr and "ftp://" not in result.stderr  # values never echoed


def test_serve_on_all_interfaces_warns_about_a_public_url_nobody_can_open(
    fresh_environment: XkitEnvironment, tmp_path: Path
) -> None:
    port = free_port()
    server = ManagedProcess(
        [sys.executable, "-m", "xkit", "serve", "--host", "0.0.0.0", "--port", str(port)],
        env={**fresh_environment.variables(), "XKIT_PUBLIC_URL": ""},
        log_path=tmp_path / "serve.log",
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=server.process, timeout=60)
        assert f"warning: the public URL is http://0.0.0.0:{port}, which nobody can open" in (
            server.output())
        assert "set XKIT_PUBLIC_URL" in server.output()
    finally:
        server.stop()
