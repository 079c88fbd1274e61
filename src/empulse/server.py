"""Running the ASGI server: uvicorn with our logging, graceful SIGTERM and multi-process metrics."""

from __future__ import annotations

import os
import shutil
import signal

import uvicorn

from empulse.config import Settings
from empulse.core.logging import configure_logging

APP_FACTORY = "empulse.app:create_app"


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

    # After a graceful shutdown uvicorn re-raises the signal it caught, so that the default
    # action (death by SIGTERM, exit status 143) applies. A completed drain is a clean exit for
    # us: this handler turns that re-raise into a normal return, so the process exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)

    uvicorn.run(
        app_factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # X-Forwarded-For is read only from TRUSTED_PROXIES, in the app
        server_header=False,
        timeout_graceful_shutdown=shutdown_timeout,
        timeout_keep_alive=5,
    )
