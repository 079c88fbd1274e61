"""The real app plus the test-only routes, served by the real server code in its own process."""

from __future__ import annotations

import sys

from fastapi import FastAPI

from empulse import server
from empulse.app import create_app as create_empulse_app
from empulse.config import load_settings
from tests.support.routes import add_test_routes


def create_app() -> FastAPI:
    return add_test_routes(create_empulse_app())


if __name__ == "__main__":
    # python -m tests.e2e.app_with_test_routes --port N
    port = int(sys.argv[sys.argv.index("--port") + 1])
    server.run(
        load_settings(),
        host="127.0.0.1",
        port=port,
        app_factory="tests.e2e.app_with_test_routes:create_app",
    )
