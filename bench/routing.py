"""Finding a request's route: Starlette's walk over every route in order against the route index
(web/routing.RouteIndex), for one path of every route of the app, in one process.

    uv run python -m bench.routing [--rounds 2000]

Prints µs of CPU to find the route, the mean over all routes and for the last route of the
list, both ways. Only the matching is timed: nothing is sent, no endpoint runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

from starlette.routing import BaseRoute, Match, Mount, Route
from tests.support.routes import a_path_of

from empulse.app import create_app
from empulse.config import load_settings
from empulse.web.routing import RouteIndex


def _first(routes: list[BaseRoute], scope: dict[str, Any]) -> BaseRoute | None:
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    settings = load_settings(
        EMPULSE_ENV="development", EMPULSE_DATA_DIR=tempfile.mkdtemp(prefix="empulse-routing-")
    )
    app = create_app(settings, configure_logs=False)
    routes = app.router.routes
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    scopes = []
    for route in routes:
        if isinstance(route, Route | Mount):
            method = (
                sorted(route.methods)[0] if isinstance(route, Route) and route.methods else "GET"
            )
            scopes.append(
                {"type": "http", "path": a_path_of(route), "method": method, "root_path": ""}
            )

    rounds: int = args.rounds

    def timed(find: Any, scope: dict[str, Any]) -> float:
        started = time.process_time()
        for _ in range(rounds):
            find(scope)
        return (time.process_time() - started) / rounds * 1e6

    def walk(scope: dict[str, Any]) -> BaseRoute | None:
        return _first(routes, scope)

    def indexed(scope: dict[str, Any]) -> BaseRoute | None:
        return _first(index.candidates(scope["path"]), scope)

    for name, find in (("every route in turn", walk), ("route index", indexed)):
        each = [timed(find, scope) for scope in scopes]
        print(
            f"{name:20}: mean {sum(each) / len(each):6.1f} µs, "
            f"worst {max(each):6.1f} µs, last route ({scopes[-1]['path']}) {each[-1]:6.1f} µs"
        )
    print(f"{len(scopes)} routes")


if __name__ == "__main__":
    main()
