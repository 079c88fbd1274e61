"""SIGTERM on a real server process: drain, finish in-flight work, exit 0."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx

from tests.auth.helpers import PASSWORD
from tests.conftest import empty_tables
from tests.support import secrets
from tests.support.fixtures import LiveServers


def test_sigterm_finishes_in_flight_requests_and_exits_zero(live_server: LiveServers) -> None:
    """SECURITY.md "Faults": readiness turns 503, in-flight requests complete, exit 0."""
    server = live_server.start(
        args=["tests.e2e.app_with_test_routes"], env={"EMPULSE_DRAIN_SECONDS": "1.5"}
    )
    assert httpx.get(f"{server.url}/api/health/ready").status_code == 200

    result: dict[str, httpx.Response | Exception] = {}

    def slow_request() -> None:
        try:
            result["response"] = httpx.get(f"{server.url}/api/v1/_test/slow?seconds=3", timeout=30)
        except httpx.HTTPError as exc:
            result["response"] = exc

    worker = threading.Thread(target=slow_request)
    worker.start()
    server.wait_for_output("slow_request_started")

    server.terminate()
    server.wait_for_output('"event":"draining"')
    ready = httpx.get(f"{server.url}/api/health/ready", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["code"] == "draining"

    worker.join(30)
    response = result["response"]
    assert isinstance(response, httpx.Response), f"{response!r}\n{server.output()}"
    assert response.status_code == 200
    assert response.json() == {"slept": 3.0}

    assert server.wait(30) == 0
    output = server.output()
    assert '"event":"stopped"' in output
    assert "Traceback" not in output


def test_multiple_workers_serve_and_aggregate_metrics(live_server: LiveServers) -> None:
    server = live_server.start(args=["empulse.cli", "serve", "--workers", "2"])
    for _ in range(10):
        assert httpx.get(f"{server.url}/api/v1").status_code == 200
    metrics = httpx.get(f"{server.url}/metrics").text
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("empulse_http_requests_total")
        and 'route="/api/v1"' in line
        and 'status="200"' in line
    )
    # Both workers write their samples to shared files; /metrics adds them up, whichever
    # worker answers the scrape.
    assert float(line.rsplit(" ", 1)[1]) == 10
    server.terminate()
    assert server.wait(30) == 0


def test_sigterm_stops_workers_still_loading_the_app(live_server: LiveServers) -> None:
    """A worker is forked with the main process's signal handlers; a SIGTERM that reaches it
    before the app is loaded stops it, instead of being taken for the main process's and
    dropped (the worker then served until killed 30 s later)."""
    server = live_server.start(args=["tests.e2e.app_loading_forever"], wait_until_serving=False)
    server.wait_for_output("app_loading")
    server.terminate()
    # The main process signals each worker; both are still loading.
    assert server.wait(10) == 0


def _blocked_signals(task: Path) -> set[int]:
    mask = next(
        int(line.split()[1], 16)
        for line in (task / "status").read_text().splitlines()
        if line.startswith("SigBlk:")
    )
    return {number for number in range(1, 65) if mask & (1 << (number - 1))}


def test_a_stop_signal_reaches_the_main_thread_of_the_main_process(
    live_server: LiveServers,
) -> None:
    """Python runs a handler in the main thread whichever thread the signal reached, but the
    main process's main thread waits on a lock, which only a signal delivered to that thread
    interrupts: one that reached a thread watching a worker was noted and never handled, and
    the server served on. Every other thread of the main process blocks the stop signals, so
    the kernel hands them to the main thread (server.py)."""
    server = live_server.start(args=["tests.e2e.app_loading_forever"], wait_until_serving=False)
    server.wait_for_output("app_loading")
    tasks = Path(f"/proc/{server.process.pid}/task")
    main = tasks / str(server.process.pid)
    stop = {signal.SIGTERM, signal.SIGINT}
    deadline = time.monotonic() + 10
    # The main thread and one watcher for each of the two workers, and the main thread done
    # starting them (it holds the stop signals while it forks).
    while (len(list(tasks.iterdir())) < 3 or stop & _blocked_signals(main)) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.01)  # polls while the second worker is being started
    others = [task for task in tasks.iterdir() if task != main]
    assert len(others) >= 2
    for task in others:
        assert stop <= _blocked_signals(task), task.name
    assert not stop & _blocked_signals(main)
    server.terminate()
    assert server.wait(10) == 0


def test_two_server_processes_share_revocations_through_redis(
    live_server: LiveServers, postgres_url: str, redis_server_url: str
) -> None:
    """A logout served by one process is honoured by another within a second, although the
    other process had the session cached as live (issue: accounts and sessions)."""
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_server_url,
        "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "EMPULSE_JOBS_IN_PROCESS": "false",
        "RATE_LIMITS_ENABLED": "false",
    }
    try:
        live_server.cli(
            "create-admin",
            "--email",
            "pair@example.com",
            "--password-stdin",
            env=env,
            stdin=PASSWORD,
        )
        one = live_server.start(env=env)
        two = live_server.start(env=env)
        body = httpx.post(
            f"{one.url}/api/v1/auth/login",
            json={"email": "pair@example.com", "password": PASSWORD},
        ).json()
        secrets.remember(body["accessToken"], body["refreshToken"])
        headers = {"Authorization": f"Bearer {body['accessToken']}"}
        assert httpx.get(f"{two.url}/api/v1/auth/me", headers=headers).status_code == 200
        assert httpx.post(f"{one.url}/api/v1/auth/logout", headers=headers).status_code == 204

        deadline = time.monotonic() + 1.0
        status = 200
        while time.monotonic() < deadline:
            status = httpx.get(f"{two.url}/api/v1/auth/me", headers=headers).status_code
            if status == 401:
                break
        assert status == 401
        for server in (one, two):
            assert body["accessToken"] not in server.output()
    finally:
        asyncio.run(empty_tables(postgres_url))
