"""Running the ASGI server: granian, with our logging, the HTTP edge's bounds, draining on
SIGTERM and multi-process metrics.

Why granian: its HTTP/1 parser (hyper) refuses a request head past a size bound or with more than
100 fields (431) and drops a client that sends its head too slowly, in the server itself, where
uvicorn accepted an 8 MB header, 20,000 fields and a head sent one line every 2 s; and it serves
the same app faster (docs/performance.md, "Server"). A body sent too slowly is refused by
`web/body_limit.py`, which any server runs.

Granian always runs a main process that spawns the workers and stops them. The drain lives
there: on SIGTERM the main process tells every worker to answer readiness with 503 (SIGUSR1,
`app.py`), waits `EMPULSE_DRAIN_SECONDS`, then lets granian stop the workers, which finish
their in-flight requests and run the app's shutdown.

Workers are forked from the main process, so until granian installs a worker's own handlers
(after the app is loaded) a worker runs the main process's SIGTERM handler. Left as granian has
it, a SIGTERM that reached a worker still loading the app was taken as the main process's and
dropped: the worker then served until killed `shutdown_timeout` later. Such a worker has served
nothing, so it now stops at once. A stop signal sent to a worker in the instant after its fork
is held until the worker can take it (`run`). The drain signal is ignored until the app listens
for it, so one sent to a worker still loading does not kill it.

In the main process only the main thread takes stop signals. Python runs a handler in the main
thread whichever thread the signal reached, but a main thread waiting on a lock (granian's main
loop waits on an event) is woken only by a signal delivered to it: one that reached a thread
watching a worker was noted and never handled, and the server served on. The threads granian
starts beside each worker, and each fork, begin with the stop signals blocked
(`_DrainingServer._spawn_worker`), so the kernel hands them to the main thread, holding one
that arrives during a fork until the fork is done.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import threading
from typing import Any

from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings
from granian.server import MPServer

from empulse.config import Settings
from empulse.core.logging import configure_logging, get_logger

APP_FACTORY = "empulse.app:create_app"
# Sent by the main process to each worker when draining begins (app.py listens for it).
DRAIN_SIGNAL = signal.SIGUSR1

log = get_logger("empulse.server")


class _DrainingServer(MPServer):
    """Granian's process manager, with a drain between SIGTERM and stopping the workers."""

    def __init__(self, *args: Any, drain_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drain_seconds = drain_seconds
        self._draining = False
        self._main_pid = os.getpid()

    def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
        # Runs in the main thread between two bytecodes: it only starts the drain's thread.
        if os.getpid() != self._main_pid:
            _stop_loading_worker(args[0] if args else signal.SIGTERM)
        if self._draining or self.drain_seconds <= 0:
            super().signal_handler_interrupt()  # type: ignore[no-untyped-call]
            return
        self._draining = True
        threading.Thread(target=self._drain_then_stop, name="drain", daemon=True).start()

    def _spawn_worker(self, *args: Any, **kwargs: Any) -> Any:
        worker = super()._spawn_worker(*args, **kwargs)
        start = worker.start

        def start_holding_stop_signals() -> None:
            # The fork and the thread that watches the worker inherit the blocked signals;
            # the worker unblocks them once forked (`run`), the watcher keeps them blocked.
            _block_stop_signals()
            try:
                start()  # type: ignore[no-untyped-call]
            finally:
                _unblock_stop_signals()

        worker.start = start_holding_stop_signals  # type: ignore[method-assign]
        return worker

    def _drain_then_stop(self) -> None:
        log.info("draining", seconds=self.drain_seconds, workers=len(self.wrks))
        for worker in list(self.wrks):
            pid = worker.inner.pid
            if pid is not None:
                os.kill(pid, DRAIN_SIGNAL)
        threading.Event().wait(self.drain_seconds)
        super().signal_handler_interrupt()  # type: ignore[no-untyped-call]


_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _block_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def _unblock_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _stop_loading_worker(signum: int) -> None:
    """In a worker not yet serving: end the process as the signal's default action would."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def run(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int = 1,
    app_factory: str = APP_FACTORY,
    shutdown_timeout: int = 30,
) -> None:
    configure_logging(settings.log_level)
    if workers > 1:
        # Each worker writes its samples to files here; /metrics adds them up.
        metrics_dir = settings.data_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    # Once, before any worker starts: workers migrating a fresh database at the same time
    # would race (the app's start-up then finds nothing to do).
    asyncio.run(_migrate_outside_production(settings))

    server = _DrainingServer(
        app_factory,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.http_head_timeout_seconds * 1000),
            max_buffer_size=settings.http_max_head_bytes,
        ),
        # Our logging (configured above, and again by the app in each worker) and our access
        # line (web/context.py); granian's would be a second, differently shaped one.
        log_enabled=False,
        log_access=False,
        workers_kill_timeout=shutdown_timeout,
        drain_seconds=settings.drain_seconds,
    )
    # Inherited by the workers; the app replaces it with its handler once loaded (app.py).
    signal.signal(DRAIN_SIGNAL, signal.SIG_IGN)
    # A stop signal that reached a new worker between the fork and the interpreter's reset of
    # its pending signals (`PyOS_AfterFork_Child`) would be lost, and the worker served on
    # until killed: held blocked across the fork (`_DrainingServer._spawn_worker`), it is
    # delivered once the child is ready.
    os.register_at_fork(after_in_child=_unblock_stop_signals)
    log.info("listening", url=f"http://{host}:{port}", docs=f"http://{host}:{port}/api/v1/docs")
    server.serve()


async def _migrate_outside_production(settings: Settings) -> None:
    from empulse.core import migrations
    from empulse.core.db import create_engine

    if settings.is_production:
        return  # `empulse migrate` is an explicit step there; the app refuses a stale schema
    engine = create_engine(settings)
    try:
        if not await migrations.pending(settings, engine):
            return
    finally:
        await engine.dispose()
    log.info("applying_migrations", database=settings.redacted_database_url())
    await asyncio.to_thread(migrations.upgrade_to_head, settings)
