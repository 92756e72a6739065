"""What the app does when it starts its own runtime (as ``xkit serve`` does)."""

from __future__ import annotations

import asyncio
import gc

import httpx

from tests.support.xkit import XkitEnvironment
from xkit.app import create_app


def test_start_up_state_is_moved_out_of_the_collectors_way(
    fresh_environment: XkitEnvironment,
) -> None:
    """A full collection over everything start-up built stalled requests by 50-90 ms; what
    start-up built is frozen, so collections walk only what requests allocate."""
    app = create_app(fresh_environment.settings().model_copy(update={"worker_enabled": False}))

    async def serve_once() -> tuple[int, int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://xkit") as client:
                status = (await client.get("/healthz")).status_code
            return status, gc.get_freeze_count()

    gc.unfreeze()
    try:
        status, frozen = asyncio.run(serve_once())
    finally:
        gc.unfreeze()
    assert status == 200
    assert frozen > 50_000
