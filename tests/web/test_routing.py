"""Routes added flat (web/routing.py) behave and are documented as FastAPI's `include_router`
would have them: no option of a path operation is lost on the way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeGuard

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, WebSocket
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from empulse.api import API_ROUTERS
from empulse.health.endpoints import router as health_router
from empulse.web.routing import add_routes


def _app(add: Callable[[FastAPI, APIRouter], None], routers: tuple[APIRouter, ...]) -> FastAPI:
    app = FastAPI(responses={429: {"description": "Rate limited."}})
    for router in routers:
        add(app, router)
    return app


def _api(route: BaseRoute) -> TypeGuard[APIRoute]:
    return isinstance(route, APIRoute)


def _marker(name: str) -> Callable[[Request], None]:
    def mark(request: Request) -> None:
        request.state.calls = [*getattr(request.state, "calls", []), name]

    return mark


def test_the_api_is_documented_exactly_as_included_routers_document_it() -> None:
    routers = (health_router, *API_ROUTERS)
    extra = [Depends(_marker("default"))]
    included = _app(lambda app, router: app.include_router(router, dependencies=extra), routers)
    flat = _app(lambda app, router: add_routes(app, router, dependencies=extra), routers)

    assert flat.openapi() == included.openapi()
    declared = {(r.path, r.name) for router in routers for r in router.routes if _api(r)}
    assert declared <= {(r.path, r.name) for r in flat.routes if isinstance(r, APIRoute)}


@pytest.mark.parametrize("mode", ["include_router", "add_routes"])
async def test_dependencies_methods_and_status_behave_as_declared(mode: str) -> None:
    router = APIRouter(prefix="/things", dependencies=[Depends(_marker("router"))])

    @router.post("/{thing_id}", status_code=201, dependencies=[Depends(_marker("route"))])
    async def make(thing_id: int, request: Request) -> dict[str, object]:
        return {"id": thing_id, "calls": request.state.calls}

    extra = [Depends(_marker("default"))]
    app = FastAPI()
    if mode == "include_router":
        app.include_router(router, dependencies=extra)
    else:
        add_routes(app, router, dependencies=extra)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        made = await client.post("/things/7")
        wrong_method = await client.get("/things/7")
        wrong_type = await client.post("/things/seven")

    assert made.status_code == 201
    assert made.json() == {"id": 7, "calls": ["default", "router", "route"]}
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_type.status_code == 422


def test_only_api_routes_can_be_added_flat() -> None:
    async def echo(websocket: WebSocket) -> None:
        await websocket.close()

    router = APIRouter()
    router.add_websocket_route("/socket", echo)

    with pytest.raises(TypeError, match="not an API route"):
        add_routes(FastAPI(), router)
