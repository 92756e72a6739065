"""Logging set-up: plain text for people, JSON lines for machines, secrets scrubbed from both.

Nothing should log a secret in the first place; the scrubber is the second line of defence for
values that reach a message by accident (an exception text, a URL with a query string).

Everything is cleaned in one place, the handler's filter, so no call site can forget: every
field of every record (the message and each extra such as ``path``) is scrubbed, and control
characters in it are escaped, since a request controls much of what gets logged (a path with an
encoded newline would otherwise start a forged line of its own). In the text format every line
that starts at column 0 is a record of its own; a traceback's lines are indented under it.

With tracing on (:mod:`xkit.telemetry`), every record made while a span is active carries its
``trace_id`` and ``span_id``: after the logger's name in the text format, as fields in JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Callable

_SECRET_PATTERNS = (
    re.compile(r"xkit_sk_[A-Za-z0-9_-]+"),
    re.compile(r"xk1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)((?:client_secret|access_token|refresh_token|id_token|password|token)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+"
    ),
    re.compile(r"(?i)((?<![a-z_])(?:code|state|code_verifier)=)[^\s&\"']+"),
    # JSON Web Tokens (context tokens, id tokens): three base64url segments, the first a JSON
    # header, so it starts ``eyJ`` (``{"``).
    re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
)
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: anything a terminal
# or a log viewer could take as the end of a line (or an escape sequence).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# What a LogRecord holds of its own; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


# What tells the ids of the active span, once tracing is on (xkit.telemetry sets it; logging
# itself never imports OpenTelemetry).
_trace_ids: Callable[[], tuple[str, str] | None] | None = None


def use_trace_ids(source: Callable[[], tuple[str, str] | None] | None) -> None:
    global _trace_ids
    _trace_ids = source


# Every pattern above needs one of these words; most log text has none (an access line), so
# a few substring tests spare it the substitutions: the access log is written on every request.
_SECRET_MARKERS = ("xkit_sk_", "xk1.", "bearer", "secret", "token", "password", "code", "state",
                   "eyj")


def scrub(text: str) -> str:
    lowered = text.lower()
    if not any(marker in lowered for marker in _SECRET_MARKERS):
        return text
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


def escape_controls(text: str) -> str:
    """``\\n``, ``\\r``, ``\\x1b``, ``\\u2028``…: visible, and never a line break."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def clean(text: str) -> str:
    """What any logged text goes through: secrets out, control characters escaped."""
    return escape_controls(scrub(text))


class ScrubbingFilter(logging.Filter):
    """Cleans each record in place before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        cleaned = clean(record.getMessage())
        if record.exc_info or record.exc_text:
            trace = record.exc_text or (
                logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
            # Each line escaped, and indented so that none can pass for a record of its own.
            cleaned += "".join(f"\n    {clean(line)}" for line in trace.splitlines())
            record.exc_info = None
            record.exc_text = None
        if record.stack_info:
            cleaned += "".join(f"\n    {clean(line)}" for line in record.stack_info.splitlines())
            record.stack_info = None
        record.msg, record.args = cleaned, None
        for key in vars(record).keys() - _RECORD_ATTRIBUTES:  # the extras
            value = getattr(record, key)
            if isinstance(value, str):
                setattr(record, key, clean(value))
        ids = _trace_ids() if _trace_ids is not None else None
        if ids is not None:
            record.trace_id, record.span_id = ids
            record.trace = f" trace_id={ids[0]} span_id={ids[1]}"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``pid`` tells apart the processes of ``xkit serve
    --workers N``, which write to the same stream."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key in ("method", "path", "route", "status", "duration_ms", "platform", "trace_id",
                    "span_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return json.dumps(entry)


def configure_logging(level: str = "info", fmt: str = "text", *, with_pid: bool = False) -> None:
    """Log to standard error; ``with_pid`` puts the process id in each text line, for the
    processes of ``xkit serve --workers N`` (JSON records always carry it)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ScrubbingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        pid = " [%(process)d]" if with_pid else ""
        handler.setFormatter(logging.Formatter(
            f"%(asctime)s{pid} %(levelname)-7s %(name)s%(trace)s: %(message)s",
            defaults={"trace": ""}))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpcore", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
