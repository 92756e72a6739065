from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask
from starlette.types import Receive, Scope, Send

from xkit.api.deps import CallerDep, RuntimeDep, SessionDep
from xkit.http.body_limit import ROUTE_LIMIT_KEY
from xkit.services.tokens import connections, proxy


class ProxyRoute(APIRoute):
    """The proxy carries uploads (mail attachments, files): its routes take bodies up to
    XKIT_PROXY_MAX_BODY_BYTES, where every other route keeps the app's XKIT_MAX_BODY_BYTES."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[ROUTE_LIMIT_KEY] = scope["app"].state.runtime.settings.proxy_max_body_bytes
        await super().handle(scope, receive, send)


router = APIRouter(tags=["proxy"], route_class=ProxyRoute)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
# Bodies up to this size are kept in memory so a 401 or 429 can be retried with them;
# larger ones (and chunked uploads) stream straight through to the provider.
REPLAYABLE_BODY_BYTES = 1_048_576
SUBJECT_HEADER = "x-xkit-subject"


async def proxy_call(
    connection_id: str,
    path: str,
    request: Request,
    caller: CallerDep,
    runtime: RuntimeDep,
    session: SessionDep,
) -> StreamingResponse:
    """Forwards method, query, body and an allow-list of headers to the connector's API base
    URL with the connection's credential; the provider's status and body come back as-is.

    For service-account connections, an ``X-Xkit-Subject`` header makes the call as that user
    (Google domain-wide delegation); it is not forwarded."""
    view = await connections.get_connection(session, caller.platform_id, connection_id)
    await session.commit()
    outgoing = proxy.ProxyRequest(
        method=proxy.check_method(request.method),
        path=_raw_path(request, path),
        query=request.url.query,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await _body(request),
    )
    upstream = await proxy.forward(
        runtime.token_deps,
        view,
        outgoing,
        http=runtime.proxy_http,
        allow_private=runtime.settings.proxy_allow_private_networks,
        connect_to=runtime.settings.connect_to,
        subject=request.headers.get(SUBJECT_HEADER),
    )
    response = StreamingResponse(
        upstream.body,
        status_code=upstream.status_code,
        background=BackgroundTask(upstream.close),
    )
    # raw_headers, not a dict: repeated headers (Link, Vary …) must all come back.
    response.raw_headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in upstream.headers
    )
    return response



# Whatever the provider answered, with its status and content type: no schema of ours.
_PASSED_THROUGH: dict[int | str, dict[str, Any]] = {200: {
    "description": "The provider's answer, as it came",
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}}

# One route per method, so each has its own operation id in /openapi.json.
for _method in METHODS:
    router.add_api_route(
        "/proxy/{connection_id}/{path:path}",
        proxy_call,
        methods=[_method],
        summary="Call the provider's API as the connection's user",
        operation_id=f"proxy_{_method.lower()}",
        response_class=StreamingResponse,
        responses=_PASSED_THROUGH,
    )

def _raw_path(request: Request, decoded: str) -> str:
    """The path as the client sent it: ids with an encoded '/', '?' or '#' (Graph has them)
    must reach the provider still encoded, not split into other path segments."""
    raw = request.scope.get("raw_path")
    if not raw:
        return decoded
    parts = raw.decode("latin-1").split("?", 1)[0].split("/", 5)
    return parts[5] if len(parts) == 6 else ""


async def _body(request: Request) -> bytes | AsyncIterator[bytes]:
    """Small bodies in memory (a 401 or 429 can be retried with them); past
    REPLAYABLE_BODY_BYTES the rest streams through as it arrives, sent once."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) <= REPLAYABLE_BODY_BYTES:
        return await request.body()
    chunks = request.stream()
    buffered = bytearray()
    async for chunk in chunks:
        buffered += chunk
        if len(buffered) > REPLAYABLE_BODY_BYTES:
            return _continued(bytes(buffered), chunks)
    return bytes(buffered)


async def _continued(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk
