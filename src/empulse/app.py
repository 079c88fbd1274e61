"""create_app(): middleware order, error handlers, lifespan. Imported by nothing."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.applications import Starlette

from empulse import __version__
from empulse.account_data import ACCOUNT_DATA
from empulse.api import include_api
from empulse.auth.dependencies import ACCESS_COOKIE, optional_principal, require_principal
from empulse.config import Settings, ensure_safe, load_settings
from empulse.core import migrations
from empulse.core.logging import configure_logging, get_logger
from empulse.health.endpoints import liveness_route
from empulse.health.endpoints import router as health_router
from empulse.playlists.endpoints import COVER_PATH
from empulse.profiles.endpoints import IMAGE_PATH
from empulse.server import DRAIN_SIGNAL
from empulse.services import Services, build_services
from empulse.submissions.endpoints import UPLOAD_PATHS
from empulse.submissions.service import upload_body_limit
from empulse.tasks import JOB_KINDS
from empulse.web import openapi
from empulse.web.body_limit import BodyLimitMiddleware
from empulse.web.context import RequestContextMiddleware
from empulse.web.cors import CorsMiddleware
from empulse.web.docs import mount_docs
from empulse.web.paths import API_PREFIX, DOCS_URL, OPENAPI_URL
from empulse.web.problems import register_error_handlers
from empulse.web.routing import add_routes, index_routes
from empulse.web.security_headers import SecurityHeaders

# Bodies that are an image (a regular expression per path), checked by their endpoints.
IMAGE_PATHS = (IMAGE_PATH, COVER_PATH)

log = get_logger("empulse.app")


class UnmigratedDatabaseError(RuntimeError):
    pass


async def _prepare_database(services: Services) -> None:
    settings = services.settings
    await migrations.warn_if_unmaintained(services.engine)
    if not await migrations.pending(settings, services.engine):
        return
    if settings.is_production:
        raise UnmigratedDatabaseError(
            "the database has pending migrations; run `empulse migrate` before starting"
        )
    log.info("applying_migrations", database=settings.redacted_database_url())
    await asyncio.to_thread(migrations.upgrade_to_head, settings)


def _install_drain_hook(services: Services) -> Callable[[], None]:
    """On the server's drain signal (server.py: SIGTERM reached the main process), mark this
    worker as draining: readiness answers 503 while requests go on being served, so a load
    balancer takes the instance out before the listener closes."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()

    def begin_draining() -> None:
        if not services.draining:
            services.draining = True
            log.info("draining_worker", pid=os.getpid())

    loop.add_signal_handler(DRAIN_SIGNAL, begin_draining)

    def restore() -> None:
        loop.remove_signal_handler(DRAIN_SIGNAL)

    return restore


def _freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, routes, compiled schemas and statements,
    the services) out of the cyclic garbage collector's reach.

    A full collection otherwise walks all of it: 110-140 ms with the event loop stopped, every
    few seconds under load, which was the whole p99 of GET /auth/me (docs/performance.md).
    Frozen objects are still freed by reference counting; only cycles among them (start-up
    leftovers, a bounded, one-time amount) wait for `gc.unfreeze()` at shutdown. No collection
    runs first: `freeze()` itself is constant-time, a full pass is not.
    """
    gc.freeze()


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    settings = settings or load_settings()
    ensure_safe(settings)
    if configure_logs:
        configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings, JOB_KINDS, ACCOUNT_DATA)
        app.state.services = services
        restore_signals = _install_drain_hook(services)
        try:
            await _prepare_database(services)
            services.start_background(run_jobs=settings.jobs_in_process)
            log.info(
                "started",
                version=__version__,
                mode=settings.env.value,
                database="sqlite" if settings.database_is_sqlite else "postgresql",
                redis=bool(settings.redis_url),
                storage=services.storage.name,
                pid=os.getpid(),
            )
            _freeze_startup_objects()
            yield
        finally:
            gc.unfreeze()
            restore_signals()
            await services.aclose()
            log.info("stopped", pid=os.getpid())

    app = FastAPI(
        title="EmPulse API",
        version=__version__,
        summary="The backend of EmPulse, a music platform for independent artists.",
        description=(
            "JSON API for listeners, artists and admins. Errors are RFC 9457 problem documents "
            "(`application/problem+json`) with a stable `code` and the `requestId`."
        ),
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # Traces and metrics are Prometheus and structured logs here; FastAPI's OpenTelemetry
        # hooks would otherwise check for configured providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        responses={
            422: {"description": "Validation failed (problem document with `errors`)."},
            429: {"description": "Rate limited (problem document; see `Retry-After`)."},
        },
    )
    register_error_handlers(app)
    app.router.routes.insert(0, liveness_route)
    add_routes(app, health_router)
    include_api(app)
    openapi.install(
        app,
        authenticators=(optional_principal, require_principal),
        session_cookie=ACCESS_COOKIE,
    )
    mount_docs(app, docs_url=DOCS_URL, openapi_url=OPENAPI_URL, title="EmPulse API")
    install_middleware(app, settings)
    index_routes(app)
    return app


def install_middleware(app: Starlette, settings: Settings) -> None:
    """The service's middleware, in its order (bench/bare_app.py puts a bare endpoint behind the
    same stack). Starlette runs the last-added middleware first. Request order, outermost
    first: request context (id, client IP, security headers, log, metrics, 500) -> CORS -> body
    guard."""
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_json_body_bytes,
        json_prefix=API_PREFIX,
        # Each file has its own, tighter limit, enforced while it streams (submissions/upload).
        limits_by_prefix={
            **dict.fromkeys(UPLOAD_PATHS, upload_body_limit(settings)),
        },
        multipart_prefixes=UPLOAD_PATHS,
        raw_paths=dict.fromkeys(IMAGE_PATHS, settings.max_cover_bytes),
        min_rate=settings.http_body_min_rate,
        grace_seconds=settings.http_body_grace_seconds,
    )
    app.add_middleware(CorsMiddleware, allowed_origins=settings.allowed_origins)
    app.add_middleware(
        RequestContextMiddleware,
        security_headers=SecurityHeaders(hsts=settings.is_production, docs_prefix=DOCS_URL),
        trusted_proxies=settings.trusted_proxies,
    )
