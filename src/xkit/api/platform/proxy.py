from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from xkit.api.deps import CallerDep, RuntimeDep, SessionDep
from xkit.services import connections, proxy

router = APIRouter(tags=["proxy"])
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
# Bodies up to this size are kept in memory so a 401 or 429 can be retried with them;
# larger ones (and chunked uploads) stream straight through to the provider.
REPLAYABLE_BODY_BYTES = 1_048_576
SUBJECT_HEADER = "x-xkit-subject"


@router.api_route(
    "/proxy/{connection_id}/{path:path}",
    methods=METHODS,
    summary="Call the provider's API as the connection's user",
)
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
    view = await connections.get_connection(session, caller.platform.id, connection_id)
    await session.commit()
    outgoing = proxy.ProxyRequest(
        method=proxy.check_method(request.method),
        path=path,
        query=request.url.query,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
    )
    upstream = await proxy.forward(
        runtime.token_deps,
        view,
        outgoing,
        allow_private=runtime.settings.proxy_allow_private_networks,
        subject=request.headers.get(SUBJECT_HEADER),
    )
    return StreamingResponse(
        upstream.body,
        status_code=upstream.status_code,
        headers=dict(upstream.headers),
        background=BackgroundTask(upstream.close),
    )  # type: ignore[arg-type]
