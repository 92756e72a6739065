"""The OpenTelemetry side of :mod:`xkit.telemetry`: imported only when tracing is on, so
only then are the SDK and the instrumentations loaded.

What leaves the process is held to the same rule as the logs — nothing secret — twice over:

- Requests: the ASGI instrumentation is shown a copy of each request without its query
  string (OAuth ``code`` and ``state`` ride there), with only harmless headers (never
  ``Authorization`` or cookies) and with the path scrubbed; the span is named by the route's
  template (``GET /api/platform/contexts/{external_id}``), never by the raw path.
- Every span, whoever made it: before export, URL attributes lose their query strings and
  credentials, header attributes that could hold a credential are dropped, and every string
  goes through the log scrubber (:func:`xkit.logs.scrub`). SQL statement spans carry the
  statement with its placeholders; SQLAlchemy's instrumentation never records bound values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport, RequestInfo
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, Status
from opentelemetry.util.types import AttributeValue
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xkit import __version__
from xkit.http.access_log import route_template
from xkit.logs import clean, scrub

# Attributes that hold a URL (old and new HTTP semantic conventions) or a part of one.
_URL_ATTRIBUTES = frozenset({"url.full", "http.url", "http.target", "url.original"})
_DROPPED_ATTRIBUTES = frozenset({"url.query"})
_HEADER_ATTRIBUTE = re.compile(r"^http\.(?:request|response)\.header\.(.+)$")
_CREDENTIAL_HEADER = re.compile(r"auth|cookie|token|secret|key|signature|session|csrf", re.I)
# What the request instrumentation may read of a request's headers: enough for the standard
# attributes and for joining a caller's trace; nothing that could carry a credential.
_SHOWN_HEADERS = frozenset({b"host", b"user-agent", b"traceparent", b"tracestate",
                            b"content-length", b"content-type", b"x-forwarded-for",
                            b"x-forwarded-proto", b"forwarded"})
_ORIGINAL_SCOPE = "xkit.original_scope"


def without_query(url: str) -> str:
    """``url`` without query string, fragment or user:password (it may be a bare path)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def scrub_attributes(attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]:
    kept: dict[str, AttributeValue] = {}
    for key, value in (attributes or {}).items():
        header = _HEADER_ATTRIBUTE.match(key)
        if key in _DROPPED_ATTRIBUTES or (header and _CREDENTIAL_HEADER.search(header.group(1))):
            continue
        if isinstance(value, str):
            kept[key] = scrub(without_query(value) if key in _URL_ATTRIBUTES else value)
        elif isinstance(value, Sequence) and not isinstance(value, bytes):
            kept[key] = [scrub(v) if isinstance(v, str) else v for v in value]
        else:
            kept[key] = value
    return kept


def scrubbed(span: ReadableSpan) -> ReadableSpan:
    """A copy of ``span`` fit to leave the process."""
    status = span.status
    if status.description:
        status = Status(status.status_code, scrub(status.description))
    return ReadableSpan(
        name=scrub(span.name), context=span.context, parent=span.parent, resource=span.resource,
        attributes=scrub_attributes(span.attributes),
        events=[Event(e.name, scrub_attributes(e.attributes), e.timestamp) for e in span.events],
        links=span.links, kind=span.kind, status=status, start_time=span.start_time,
        end_time=span.end_time, instrumentation_scope=span.instrumentation_scope,
    )


class ScrubbingExporter(SpanExporter):
    """Hands the exporter scrubbed copies: the last stop before anything leaves."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([scrubbed(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


class _StatementTracer:
    """Starts a statement's span only inside another span — a request, a provider call —
    where it says something; the worker's polls and the migrations at start would otherwise
    send a trace of their own for every statement, a few each second with nothing to do."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    def start_span(self, name: str, context: Any = None, **options: Any) -> Span:
        if not trace.get_current_span(context).get_span_context().is_valid:
            return trace.INVALID_SPAN
        return self.tracer.start_span(name, context, **options)


def _method_only(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The span's first name: the method alone (the route is known only once routed)."""
    return str(scope.get("method", "HTTP")), {}


class _Unwrap:
    """Inside the request instrumentation: the app gets the request as it came, and the span
    is named by the route that answered it — as the answer starts, since the instrumentation
    ends the span with the answer's last byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        original: Scope = scope[_ORIGINAL_SCOPE]
        span = trace.get_current_span()

        async def naming_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                template = route_template(original)
                if template is not None:
                    span.update_name(f"{original['method']} {template}")
                    span.set_attribute("http.route", template)
            await send(message)

        await self.app(original, receive, naming_send)


class TracedRequests:
    """The outermost layer: a server span per HTTP request (see the module's docstring)."""

    def __init__(self, app: ASGIApp, tracer_provider: TracerProvider) -> None:
        self.app = app
        self.traced = OpenTelemetryMiddleware(
            _Unwrap(app), default_span_details=_method_only, tracer_provider=tracer_provider,
            exclude_spans=["receive", "send"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        shown = {key: value for key, value in scope.items() if key != "raw_path"}
        shown.update({
            "path": clean(scope["path"]),
            "query_string": b"",
            "headers": [(k, v) for k, v in scope["headers"] if k.lower() in _SHOWN_HEADERS],
            _ORIGINAL_SCOPE: scope,
        })
        await self.traced(shown, receive, send)


async def _name_outbound(span: Span, request: RequestInfo) -> None:
    """``POST login.microsoftonline.com``: the host says which provider, the path would say
    too much (ids, tenants)."""
    method = request.method.decode() if isinstance(request.method, bytes) else request.method
    span.update_name(f"{method} {httpx.URL(str(request.url)).host}")


def _exporter(env: Mapping[str, str]) -> tuple[SpanExporter, str]:
    """The exporter ``OTEL_TRACES_EXPORTER`` names (``otlp``, the default, or ``console``)
    and where it sends spans, for the start-up log."""
    name = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if name == "console":
        return ConsoleSpanExporter(), "standard output"
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name}: xkit exports traces with otlp "
                         "(OTLP over HTTP) or console")
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip()
    if protocol != "http/protobuf":
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: xkit sends OTLP over HTTP "
                         "(http/protobuf); point it at the collector's HTTP port (4318)")
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318").rstrip("/")
        + "/v1/traces")
    return OTLPSpanExporter(), without_query(endpoint)


@dataclass
class Tracing:
    provider: TracerProvider
    destination: str

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Tracing:
        env = os.environ if env is None else env
        exporter, destination = _exporter(env)
        resource = Resource.create({SERVICE_VERSION: __version__})
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "xkit"}))
        provider = TracerProvider(resource=resource)  # the sampler: OTEL_TRACES_SAMPLER
        provider.add_span_processor(BatchSpanProcessor(ScrubbingExporter(exporter)))
        trace.set_tracer_provider(provider)
        return cls(provider=provider, destination=destination)

    def instrument_app(self, app: Starlette) -> None:
        app.add_middleware(TracedRequests, tracer_provider=self.provider)

    def instrument_engine(self, engine: AsyncEngine) -> None:
        tracer = trace.get_tracer("xkit.db", __version__, self.provider)
        usage = get_meter("xkit.db").create_up_down_counter("db.client.connections.usage")
        EngineTracer(_StatementTracer(tracer), engine.sync_engine, usage, enable_commenter=False)

    def traced_transport(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return AsyncOpenTelemetryTransport(
            transport, tracer_provider=self.provider, request_hook=_name_outbound)

    def flush(self) -> None:
        self.provider.force_flush()


def current_trace_ids() -> tuple[str, str] | None:
    """The active span's trace and span ids, as trace backends show them (hex)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
