"""``xkit serve``'s uvicorn server, stopping in the order a rolling restart needs; and, with
``--workers N``, the parent that runs N of them on one listening socket.

On SIGTERM uvicorn closes its listening socket and lets requests in flight finish (up to
``XKIT_SHUTDOWN_GRACE_SECONDS``, its ``timeout_graceful_shutdown``) before running the app's
shutdown. The worker inside the server would keep taking webhook deliveries and refreshes
during all that time; told at the signal instead, it takes no new work from the first moment
and finishes what it holds alongside the requests.

Several processes (``XKIT_WORKERS`` > 1): the parent binds the socket once and hands it to
each child, rather than each child binding its own with ``SO_REUSEPORT``. All children accept
from one queue, so an idle child takes the next connection and a busy or stuck one is passed
over; a child that dies leaves no queue of its own behind to be reset (with ``SO_REUSEPORT``
the connections waiting in its queue are refused, and a stuck child keeps being dealt its
share); and it behaves the same on every OS. The cost: a long-lived keep-alive connection
stays with the child that accepted it, so a few such clients can load the children unevenly
(docs/performance.md measures it). The parent imports no application state and opens no
database: it migrates and checks the keyring once (``cli.serve``), prepares what every child
shares (:func:`prepare_children`), starts the children, restarts one that dies, and on
SIGTERM or SIGINT passes SIGTERM on to all of them and waits until each has drained.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from xkit import metrics

if TYPE_CHECKING:
    from xkit.app import XkitApp
    from xkit.settings import Settings

log = logging.getLogger("xkit.serve")

# uvicorn's exit status for an app that could not start (its lifespan failed).
STARTUP_FAILURE = 3
# A child that dies before it has served this long is restarted after a pause that doubles
# each time (up to the maximum), so that a crash loop does not spin the machine.
STEADY_SECONDS = 10.0
FIRST_PAUSE_SECONDS = 1.0
MAX_PAUSE_SECONDS = 30.0
LISTEN_BACKLOG = 2048  # uvicorn's default


class GracefulServer(uvicorn.Server):
    """uvicorn, telling the app at the first stop signal (``on_stop``) and, when given
    ``on_started``, saying when it accepts connections."""

    def __init__(self, config: uvicorn.Config, *, on_stop: Callable[[], None],
                 on_started: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._on_stop = on_stop
        self._on_started = on_started

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            self._on_stop()
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_started is not None:
            self._on_started()


def server_config(application: XkitApp, settings: Settings) -> uvicorn.Config:
    """How ``xkit serve`` runs uvicorn, whether in one process or in each of N."""
    return uvicorn.Config(
        application,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        # Client addresses (and with them the rate limits) come from X-Forwarded-For only
        # when the peer is a trusted proxy; with none configured the header is ignored.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def serve_one(settings: Settings) -> None:
    """One process: uvicorn binds the address itself (``XKIT_WORKERS=1``, the default)."""
    from xkit.app import create_app

    application = create_app(settings)
    try:
        GracefulServer(server_config(application, settings), on_stop=application.begin_stop).run()
    finally:
        metrics.process_exiting()


# -- several processes ---------------------------------------------------------------------

def listening_socket(host: str, port: int) -> socket.socket:
    """The one socket every child accepts on, bound and listening before any child starts, so
    that connections arriving while the children start wait in its queue."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def prepare_children(settings: Settings) -> Settings:
    """The parent's one place to prepare what its children share, run once after the
    migrations and the keyring check and before the first child starts.

    Returns the settings every child runs with: the migrations are done (a child only checks
    that the schema is current). Whatever is set in ``os.environ`` here reaches every child,
    restarted ones included (they start as fresh interpreters from this environment): a
    multi-process metrics directory, say, is created or emptied here and named in the
    environment, and :meth:`Supervisor._child_exited` is where a child's end is noted."""
    return settings.model_copy(update={"migrate_on_start": False})


def child_settings(settings: Settings, slot: int) -> Settings:
    """The background worker (webhook outbox, token upkeep) runs in the first child only.

    Leases would make one in every child safe, but not free: N pollers of the outbox and N
    upkeep scans load the database the token fetch needs, and on SQLite each lease is a
    write that waits across processes for the one write lock, where a process's own writers
    queue in order and others' do not. Its work is waiting on the network, which one process
    does as well as N; more delivery capacity is ``xkit worker`` processes."""
    return settings.model_copy(update={"worker_enabled": settings.worker_enabled and slot == 0})


@dataclass
class Child:
    """One slot of the N: the process in it now, and how its restarts are going."""

    slot: int
    process: BaseProcess | None = None
    ready: Connection | None = None  # the child's "serving" message arrives here
    started_at: float = 0.0
    serving_since: float | None = None
    pause: float = 0.0  # before the next restart, after a quick death
    restart_at: float | None = None
    pids: list[int] = field(default_factory=list)


class Supervisor:
    """Runs ``processes`` children of ``xkit serve`` on ``sock`` until SIGTERM or SIGINT."""

    def __init__(self, settings: Settings, sock: socket.socket, *, processes: int) -> None:
        self.settings = settings
        self.sock = sock
        self.children = [Child(slot) for slot in range(processes)]
        self.context = multiprocessing.get_context("spawn")
        self.stopping = False
        self.exit_code = 0
        self._signals: list[int] = []
        self._wakeup_read, self._wakeup_write = socket.socketpair()

    def run(self) -> int:
        """Serve until asked to stop; the exit status: 0, or 1 when a child could not start
        at all (the same configuration would fail in every restart)."""
        for sock in (self._wakeup_read, self._wakeup_write):
            sock.setblocking(False)
        previous_wakeup = signal.set_wakeup_fd(self._wakeup_write.fileno())
        handled = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            log.info("parent process %d starting %d processes", os.getpid(),
                     len(self.children))
            for child in self.children:
                self._start(child)
            while any(c.process is not None for c in self.children):
                self._step()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_wakeup)
            self._wakeup_read.close()
            self._wakeup_write.close()
            with contextlib.suppress(OSError):
                self.sock.close()
        log.info("every process has stopped")
        return self.exit_code

    # -- the loop --------------------------------------------------------------------------
    def _step(self) -> None:
        waiting: list[object] = [self._wakeup_read]
        for child in self.children:
            if child.process is not None:
                waiting.append(child.process.sentinel)
            if child.ready is not None:
                waiting.append(child.ready)
        restarts = [c.restart_at for c in self.children if c.restart_at is not None]
        timeout = max(0.0, min(restarts) - time.monotonic()) if restarts else None
        woken = wait(waiting, timeout)  # type: ignore[arg-type]  # stub: connections only
        if self._wakeup_read in woken:
            with contextlib.suppress(OSError):
                while self._wakeup_read.recv(512):
                    pass
        for sig in self._signals:
            if not self.stopping:
                self._stop(f"{signal.Signals(sig).name} received")
            elif sig == signal.SIGINT:  # a second Ctrl-C: do not wait for requests in flight
                log.warning("second SIGINT; stopping without waiting")
                for child in self.children:
                    self._signal(child, signal.SIGINT)
        self._signals.clear()
        for child in self.children:
            if child.ready is not None and child.ready in woken:
                self._on_ready(child)
            if child.process is not None and child.process.sentinel in woken:
                self._on_exit(child)
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None and child.restart_at <= now and not self.stopping:
                child.restart_at = None
                self._start(child)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._signals.append(sig)  # handled in the loop; the wakeup fd interrupts its wait

    def _stop(self, reason: str) -> None:
        """Stop listening and tell every child to stop gracefully; the loop ends once the
        last one has exited."""
        self.stopping = True
        log.info("%s; stopping %d processes gracefully", reason,
                 sum(c.process is not None for c in self.children))
        # New connections are refused once every child has closed its copy too.
        with contextlib.suppress(OSError):
            self.sock.close()
        for child in self.children:
            child.restart_at = None
            self._signal(child, signal.SIGTERM)

    def _signal(self, child: Child, sig: int) -> None:
        if child.process is not None and child.process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.process.pid, sig)

    # -- children --------------------------------------------------------------------------
    def _start(self, child: Child) -> None:
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=run_child, name=f"xkit-serve-{child.slot}",
            args=(child_settings(self.settings, child.slot), child.slot, self.sock, writer))
        process.start()
        writer.close()  # the child holds the other copy: its end reads as end-of-file here
        child.process, child.ready = process, reader
        child.started_at, child.serving_since = time.monotonic(), None
        if process.pid is not None:
            child.pids.append(process.pid)

    def _on_ready(self, child: Child) -> None:
        assert child.ready is not None
        try:
            pid = child.ready.recv()
        except (EOFError, OSError):  # it died first: its sentinel says so
            child.ready.close()
            child.ready = None
            return
        child.serving_since = time.monotonic()
        child.ready.close()
        child.ready = None
        log.info("process %d (slot %d%s) is serving", pid, child.slot,
                 ", with the background worker" if child.slot == 0
                 and self.settings.worker_enabled else "")

    def _on_exit(self, child: Child) -> None:
        process = child.process
        assert process is not None
        process.join()
        if child.ready is not None:
            child.ready.close()
            child.ready = None
        child.process = None
        self._child_exited(process)
        if self.stopping:
            return
        code = process.exitcode
        how = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0
               else f"exit status {code}")
        if child.serving_since is None and len(child.pids) == 1 and code == STARTUP_FAILURE:
            log.error("process %s (slot %d) could not start (%s), and would not "
                      "in a restart either", process.pid, child.slot, how)
            self.exit_code = 1
            self._stop("a process could not start")
            return
        now = time.monotonic()
        lived, served = now - child.started_at, now - (child.serving_since or now)
        child.pause = (0.0 if served >= STEADY_SECONDS
                       else min(MAX_PAUSE_SECONDS, max(FIRST_PAUSE_SECONDS, child.pause * 2)))
        child.restart_at = time.monotonic() + child.pause
        log.warning("process %s (slot %d) died (%s) after %.1f s; starting "
                    "another%s", process.pid, child.slot, how, lived,
                    f" in {child.pause:.0f} s" if child.pause else "")

    def _child_exited(self, process: BaseProcess) -> None:
        """A child has ended, whether stopped or dead: the place for the parent to tidy what
        it kept for that process (a multi-process metrics directory's files of a dead pid)."""
        log.debug("process %s ended with %s", process.pid, process.exitcode)
        if process.pid is not None:
            metrics.process_ended(process.pid)


def run_child(settings: Settings, slot: int, sock: socket.socket, ready: Connection) -> None:
    """A child's life: the app and its runtime (the worker in slot 0 only), serving on the
    parent's socket until SIGTERM, and stopping by itself if the parent dies without a word."""
    from xkit.app import create_app
    from xkit.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format, with_pid=True)
    _stop_when_orphaned()
    application = create_app(settings)

    def _serving() -> None:
        with contextlib.suppress(OSError):  # a parent gone meanwhile: the watch stops us
            ready.send(os.getpid())
        ready.close()

    server = GracefulServer(server_config(application, settings),
                            on_stop=application.begin_stop, on_started=_serving)
    server.run(sockets=[sock])


def _stop_when_orphaned(interval: float = 1.0) -> None:
    """SIGTERM this process (the graceful stop) once its parent is gone: a parent killed with
    SIGKILL cannot pass the stop on, and a child must not serve on without a supervisor."""
    parent = os.getppid()

    def _watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        logging.getLogger("xkit.serve").warning(
            "the parent process %d is gone; stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=_watch, name="xkit-orphan-watch", daemon=True).start()
