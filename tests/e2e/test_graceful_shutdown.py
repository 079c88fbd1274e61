"""SIGTERM on a real server process: drain, finish in-flight work, exit 0."""

from __future__ import annotations

import threading

import httpx

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
