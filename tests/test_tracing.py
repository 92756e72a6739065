"""OpenTelemetry traces (the ``otel`` extra): a real ``xkit serve`` with the standard
``OTEL_*`` variables sends its spans to an OTLP/HTTP receiver this test runs, through a
connect flow, a token fetch (with a refresh) and a proxied Graph call at the Microsoft
emulator. Requests, SQL statements and provider calls arrive as spans, each log line of a
request names that request's trace, and no span carries a secret this test knows."""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from sqlalchemy import select

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.database import temporary_database
from tests.support.flow import back_at_xkit, new_end_user, outlook_connector, with_opener
from tests.support.tls import TestCertificates
from tests.support.xkit import XkitEnvironment, XkitServer, create_platform, installation_settings
from xkit import logs, telemetry
from xkit.db.models import Authorization
from xkit.runtime import Runtime
from xkit.services.tokens.authorization_values import decrypt_from

SERVER, CLIENT = 2, 3  # OTLP's SpanKind numbers
TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    attributes: dict[str, Any]


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP trace receiver: ``POST /v1/traces`` with a protobuf
    ExportTraceServiceRequest, decoded with the opentelemetry-proto package."""

    url: str = ""
    requests: list[ExportTraceServiceRequest] = field(default_factory=list)

    def spans(self) -> list[Span]:
        found = []
        for request in list(self.requests):
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        found.append(Span(
                            name=span.name, trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(), parent_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes={a.key: _value(MessageToDict(a.value))
                                        for a in span.attributes}))
        return found

    def everything(self) -> str:
        """Every request as JSON: names, attributes, events, resources, statuses."""
        return "\n".join(json.dumps(MessageToDict(r)) for r in list(self.requests))


def _value(any_value: dict[str, Any]) -> Any:
    return next(iter(any_value.values()), None)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    received = OtlpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert self.path == "/v1/traces", self.path
            assert self.headers["Content-Type"] == "application/x-protobuf"
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.requests.append(request)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()


@pytest.fixture
def traced_server(tmp_path: Path, test_certificates: TestCertificates,
                  receiver: OtlpReceiver) -> Iterator[XkitServer]:
    """``xkit serve`` told by the standard variables to send its traces to ``receiver``."""
    with temporary_database(tmp_path) as url:
        environment = XkitEnvironment.new(tmp_path / "data", url)
        environment.extra = {
            **installation_settings(test_certificates),
            "XKIT_WORKER_ENABLED": "false",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "xkit-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        server = XkitServer(environment, tmp_path / "xkit-serve.log")
        try:
            yield server
        finally:
            server.stop()


def _access_lines(output: str) -> dict[str, tuple[str, str]]:
    """``GET /path`` → (trace_id, span_id) from each access log line that has them."""
    lines = re.findall(r"xkit\.access trace_id=([0-9a-f]{32}) span_id=([0-9a-f]{16}): "
                       r"(\w+ \S+) \d{3}", output)
    return {request: (trace_id, span_id) for trace_id, span_id, request in lines}


def _wait_for(receiver: OtlpReceiver, trace_ids: set[str]) -> list[Span]:
    """The spans, once every trace in ``trace_ids`` has its server span."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        spans = receiver.spans()
        if trace_ids <= {s.trace_id for s in spans if s.kind == SERVER}:
            return spans
        time.sleep(0.1)
    raise AssertionError(f"spans of {trace_ids} did not arrive: {receiver.spans()}")


def test_requests_statements_and_provider_calls_are_traced_without_secrets(
        traced_server: XkitServer, receiver: OtlpReceiver,
        microsoft: MicrosoftEmulator) -> None:
    server = traced_server
    platform = create_platform(server.environment, "traced")
    with platform.client(server) as api:
        microsoft.configure(access_token_lifetime=200)  # the token fetch must refresh
        app = outlook_connector(api, server, platform, microsoft)["app"]
        microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
        end_user = new_end_user(server, platform, "user-1")
        created = end_user.api("POST", "/connections", json={"connector": "outlook-email"})
        authorization_id = created.json()["authorization"]["id"]
        link = end_user.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]
        to_provider = httpx.get(with_opener(link, "https://app.example.test"), timeout=30)
        with microsoft.client() as provider:
            consent = provider.get(to_provider.headers["location"])
        callback = consent.headers["location"]
        assert back_at_xkit(callback, to_provider).status_code == 200

        fetched = api.get(TOKEN_PATH)
        assert fetched.status_code == 200, fetched.text
        connection_id = fetched.json()["connection"]["id"]
        proxied = api.get(f"/api/platform/proxy/{connection_id}/me/messages",
                          params={"$top": "1"})
        assert proxied.status_code == 200, proxied.text

    callback_request = f"GET /p/{platform.slug}/callback"
    fetch_request = f"GET {TOKEN_PATH}"
    proxy_request = f"GET /api/platform/proxy/{connection_id}/me/messages"
    deadline = time.monotonic() + 10  # the access log line follows the answer's last byte
    while not {callback_request, fetch_request, proxy_request} <= (
            logged := _access_lines(server.output())).keys():
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.1)
    spans = _wait_for(receiver, {logged[r][0] for r in (callback_request, fetch_request,
                                                        proxy_request)})

    def trace_of(request: str) -> tuple[Span, list[Span]]:
        trace_id, span_id = logged[request]
        in_trace = [s for s in spans if s.trace_id == trace_id]
        # the log line was written inside the request's own span
        root = next(s for s in in_trace if s.span_id == span_id)
        assert root.kind == SERVER and root.parent_id == ""
        return root, in_trace

    provider_host = urlsplit(microsoft.base_url).hostname

    root, in_trace = trace_of(callback_request)
    assert root.name == "GET /p/{platform_slug}/callback"
    assert root.attributes["http.route"] == "/p/{platform_slug}/callback"
    assert f"POST {provider_host}" in {s.name for s in in_trace if s.kind == CLIENT}

    root, in_trace = trace_of(fetch_request)
    assert root.name == "GET /api/platform/contexts/{external_id}/connections/{connector_slug}"
    statements = [s for s in in_trace if "db.statement" in s.attributes
                  or "db.query.text" in s.attributes]
    assert statements and all(s.parent_id for s in statements)
    assert any("authorizations" in str(s.attributes.get("db.statement")
                                       or s.attributes.get("db.query.text"))
               for s in statements)
    refresh = [s for s in in_trace if s.name == f"POST {provider_host}"]
    assert len(refresh) == 1 and refresh[0].kind == CLIENT

    root, in_trace = trace_of(proxy_request)
    assert root.name.startswith("GET /api/platform/proxy/{connection_id}/")
    graph = next(s for s in in_trace if s.name == f"GET {provider_host}")
    urls = [v for k, v in graph.attributes.items() if k in ("url.full", "http.url")]
    assert urls and all(url.endswith("/me/messages") for url in urls), graph.attributes

    for span in spans:
        assert connection_id not in span.name and "user-1" not in span.name, span.name

    # What the test knows that must never leave in a span.
    query = parse_qs(urlsplit(callback).query)
    secrets = {
        "API secret key": platform.secret_key,
        "client secret": app["secrets"][0],
        "context token": end_user.token,
        "popup link token": parse_qs(urlsplit(link).query)["token"][0],
        "authorization code": query["code"][0],
        "state": query["state"][0],
        "access token": fetched.json()["authorization"]["access_token"],
        **_stored_tokens(server.environment, authorization_id),
    }
    everything = receiver.everything()
    assert "xkit-under-test" in everything  # OTEL_SERVICE_NAME names the service
    leaked = {name for name, value in secrets.items() if value and value in everything}
    assert leaked == set()


def _stored_tokens(environment: XkitEnvironment, authorization_id: str) -> dict[str, str]:
    async def read(runtime: Runtime) -> dict[str, str]:
        async with runtime.sessions() as session:
            authorization = (await session.scalars(select(Authorization).where(
                Authorization.id == authorization_id))).one()
            return {column: decrypt_from(runtime.keyring, authorization, column) or ""
                    for column in ("access_token", "refresh_token")}
    return environment.with_runtime(read)


@pytest.mark.database_independent
def test_without_the_variables_nothing_is_loaded(tmp_path: Path) -> None:
    """No OTEL_* variable: xkit imports none of the SDK or the instrumentations."""
    probe = (
        "import sys; from xkit.app import create_app; create_app(); "
        "from xkit import telemetry; assert telemetry.active() is None; "
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('opentelemetry.')}))"
    )
    env = {"PATH": "/usr/bin:/bin", "XKIT_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.replace("'", '"')))
    assert not loaded & {"sdk", "instrumentation", "exporter"}, loaded


@pytest.mark.database_independent
@pytest.mark.parametrize(("variables", "on"), [
    ({}, False),
    ({"OTEL_SERVICE_NAME": "xkit"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
    ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
])
def test_which_variables_turn_tracing_on(variables: dict[str, str], on: bool) -> None:
    assert telemetry.requested(variables) is on


@pytest.mark.database_independent
def test_log_lines_name_the_active_span_in_both_formats() -> None:
    ids = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    logs.use_trace_ids(lambda: ids)
    try:
        lines = {}
        for fmt, formatter in (("json", logs.JsonFormatter()), ("text", logging.Formatter(
                "%(name)s%(trace)s: %(message)s", defaults={"trace": ""}))):
            out = io.StringIO()
            handler = logging.StreamHandler(out)
            handler.addFilter(logs.ScrubbingFilter())
            handler.setFormatter(formatter)
            handler.handle(logging.makeLogRecord({"name": "xkit.test", "msg": "hello",
                                                  "levelno": logging.INFO}))
            lines[fmt] = out.getvalue().strip()
    finally:
        logs.use_trace_ids(None)
    entry = json.loads(lines["json"])
    assert (entry["trace_id"], entry["span_id"]) == ids and entry["message"] == "hello"
    assert lines["text"] == f"xkit.test trace_id={ids[0]} span_id={ids[1]}: hello"
