"""Prometheus metrics, scraped from real ``xkit serve`` processes: after a connect flow and
token fetches the numbers an operator watches move; two servers and a worker writing into one
metrics directory are reported by one scrape; labels never carry ids; the alert rules pass
promtool."""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.database import temporary_database
from tests.support.flow import follow_provider, new_end_user, outlook_connector
from tests.support.processes import ManagedProcess
from tests.support.tls import TestCertificates
from tests.support.webhooks import WebhookReceiver, start_worker
from tests.support.xkit import (
    XkitEnvironment,
    XkitServer,
    create_platform,
    installation_settings,
)
from xkit import metrics

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "xkit-rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "xkit-rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "xkit-dashboard.json"
METRICS_TOKEN = "scrape-" + secrets.token_hex(8)
TOKEN_ROUTE = "/api/platform/contexts/{external_id}/connections/{connector_slug}"
TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclasses.dataclass
class Deployment:
    """Two ``xkit serve`` processes (worker off) and one ``xkit worker`` on one database and
    one data directory, as on one host: they share the metrics directory."""

    environment: XkitEnvironment
    server: XkitServer
    second_server: XkitServer
    worker: ManagedProcess


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory,
               test_certificates: TestCertificates) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("metrics")
    with temporary_database(directory) as url:
        environment = XkitEnvironment.new(directory / "data", url)
        environment.extra = {
            **installation_settings(test_certificates),
            "XKIT_METRICS_TOKEN": METRICS_TOKEN,
            "XKIT_WORKER_ENABLED": "false",
            "XKIT_TOKEN_UPKEEP": "false",
        }
        server = XkitServer(environment, directory / "serve-1.log")
        second = XkitServer(dataclasses.replace(environment), directory / "serve-2.log")
        worker = start_worker(environment, directory / "worker.log")
        try:
            yield Deployment(environment, server, second, worker)
        finally:
            worker.stop()
            second.stop()
            server.stop()


def scrape(server: XkitServer) -> Samples:
    """One scrape of ``/metrics``, as Prometheus does it: every sample by name and labels."""
    response = httpx.get(f"{server.url}/metrics",
                         headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def provider_state(to_provider: httpx.Response) -> str:
    """The ``state`` xkit sent the browser to the provider with."""
    query = parse_qs(urlsplit(to_provider.headers["location"]).query)
    return query["state"][0]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_metrics_are_not_public(deployment: Deployment, fresh_environment: XkitEnvironment,
                                tmp_path: Path) -> None:
    url = f"{deployment.server.url}/metrics"
    assert httpx.get(url).status_code == 401
    wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_metrics_token"
    assert METRICS_TOKEN not in wrong.text
    basic = httpx.get(url, auth=("metrics", METRICS_TOKEN))
    assert basic.status_code == 401

    # Without XKIT_METRICS_TOKEN there is no /metrics at all.
    unconfigured = XkitServer(fresh_environment, tmp_path / "serve.log")
    try:
        answer = httpx.get(f"{unconfigured.url}/metrics",
                           headers={"Authorization": "Bearer anything"})
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
    finally:
        unconfigured.stop()
    # Nor a file: its counts stayed in memory (memory-mapped files on a disk that fills up
    # would kill the process — tests/test_sqlite_disk_full.py runs without a token).
    assert not (fresh_environment.data_dir / "metrics").exists()

    # With a token, a server counts in its data directory; stopped, it takes its share of the
    # live gauges (connections in use) out, and leaves its counters for whoever shares it.
    configured = XkitServer(dataclasses.replace(fresh_environment, extra={
        **(fresh_environment.extra or {}), "XKIT_METRICS_TOKEN": METRICS_TOKEN}),
        tmp_path / "serve-configured.log")
    try:
        assert httpx.get(f"{configured.url}/metrics", headers={
            "Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
    finally:
        configured.stop()
    left = sorted(p.name for p in (fresh_environment.data_dir / "metrics").iterdir())
    assert any(name.startswith("histogram_") for name in left), left
    assert not any(name.startswith("gauge_livesum_") for name in left), left


def test_a_scrape_shows_the_connect_flow_and_token_fetches_of_every_process(
    deployment: Deployment, microsoft: MicrosoftEmulator
) -> None:
    server, second = deployment.server, deployment.second_server
    platform = create_platform(deployment.environment, f"metrics-{secrets.token_hex(3)}")
    before = scrape(server)
    with WebhookReceiver() as receiver, platform.client(server) as api, \
            platform.client(second) as api_on_second:
        assert api.post("/api/platform/webhooks", json={"url": receiver.url}).status_code == 201
        # The connect flow: an access token that must be refreshed before first use.
        microsoft.configure(access_token_lifetime=200)
        outlook_connector(api, server, platform, microsoft)
        user = microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
        end_user = new_end_user(server, platform, "user-1")
        _, to_provider = end_user.start_popup("outlook-email")
        assert follow_provider(to_provider, microsoft).status_code == 200
        microsoft.configure(access_token_lifetime=3600)
        receiver.wait_for_event("connection.enabled")  # sent by the worker process

        assert api.get(TOKEN_PATH).status_code == 200  # refreshed
        for _ in range(3):
            assert api.get(TOKEN_PATH).status_code == 200  # fresh, on this server
        for _ in range(2):
            assert api_on_second.get(TOKEN_PATH).status_code == 200  # fresh, on the other
        connection_id = api.get(TOKEN_PATH).json()["connection"]["id"]  # fresh
        proxied = api.get(f"/api/platform/proxy/{connection_id}/me")
        assert proxied.status_code == 200, proxied.text
        microsoft.revoke_refresh_tokens(user["id"], error_code=70008)
        broken = api.get(TOKEN_PATH, params={"force_refresh": "true"})
        assert broken.status_code == 409, broken.text

    after = scrape(server)
    # HTTP requests by route template, from both servers (the second one served two).
    fetches = moved(before, after, "xkit_http_request_duration_seconds_count",
                    route=TOKEN_ROUTE, method="GET", status="200")
    assert fetches == 7
    assert moved(before, after, "xkit_http_request_duration_seconds_count",
                 route=TOKEN_ROUTE, status="409") == 1
    assert moved(before, after, "xkit_http_request_duration_seconds_bucket",
                 route=TOKEN_ROUTE, status="200", le="+Inf") == 7
    # Token fetches by outcome.
    assert moved(before, after, "xkit_token_fetches_total", outcome="refreshed") == 1
    assert moved(before, after, "xkit_token_fetches_total", outcome="fresh") == 6
    assert moved(before, after, "xkit_token_fetches_total", outcome="reconnect_required") == 1
    # Refreshes and provider calls, by provider.
    assert moved(before, after, "xkit_token_refresh_duration_seconds_count",
                 provider="outlook-email", outcome="refreshed") == 1
    assert moved(before, after, "xkit_token_refresh_duration_seconds_count",
                 provider="outlook-email", outcome="reconnect_required") == 1
    for kind, status_class in (("token", "2xx"), ("account", "2xx"), ("refresh", "2xx"),
                               ("refresh", "4xx"), ("proxy", "2xx")):
        assert moved(before, after, "xkit_provider_request_duration_seconds_count",
                     provider="outlook-email", kind=kind, status_class=status_class) >= 1, kind
    proxy_routes = {dict(found).get("route") for (name, found) in after
                    if name == "xkit_http_request_duration_seconds_count"
                    and "/proxy/" in dict(found).get("route", "")}
    assert proxy_routes == {"/api/platform/proxy/{connection_id}/{path}"}, proxy_routes
    # The connect flow.
    assert moved(before, after, "xkit_connect_flows_started_total",
                 provider="outlook-email") == 1
    assert moved(before, after, "xkit_connect_flows_completed_total",
                 provider="outlook-email") == 1
    # Webhooks, counted by the worker process, in the same scrape.
    assert moved(before, after, "xkit_webhook_deliveries_total", outcome="delivered") >= 1
    heartbeat = value(after, "xkit_worker_last_success_timestamp_seconds", loop="deliveries")
    assert time.time() - heartbeat < 30
    assert ("xkit_webhook_outbox_oldest_due_age_seconds", frozenset()) in after
    assert ("xkit_webhook_outbox_due", frozenset()) in after
    assert ("xkit_db_pool_connections_in_use", frozenset()) in after
    assert ("xkit_db_pool_waiting", frozenset()) in after


def test_failed_connect_flows_are_counted_by_code(
    deployment: Deployment, microsoft: MicrosoftEmulator
) -> None:
    server = deployment.server
    platform = create_platform(deployment.environment, f"denied-{secrets.token_hex(3)}")
    before = scrape(server)
    with platform.client(server) as api:
        outlook_connector(api, server, platform, microsoft)
    end_user = new_end_user(server, platform, "user-2")
    _, to_provider = end_user.start_popup("outlook-email")
    # The user declines at the provider: back at xkit's callback with ?error=access_denied.
    callback = f"{server.url}/p/{platform.slug}/callback"
    state = provider_state(to_provider)
    denied = httpx.get(callback, params={"state": state, "error": "access_denied"},
                       cookies=to_provider.cookies)
    assert denied.status_code < 500
    after = scrape(server)
    assert moved(before, after, "xkit_connect_flows_failed_total", provider="outlook-email",
                 error_code="access_denied") == 1


def test_labels_never_carry_ids(deployment: Deployment, microsoft: MicrosoftEmulator) -> None:
    """Many distinct contexts, connections, states and paths: every label value still comes
    from a bounded set, and none is one of the ids or strings the requests carried."""
    server = deployment.server
    platform = create_platform(deployment.environment, f"many-{secrets.token_hex(3)}")
    sent: list[str] = [platform.slug, platform.publishable_key]
    with platform.client(server) as api:
        outlook_connector(api, server, platform, microsoft)
        for _ in range(15):
            external_id = f"ctx-{secrets.token_hex(6)}"
            sent.append(external_id)
            created = api.post("/api/platform/contexts", json={"context": {"external_id":
                                                                            external_id}})
            assert created.status_code in (200, 201), created.text
            assert api.get(f"/api/platform/contexts/{external_id}/connections/"
                           "outlook-email").status_code == 404
            connection_id = str(uuid.uuid4())
            sent.append(connection_id)
            assert api.get(f"/api/platform/connections/{connection_id}").status_code == 404
            path = f"/nowhere-{secrets.token_hex(6)}"
            sent.append(path)
            assert httpx.get(server.url + path).status_code == 404
            code, state = f"weird_{secrets.token_hex(5)}", secrets.token_hex(12)
            sent.extend([code, state])
            answer = httpx.get(f"{server.url}/p/{platform.slug}/callback",
                               params={"state": state, "error": code})
            assert answer.status_code < 500
    # An end user's flow denied with a made-up error code.
    end_user = new_end_user(server, platform, "user-odd")
    _, to_provider = end_user.start_popup("outlook-email")
    odd_code = f"odd_{secrets.token_hex(5)}"
    sent.append(odd_code)
    httpx.get(f"{server.url}/p/{platform.slug}/callback",
              params={"state": provider_state(to_provider), "error": odd_code},
              cookies=to_provider.cookies)

    samples = scrape(server)
    labels: dict[str, set[str]] = {}
    for (name, found), _ in samples.items():
        if name.startswith("xkit_"):
            for label, label_value in found:
                labels.setdefault(label, set()).add(label_value)
    every_value = {v for values in labels.values() for v in values}
    for secret_or_id in sent:
        assert not any(secret_or_id in v for v in every_value), secret_or_id
    assert set(labels) <= {"route", "method", "status", "outcome", "provider", "kind",
                           "status_class", "error_code", "loop", "le"}
    assert all(r == "unmatched" or r.startswith("/") for r in labels["route"])
    assert not any(re.search(r"[0-9a-f]{12}", r) for r in labels["route"])
    assert len(labels["route"]) < 60
    assert labels["provider"] <= {"outlook-email", "unknown"}
    assert labels["error_code"] <= {"access_denied", "invalid_state", "other", "cancelled"}
    assert value(samples, "xkit_connect_flows_failed_total", error_code="other") >= 1
    assert labels["method"] <= metrics.METHODS | {"other"}
    assert all(re.fullmatch(r"[1-5][0-9][0-9]", s) for s in labels["status"])


@pytest.mark.database_independent
def test_alert_rules_pass_promtool() -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(RULES)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
    tested = subprocess.run(["promtool", "test", "rules", RULE_TESTS.name],
                            cwd=RULE_TESTS.parent, capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.database_independent
def test_the_scrape_config_in_the_docs_is_valid(tmp_path: Path) -> None:
    """docs/operations.md's prometheus.yml, with its files where it says they are."""
    docs = (ROOT / "docs" / "operations.md").read_text()
    found = re.search(r"```yaml\n# prometheus.yml\n(.*?)```", docs, re.S)
    assert found is not None
    (tmp_path / "xkit-metrics-token").write_text(METRICS_TOKEN)
    config = (found.group(1)
              .replace("/etc/prometheus/xkit-rules.yml", str(RULES))
              .replace("/etc/prometheus/xkit-metrics-token", str(tmp_path / "xkit-metrics-token")))
    (tmp_path / "prometheus.yml").write_text(config)
    checked = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.database_independent
def test_rules_and_dashboard_use_metrics_xkit_exports() -> None:
    """Every ``xkit_*`` series the rules and the dashboard query is one xkit exports."""
    exported = set()
    for family in metrics.Metrics().registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
        exported.update(family.name + s for s in suffixes.get(family.type, [""]))
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = set(re.findall(r"xkit_[a-z_]+", RULES.read_text() + "\n".join(queries)))
    assert used, "no metric found in the rules or the dashboard"
    assert used <= exported, used - exported
