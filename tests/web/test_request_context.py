"""Request ids, client addresses and the access log."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Backend
from tests.support.fixtures import LiveServers


async def test_a_well_formed_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"X-Request-ID": "client-id-1234"})
    assert response.headers["x-request-id"] == "client-id-1234"


@pytest.mark.parametrize("bad", ["short", "has space in it", "x" * 200, "inject\\nline"])
async def test_a_malformed_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/api/health", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


def _request_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [line for line in lines if line.get("event") == "request"]


async def test_one_json_log_line_per_request_with_route_template(
    client: httpx.AsyncClient, logs: Callable[[], str]
) -> None:
    response = await client.get("/api/v1", headers={"X-Request-ID": "trace-abcdef12"})
    assert response.status_code == 200
    (line,) = [line for line in _request_lines(logs()) if line["request_id"] == "trace-abcdef12"]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["client_ip"] == "203.0.113.10"
    assert line["ts"].endswith("Z")


async def test_the_liveness_probe_is_named_by_its_path(
    client: httpx.AsyncClient, logs: Callable[[], str]
) -> None:
    """/api/health is a plain route (no FastAPI machinery), still named in logs and metrics."""
    await client.get("/api/health", headers={"X-Request-ID": "liveness-abcdef12"})
    (line,) = [line for line in _request_lines(logs()) if line["request_id"] == "liveness-abcdef12"]
    assert line["route"] == "/api/health"
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/health",status="200"' in metrics


async def test_the_route_template_is_the_full_path_the_client_called(
    client: httpx.AsyncClient, logs: Callable[[], str]
) -> None:
    """Logs and metrics name the route by the template of the path called, prefix included,
    with the parameters left as names (so the number of series stays bounded)."""
    path = "/api/v1/submissions/6b1f0f6e-1111-4a4a-8888-123412341234"
    await client.get(path, headers={"X-Request-ID": "template-abcdef12"})
    (line,) = [line for line in _request_lines(logs()) if line["request_id"] == "template-abcdef12"]
    assert line["route"] == "/api/v1/submissions/{submission_id}"
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/v1/submissions/{submission_id}",status="401"' in metrics


def test_a_level_above_info_leaves_out_the_access_lines(live_server: LiveServers) -> None:
    """LOG_LEVEL=WARNING on a real server: no line per request; the server still answers."""
    server = live_server.start(env={"LOG_LEVEL": "WARNING"})
    response = httpx.get(f"{server.url}/api/v1", headers={"X-Request-ID": "quiet-abcdef12"})
    assert response.status_code == 200
    server.stop()
    assert "quiet-abcdef12" not in server.output()


async def test_forwarded_for_is_ignored_from_untrusted_peers(
    embedded: Backend, make_client: Callable[..., Any], logs: Callable[[], str]
) -> None:
    """ASVS 5.0 V4.1.3: a client cannot choose its own address with X-Forwarded-For."""
    harness = await make_client(embedded, client_ip="198.51.100.7")
    await harness.client.get(
        "/api/v1", headers={"X-Forwarded-For": "1.2.3.4", "X-Request-ID": "xff-untrusted-1"}
    )
    (line,) = [line for line in _request_lines(logs()) if line["request_id"] == "xff-untrusted-1"]
    assert line["client_ip"] == "198.51.100.7"


async def test_forwarded_for_is_read_behind_a_trusted_proxy(
    embedded: Backend, make_client: Callable[..., Any], logs: Callable[[], str]
) -> None:
    harness = await make_client(embedded, client_ip="10.0.0.5", TRUSTED_PROXIES="10.0.0.0/8")
    await harness.client.get(
        "/api/v1",
        headers={
            # The left-most entry was written by the client; the proxy appended the real peer.
            "X-Forwarded-For": "6.6.6.6, 192.0.2.44, 10.0.0.9",
            "X-Request-ID": "xff-trusted-1",
        },
    )
    (line,) = [line for line in _request_lines(logs()) if line["request_id"] == "xff-trusted-1"]
    assert line["client_ip"] == "192.0.2.44"


async def test_log_lines_inside_a_request_carry_its_request_id(
    client: httpx.AsyncClient, logs: Callable[[], str]
) -> None:
    await client.get("/api/v1/_test/boom", headers={"X-Request-ID": "bound-id-0001"})
    lines = [json.loads(line) for line in logs().splitlines() if line.strip()]
    error_lines = [line for line in lines if line.get("event") == "unhandled_exception"]
    assert error_lines
    assert all(line["request_id"] == "bound-id-0001" for line in error_lines)
