"""Operations endpoints: liveness, readiness, configuration check, Prometheus metrics.

They live outside `/api/v1` and outside rate limits: probes and scrapers call them often.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from empulse import __version__
from empulse.core import metrics
from empulse.core.errors import ServiceUnavailable
from empulse.health import service
from empulse.health.schemas import Liveness, Readiness, StartupCheck
from empulse.services import AppServices
from empulse.web.routing import PlainRoute

router = APIRouter(tags=["operations"])

_PROBLEM_503 = {"description": "Not ready; the problem document names the failing checks."}


_LIVENESS_BODY = Liveness(version=__version__).model_dump_json(by_alias=True).encode()


async def liveness(_: Request) -> Response:
    """The process is up and serving. Checks no dependency, so a database outage does not make
    an orchestrator restart every instance.

    A plain Starlette route, matched before the API routes: probes call it constantly, and it
    needs none of FastAPI's per-route machinery (dependencies, validation, serialisation).
    """
    return Response(_LIVENESS_BODY, media_type="application/json")


liveness_route = PlainRoute("/api/health", liveness, methods=["GET"], name="liveness")


@router.get(
    "/api/health/ready",
    response_model=Readiness,
    summary="Readiness",
    responses={503: _PROBLEM_503},
)
async def readiness(services: AppServices) -> Readiness:
    """Database, Redis (when configured) and storage answer; 503 while any does not, and while
    the process is draining before shutdown."""
    result = await service.check_readiness(services)
    if result.status != "ready":
        failed = [name for name, check in result.checks.items() if not check.ok]
        detail = (
            "Shutting down: finishing in-flight requests."
            if result.status == "draining"
            else f"Not ready: {', '.join(failed)} failed."
        )
        raise ServiceUnavailable(
            detail,
            code="draining" if result.status == "draining" else "not_ready",
            extensions={
                "checks": result.model_dump(by_alias=True)["checks"],
                "failed": failed,
            },
        )
    return result


@router.get(
    "/api/startup-check",
    response_model=StartupCheck,
    summary="Configuration check",
    responses={503: {"description": "The configuration is not safe for its mode."}},
)
async def startup_check(services: AppServices) -> JSONResponse:
    """Whether the configuration is complete and safe for the mode it runs in. Names each
    setting and its state; never shows a value."""
    result = service.startup_check(services)
    return JSONResponse(
        result.model_dump(mode="json", by_alias=True), status_code=200 if result.ok else 503
    )


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(services: AppServices) -> Response:
    body, content_type = metrics.render()
    queue = await service.job_queue(services)
    if queue is not None:
        body += metrics.job_queue_text(queue)
    return Response(body, media_type=content_type)
