"""A TCP relay in front of a test server that can reset connections on demand.

What a provider behind a flaky load balancer does to a TLS connection: the client's bytes
arrive and the peer answers with a TCP RST (``SO_LINGER`` 0, then close) instead of a reply.
The relay resets *before* forwarding, so the server never sees the request — like a reset
on the way in, after which a retry is safe.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType


class ResettingRelay:
    """Listen on 127.0.0.1:``port`` and relay to ``target_port``; :meth:`reset_next` arms it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._armed = 0
        self.resets = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset_next(self, count: int = 1) -> None:
        """Reset the next ``count`` client writes (on new or kept-alive connections)."""
        with self._lock:
            self._armed = count

    def _take_reset(self) -> bool:
        with self._lock:
            if self._armed <= 0:
                return False
            self._armed -= 1
            self.resets += 1
            return True

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if from_client and self._take_reset():
                    _reset(source)
                    sink.close()
                    return
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._running = False
        self._listener.close()
        for sock in list(self._open):
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> ResettingRelay:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST rather than a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
