"""Routers added to the app route by route, not as included routers.

FastAPI 0.165 keeps an included router as one entry of the app's route list. On every request
it walks that router route by route, twice (once to match, once to handle), and saves and
restores its scope keys around each candidate. For a route near the end of this API that was
about half of FastAPI's share of the request (docs/performance.md, "Fifth run"). Each route is
instead added to the app again with `add_api_route`, as it was declared plus the given
dependencies, which is what `include_router` did before 0.165. The app then holds plain routes
and Starlette matches them with one regular expression each.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, params
from fastapi.routing import APIRoute
from starlette.routing import Match, Route
from starlette.types import Scope

# Every option of a path operation is kept on its route under the same name.
_ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in {"self", "route_class_override"}
)


def add_routes(
    app: FastAPI,
    router: APIRouter,
    *,
    dependencies: Sequence[params.Depends] = (),
    response_models: Mapping[str, Any] | None = None,
) -> None:
    """Add each of `router`'s routes to `app`, with `dependencies` run before its own.
    `response_models` replaces, by route name, a response model that only the assembled app
    knows in full (the data export, with every domain's part)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r} is not an API route; include its router instead")
        options = {name: getattr(route, name) for name in _ROUTE_OPTIONS}
        options["dependencies"] = [*dependencies, *route.dependencies]
        if response_models and route.name in response_models:
            options["response_model"] = response_models[route.name]
        app.router.add_api_route(route_class_override=type(route), **options)


class PlainRoute(Route):
    """A Starlette route that names itself in the scope as FastAPI's routes do, so the access
    line and the metrics label its requests by its path instead of as unmatched."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope
