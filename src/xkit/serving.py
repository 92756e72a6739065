"""``xkit serve``'s uvicorn server, stopping in the order a rolling restart needs.

On SIGTERM uvicorn closes its listening socket and lets requests in flight finish (up to
``XKIT_SHUTDOWN_GRACE_SECONDS``, its ``timeout_graceful_shutdown``) before running the app's
shutdown. The worker inside the server would keep taking webhook deliveries and refreshes
during all that time; told at the signal instead, it takes no new work from the first moment
and finishes what it holds alongside the requests.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType

import uvicorn


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            self._on_stop()
        super().handle_exit(sig, frame)
