"""The baseline: one JSON endpoint on bare Starlette, served by the same uvicorn stack."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": "0.0.0"})


def create_app() -> Starlette:
    return Starlette(routes=[Route("/api/health", health), Route("/api/v1", health)])
