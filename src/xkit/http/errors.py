"""Every API error is JSON shaped ``{"error": {"code", "message"}}`` (a page a person opened
gets the same message as a small HTML page instead: the route says which, see
:func:`xkit.http.routes.error_style`); no request gets a 500 with a traceback, and no error
echoes the input it refused (it may hold a secret)."""

from __future__ import annotations

import logging
import math
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from xkit.db.errors import EXPLANATIONS, DatabaseProblem, classify, sqlstate
from xkit.errors import XkitError
from xkit.http import error_page
from xkit.http.routes import ErrorStyle, error_style

log = logging.getLogger("xkit.api")


#: On every error answer xkit makes itself, with its code: through the proxy, it tells xkit's
#: own refusal (``reconnect_required``, ``provider_unreachable`` …) from a provider's error
#: that passed through, whose body may look the same. The proxy never passes a provider's own
#: header of this name on.
ERROR_HEADER = "Xkit-Error"


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status,
                        headers={**(headers or {}), ERROR_HEADER: code})


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


_PAGE_TITLES = {
    400: "That request was not valid",
    404: "Not found",
    409: "That did not work",
    413: "That was too large",
    429: "Too many attempts",
    503: "Please try again in a moment",
}


def answer(
    request: Request, status: int, code: str, message: str, details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error as JSON for APIs, or as a small HTML page for a page a person opened."""
    if error_style(request.scope) is not ErrorStyle.HTML:
        return error_response(status, code, message, details, headers)
    sentence = message[:1].upper() + message[1:]
    page = error_page.response(status, _PAGE_TITLES.get(status, "Something went wrong"),
                               sentence if sentence.endswith((".", "!", "?")) else sentence + ".")
    page.headers.update(headers or {})
    return page


def is_storage_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or PostgreSQL's disk_full (SQLSTATE 53100): an operator's
    problem to tell apart from an outage, since waiting alone will not fix it."""
    original = getattr(exc, "orig", None)
    return (getattr(original, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(original, "sqlstate", None) == "53100")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(XkitError)
    async def _domain(request: Request, exc: XkitError) -> Response:
        headers = (
            {"WWW-Authenticate": 'Basic realm="xkit", Bearer'} if exc.status_code == 401 else None
        )
        retry_after = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
        if isinstance(retry_after, int | float):
            headers = {"Retry-After": str(math.ceil(retry_after))}
        return answer(request, exc.status_code, exc.code, exc.message, exc.details or None,
                      headers)

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
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return answer(request, exc.status_code, code, message,
                      headers=getattr(exc, "headers", None))

    # Registered for these classes (not only under Exception) so Starlette's inner exception
    # layer answers them, instead of the outermost one, which re-raises into the server log.
    @app.exception_handler(DBAPIError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    @app.exception_handler(ConnectionError)
    async def _database(request: Request, exc: Exception) -> Response:
        problem = classify(exc)
        if problem is None:
            return await _unexpected(request, exc)
        # Never the statement or its parameters: they may hold what the request sent.
        state = sqlstate(exc) if isinstance(exc, DBAPIError) else None
        log.warning("database %s on %s %s: %s%s", problem, request.method, request.url.path,
                    type(exc).__name__, f" (SQLSTATE {state})" if state else "")
        if is_storage_full(exc):  # waiting alone will not fix it: tell the operator
            log.error("database out of disk space on %s %s", request.method, request.url.path)
            return answer(request, 503, "database_full",
                          "xkit's database has no disk space left. Nothing was saved; "
                          "retry once the operator has freed space.",
                          {"retry_after": 30}, headers={"Retry-After": "30"})
        message = EXPLANATIONS[problem]
        if problem is DatabaseProblem.OUTAGE:
            # Down, restarting or saturated: a retryable answer, not a crash.
            return answer(request, 503, "database_unavailable", message, {"retry_after": 1},
                          headers={"Retry-After": "1"})
        if problem is DatabaseProblem.INVALID_DATA:
            return answer(request, 400, "invalid_input", message)
        return answer(request, 409, "conflict", message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error(
            "unexpected %s on %s %s",
            type(exc).__name__,
            request.method,
            request.url.path,
            exc_info=exc,
        )
        return answer(request, 500, "internal_error",
                      "xkit hit an unexpected error; it is logged on the server")
