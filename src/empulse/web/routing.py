"""Routers added to the app route by route, not as included routers; and the index that finds
a request's route without trying every route before it.

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
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

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


# A request's path is looked up by this many leading segments ("/api/v1/tracks/…").
_INDEXED_SEGMENTS = 3


def _literal_segments(route: BaseRoute) -> tuple[str, ...]:
    """The leading whole segments of `route`'s path that hold no parameter: only a request
    whose path starts with the same segments can match it (none for a route of another kind,
    which is then tried for every path)."""
    if not isinstance(route, Route | Mount):
        return ()
    path = route.path
    segments = path.split("{", 1)[0].split("/")[1:]
    if "{" in path:
        segments = segments[:-1]  # the segment the first parameter is in (or starts)
    return tuple(segments[:_INDEXED_SEGMENTS])


class RouteIndex:
    """The app's router, finding a request's route among the few whose leading literal
    segments are the path's instead of trying all of them in turn.

    Starlette matches a request against each route in order until one matches in full: one
    regular expression each with FastAPI's checks, so a route near the end of this API's 116
    paid 0.1 ms of CPU a request or more to be found (bench/routing.py; docs/performance.md,
    "Routing"). The index keeps the routes in their order and skips only routes that cannot
    match the path, so the route chosen is the one the router would choose. Whatever finds no
    full match (405, the trailing-slash redirect, 404) goes to the router itself, as does a
    request under a `root_path` or with FastAPI's telemetry on. Routes added after the index
    was built are seen: it is rebuilt when the route list changes length."""

    def __init__(self, router: APIRouter) -> None:
        if router.form_limits:
            raise ValueError("the route index does not apply a router's form limits")
        self._router = router
        self._fallback: ASGIApp = router.app
        self._by_segments: dict[tuple[str, ...], list[BaseRoute]] = {}
        self._indexed = -1

    def _rebuild(self) -> None:
        routes = self._router.routes
        literal = [(route, _literal_segments(route)) for route in routes]
        keys = {()} | {
            segments[:length] for _, segments in literal for length in range(len(segments) + 1)
        }
        self._by_segments = {
            key: [route for route, segments in literal if key[: len(segments)] == segments]
            for key in keys
        }
        self._indexed = len(routes)

    def candidates(self, path: str) -> list[BaseRoute]:
        if len(self._router.routes) != self._indexed:
            self._rebuild()
        key = tuple(path.split("/", _INDEXED_SEGMENTS + 1)[1 : _INDEXED_SEGMENTS + 1])
        while (found := self._by_segments.get(key)) is None:
            key = key[:-1]  # no route has these segments: those with fewer may still match
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not scope.get("root_path")
            and "fastapi.telemetry" not in scope
        ):
            for route in self.candidates(scope["path"]):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    if "fastapi" in child_scope:  # FastAPI's own scope merging: its router's
                        break
                    scope.setdefault("router", self._router)
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self._fallback(scope, receive, send)


def index_routes(app: FastAPI) -> None:
    """Route `app`'s requests through a RouteIndex (the router's middleware stack is its
    `app`: this app adds its middleware to the application, not the router)."""
    if app.router.middleware_stack != app.router.app:
        raise RuntimeError("the router has its own middleware; the index would bypass it")
    app.router.middleware_stack = RouteIndex(app.router)
