"""What every Graph handler of the emulator shares: its error and the query option readers."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .state import AccessToken, EmulatorState, User


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


Handler = Callable[[Request, EmulatorState, AccessToken, User, list[str]],
                   Coroutine[Any, Any, Response]]

NOT_FOUND = ("ErrorItemNotFound", "The specified object was not found in the store.")


def base_url(request: Request) -> str:
    return f"https://{request.headers.get('host') or request.url.netloc}"


def select(request: Request) -> list[str]:
    raw = request.query_params.get("$select")
    return [item.strip() for item in raw.split(",") if item.strip()] if raw else []


def int_option(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query option '{name}'.")
    return value
