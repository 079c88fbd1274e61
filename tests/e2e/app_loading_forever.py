"""A server whose workers never finish loading the app: what SIGTERM does to a worker that is
still loading (the main process's handler, inherited by the fork, is still in place)."""

from __future__ import annotations

import sys
import threading

from fastapi import FastAPI

from empulse import server
from empulse.config import load_settings


def create_app() -> FastAPI:
    sys.stdout.write("app_loading\n")
    sys.stdout.flush()
    threading.Event().wait()  # signals still run their handlers while this waits
    raise AssertionError("unreachable")


if __name__ == "__main__":
    # python -m tests.e2e.app_loading_forever --port N
    port = int(sys.argv[sys.argv.index("--port") + 1])
    server.run(
        load_settings(),
        host="127.0.0.1",
        port=port,
        workers=2,
        app_factory="tests.e2e.app_loading_forever:create_app",
    )
