"""Turning a configured fault into the response a misbehaving Microsoft would send.

Shapes: Graph's throttling answer is the sample in "Microsoft Graph throttling guidance"
(https://learn.microsoft.com/graph/throttling): status 429, a ``Retry-After`` header in
seconds, and ``{"error": {"code": "TooManyRequests", "message": "Please retry again later.",
"innerError": {"code": "429", "status": "429", ...}}}``. The identity platform documents
``temporarily_unavailable`` and ``server_error`` for a busy or failing token endpoint.
"""

from __future__ import annotations

import asyncio

from starlette.responses import Response

from .errors import IdentityError, aadsts, graph_error_response, identity_error_response
from .pages import error_page
from .state import Fault

# A JSON document cut short, as a proxy that dropped the connection mid-body would deliver.
GARBAGE_BODY = '{"token_type": "Bearer", "scope": "Mail.Read", "expires_in": 35'

_TOKEN_ERRORS = {
    400: ("invalid_request", 90023),
    429: ("temporarily_unavailable", 90055),
    500: ("server_error", 50000),
    503: ("temporarily_unavailable", 90006),
    504: ("temporarily_unavailable", 90006),
}
_GRAPH_ERRORS = {
    429: ("TooManyRequests", "Please retry again later."),
    500: ("generalException", "An unspecified error has occurred."),
    503: ("serviceNotAvailable", "The service is not available. Try again after a delay."),
    504: ("gatewayTimeout", "The upstream server did not respond in time."),
}


async def apply_fault(
    fault: Fault, *, login_host: str, client_request_id: str | None = None
) -> Response | None:
    """The faulty response, or None when the request should proceed (after a delay).

    A delay happens *before* the request is processed, so if the client gives up waiting the
    server-side effect (a rotated refresh token, a sent mail) still takes place, exactly the
    situation that makes retries dangerous with real providers.
    """
    if fault.kind == "delay":
        await asyncio.sleep(fault.seconds)
        return None
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    headers.update(fault.headers)
    if fault.kind == "garbage":
        return Response(
            GARBAGE_BODY, status_code=fault.status, media_type="application/json", headers=headers
        )
    if fault.target == "token":
        error, code = _TOKEN_ERRORS.get(fault.status, ("server_error", 50000))
        exc = IdentityError(error, code, status=fault.status, detail="injected fault")
        return identity_error_response(exc, login_host=login_host, headers=headers)
    if fault.target == "graph":
        code_name, message = _GRAPH_ERRORS.get(fault.status, _GRAPH_ERRORS[500])
        inner = {"code": str(fault.status), "status": str(fault.status)}
        if fault.status == 429:
            inner["message"] = "Please retry after"
        return graph_error_response(
            fault.status,
            code_name,
            message,
            client_request_id=client_request_id,
            headers=headers,
            inner=inner,
        )
    response = error_page(aadsts(90006), status=fault.status)
    response.headers.update(headers)
    return response
