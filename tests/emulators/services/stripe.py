"""Stripe's API, the part xkit's Stripe template touches: ``GET /v1/account`` and
``GET /v1/customers``.

From Stripe's API reference, "Authentication": the secret key is the HTTP Basic user name
with no password, or a Bearer token. A request without a valid key gets a 401 with
``{"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: ..."}}``,
the key masked in the message.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .state import ServicesState, StripeAccount


def _key(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.split(":", 1)[0]
    return ""


def _account(request: Request) -> StripeAccount | Response:
    state: ServicesState = request.app.state.services
    key = _key(request)
    for account in state.stripe.values():
        if key and hmac.compare_digest(account.secret_key, key):
            return account
    masked = f"{key[:8]}{'*' * 8}{key[-4:]}" if len(key) > 12 else "(none)"
    return JSONResponse({"error": {"type": "invalid_request_error",
                                   "message": f"Invalid API Key provided: {masked}"}},
                        status_code=401)


async def account(request: Request) -> Response:
    found = _account(request)
    return found if isinstance(found, Response) else JSONResponse(found.account())


async def customers(request: Request) -> Response:
    found = _account(request)
    if isinstance(found, Response):
        return found
    return JSONResponse({"object": "list", "url": "/v1/customers", "has_more": False,
                         "data": found.customers})


routes = [
    Route("/v1/account", account, methods=["GET"]),
    Route("/v1/customers", customers, methods=["GET"]),
]
