"""Every API error is JSON shaped ``{"error": {"code", "message"}}``; no request gets a 500
with a traceback, and no error echoes the input it refused (it may hold a secret)."""

from __future__ import annotations

import logging
import math
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from xkit.errors import XkitError

log = logging.getLogger("xkit.api")


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def is_database_outage(exc: BaseException) -> bool:
    """Pool exhausted, connection lost or refused, database gone — not a bug in a query
    (integrity, data or programming errors stay 500s, loudly)."""
    if isinstance(exc, SQLAlchemyTimeoutError | ConnectionError):
        return True
    return isinstance(exc, DBAPIError) and not isinstance(
        exc, IntegrityError | DataError | ProgrammingError | NotSupportedError)


def is_storage_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or PostgreSQL's disk_full (SQLSTATE 53100): an operator's
    problem to tell apart from an outage, since waiting alone will not fix it."""
    original = getattr(exc, "orig", None)
    return (getattr(original, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(original, "sqlstate", None) == "53100")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(XkitError)
    async def _domain(_request: Request, exc: XkitError) -> JSONResponse:
        headers = (
            {"WWW-Authenticate": 'Basic realm="xkit", Bearer'} if exc.status_code == 401 else None
        )
        retry_after = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
        if isinstance(retry_after, int | float):
            headers = {"Retry-After": str(math.ceil(retry_after))}
        return error_response(exc.status_code, exc.code, exc.message, exc.details or None, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        if any(p["type"] == "json_invalid" for p in problems):
            return error_response(400, "invalid_json", "the request body is not valid JSON")
        summary = "; ".join(f"{'.'.join(p['loc'][1:]) or 'body'}: {p['message']}" for p in problems)
        return error_response(422, "invalid_input", summary or "invalid input", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    # Registered for these classes (not only under Exception) so Starlette's inner exception
    # layer answers them, instead of the outermost one, which re-raises into the server log.
    @app.exception_handler(DBAPIError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    @app.exception_handler(ConnectionError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if not is_database_outage(exc):
            return await _unexpected(request, exc)
        if is_storage_full(exc):
            log.error("database out of disk space on %s %s", request.method, request.url.path)
            return error_response(503, "database_full",
                                  "xkit's database has no disk space left. Nothing was saved; "
                                  "retry once the operator has freed space.",
                                  {"retry_after": 30}, headers={"Retry-After": "30"})
        # Down, restarting or saturated: a retryable answer, not a crash.
        log.warning("database unavailable on %s %s: %s", request.method,
                    request.url.path, type(exc).__name__)
        return error_response(503, "database_unavailable",
                              "xkit's database is busy or unreachable; retry shortly",
                              {"retry_after": 1}, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unexpected %s on %s %s",
            type(exc).__name__,
            request.method,
            request.url.path,
            exc_info=exc,
        )
        return error_response(
            500, "internal_error", "xkit hit an unexpected error; it is logged on the server"
        )
