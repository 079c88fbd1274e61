"""Every error is an RFC 9457 problem document with a stable code and the request id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:empulse:problem:{code}"
    assert body["title"]
    assert body["detail"]
    assert body["requestId"] == response.headers["x-request-id"]
    return body


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/no-such-thing"), 404, "not_found")


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    """ASVS 5.0 V4.1.4: an unsupported HTTP method is refused."""
    assert_problem(await client.delete("/api/v1"), 405, "method_not_allowed")


async def test_wrong_content_type_is_a_415_problem(client: httpx.AsyncClient) -> None:
    """ASVS 5.0 V4.1.1: the declared content type must match what the endpoint accepts."""
    response = await client.post(
        "/api/v1/_test/echo",
        content=b"name=x&count=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415, "unsupported_media_type")


async def test_invalid_fields_are_a_422_problem_naming_each_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/_test/echo", json={"name": "", "count": -1})
    body = assert_problem(response, 422, "validation_failed")
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"name", "count"}
    assert all(error["message"] and error["in"] == "body" for error in body["errors"])


async def test_valid_body_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/_test/echo", json={"name": "ok", "count": 2})
    assert response.status_code == 200
    assert response.json()["name"] == "ok"


async def test_malformed_json_is_a_4xx_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/_test/echo", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation_failed")


async def test_deeply_nested_json_is_refused_without_a_500(client: httpx.AsyncClient) -> None:
    """ASVS 5.0 V1.5: deep nesting is rejected cleanly, not with a crash."""
    depth = 100_000
    body = b'{"name": "x", "count": 1, "extra": {"a": ' + b"[" * depth + b"]" * depth + b"}}"
    response = await client.post(
        "/api/v1/_test/echo", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == PROBLEM


async def test_unhandled_error_is_a_generic_500_without_internals(
    client: httpx.AsyncClient, logs: Any
) -> None:
    """ASVS 5.0 V16.5.1: a 500 shows no stack trace or SQL, only the request id."""
    response = await client.get("/api/v1/_test/boom")
    body = assert_problem(response, 500, "internal_error")
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    # The details go to the log instead, under the same request id.
    assert body["requestId"] in logs()
    assert "RuntimeError" in logs()


@pytest.mark.parametrize(
    "path", ["/api/v1/no-such-thing", "/api/v1/_test/boom", "/api/health", "/api/v1"]
)
async def test_every_response_has_the_security_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    """ASVS 5.0 V3.4: security headers on every response, errors included."""
    response = await client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"].startswith(
        "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers  # test mode is not production
