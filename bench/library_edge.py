"""The service's edge for a play: the service itself with one route more,
`POST /api/v1/bench/plays/{id}`, declared as the play's route is (the same body and answer,
the default rate limit, authentication, the middleware) but doing the floor's one INSERT
(bench/library_floor.py) on the service's pool instead of deciding the play. Between the floor
and it lies what the service's HTTP edge costs any authenticated write; between it and
`POST /tracks/{id}/plays`, what deciding a play costs. Served from `DATABASE_URL` as the
service is.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.util import greenlet_spawn

from bench.library_floor import INSERT_PLAY
from empulse.app import create_app as create_service
from empulse.auth.dependencies import CurrentPrincipal, require_principal, token_user_id
from empulse.plays.schemas import PlayIn, PlayOut
from empulse.services import AppServices
from empulse.web.ratelimit import RateLimit
from empulse.web.routing import add_routes


def create_app() -> FastAPI:
    router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_principal)])

    @router.post("/bench/plays/{track_id}", response_model=PlayOut, status_code=201)
    async def edge_play(
        track_id: uuid.UUID, body: PlayIn, principal: CurrentPrincipal, services: AppServices
    ) -> PlayOut:
        raw = await services.engine.raw_connection()
        driver: Any = raw.driver_connection
        try:
            await driver.execute(
                INSERT_PLAY,
                uuid.uuid4(),
                body.play_id,
                track_id,
                body.started_at,
                body.ms_played,
                datetime.now(UTC),
            )
        finally:
            await greenlet_spawn(raw.close)
        return PlayOut(
            play_id=body.play_id,
            track_id=track_id,
            started_at=body.started_at,
            ms_played=body.ms_played,
            qualified=True,
            reason=None,
        )

    app = create_service()
    default = RateLimit("default", identify=token_user_id)
    add_routes(app, router, dependencies=[Depends(default)])
    return app
