"""Body size limits count the bytes that arrive, with or without Content-Length."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from tests.conftest import Backend
from tests.support.fixtures import LiveServers
from tests.web.test_problems import assert_problem

LIMIT = 1_048_576  # PRODUCT.md: JSON bodies <= 1 MB


def _json_of_size(size: int) -> bytes:
    head = b'{"name": "x", "count": 1, "extra": {"pad": "'
    tail = b'"}}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


async def test_body_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    body = _json_of_size(LIMIT)
    response = await client.post(
        "/api/v1/_test/echo", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


async def test_declared_oversized_body_is_refused_before_reading(
    client: httpx.AsyncClient,
) -> None:
    """ASVS 5.0 V4.1: 413 as a problem document."""
    response = await client.post(
        "/api/v1/_test/echo",
        content=_json_of_size(LIMIT + 1),
        headers={"content-type": "application/json"},
    )
    body = assert_problem(response, 413, "payload_too_large")
    assert str(LIMIT) in body["detail"]


async def test_oversized_body_without_content_length_is_refused(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """A streamed body with no Content-Length is counted as it arrives."""
    harness = await make_client(embedded)

    async def chunks() -> Any:
        for _ in range(20):
            yield b"[" + b"1," * 40_000 + b"1]"

    response = await harness.client.post(
        "/api/v1/_test/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload_too_large")


def test_chunked_oversized_body_is_refused_by_the_real_server(live_server: LiveServers) -> None:
    """Through the real server, with Transfer-Encoding: chunked, as an attacker would send it."""
    server = live_server.start(args=["tests.e2e.app_with_test_routes"])

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "x", "count": 1, "extra": {"pad": "'
        for _ in range(64):
            yield b"a" * 32_768
        yield b'"}}'

    response = httpx.post(
        f"{server.url}/api/v1/_test/echo",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert json.loads(response.text)["code"] == "payload_too_large"

    small = httpx.post(f"{server.url}/api/v1/_test/echo", json={"name": "x", "count": 1})
    assert small.status_code == 200
