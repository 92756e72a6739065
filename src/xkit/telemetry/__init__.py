"""OpenTelemetry traces, when the ``otel`` extra is installed and the standard ``OTEL_*``
variables ask for them.

The rule (also in docs/operations.md, "Tracing"): tracing is on when ``OTEL_SDK_DISABLED`` is
not ``true`` and ``OTEL_TRACES_EXPORTER`` is set to something other than ``none``, or an OTLP
endpoint is given (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``).
Everything else (service name, sampler, batch delays, headers) is the SDK's own reading of
the standard variables.

This module imports no OpenTelemetry package: a process whose environment does not ask for
traces pays nothing, and one without the extra installed runs exactly as before.
:mod:`xkit.telemetry.otel`, which does, is imported only once tracing is on. Each helper here
is a no-op while it is off, so the app, the engine and the HTTP clients call them
unconditionally.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import httpx

from xkit.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette

    from xkit.telemetry.otel import Tracing

log = logging.getLogger("xkit.telemetry")

_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_tracing: Tracing | None = None
_decided = False


def requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces (see the module's rule)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return any(env.get(name, "").strip() for name in _ENDPOINT_VARIABLES)


def start() -> Tracing | None:
    """Set up the process's tracer provider once, if asked; the active tracing, or None.

    Asked for but the extra missing: a warning, and xkit runs untraced (an operator's
    variables meant for another process in the same environment must not stop this one).
    A variable naming something xkit cannot do (an exporter it does not ship) stops start-up
    with a message, since traces silently going nowhere is worse."""
    global _tracing, _decided
    if _decided:
        return _tracing
    _decided = True
    if not requested():
        return None
    try:
        from xkit.telemetry import otel
    except ImportError as exc:
        log.warning("OTEL_* variables ask for traces, but the otel extra is not installed "
                    "(pip install 'xkit[otel]'): running without traces (%s)", exc.name)
        return None
    try:
        _tracing = otel.Tracing.from_environment()
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    from xkit import logs

    logs.use_trace_ids(otel.current_trace_ids)
    log.info("traces go to %s", _tracing.destination)
    return _tracing


def active() -> Tracing | None:
    return _tracing


def instrument_app(app: Starlette) -> None:
    """Spans for requests, named by route template; the outermost layer, so that every log
    line of a request (the access log's too) carries its trace id."""
    if _tracing is not None:
        _tracing.instrument_app(app)


def instrument_engine(engine: AsyncEngine) -> None:
    """A span for each SQL statement: its text with placeholders, never the bound values."""
    if _tracing is not None:
        _tracing.instrument_engine(engine)


def traced_transport(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    """``transport`` with a span around each outbound request (provider calls, the proxy,
    webhooks), or ``transport`` itself when tracing is off."""
    if _tracing is None:
        return transport
    return _tracing.traced_transport(transport)


def flush() -> None:
    """Send what is buffered (before a process ends, or a test reads the receiver)."""
    if _tracing is not None:
        _tracing.flush()
