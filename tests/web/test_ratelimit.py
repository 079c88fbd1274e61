"""Rate limits: per IP and per user, per route, shared through Redis, failing open."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.auth.helpers import bearer, signed_in
from tests.conftest import Backend
from tests.support.proxy import proxy_to
from tests.web.test_problems import assert_problem


async def _exhaust(client: httpx.AsyncClient, path: str, allowed: int) -> httpx.Response:
    for attempt in range(allowed):
        response = await client.get(path)
        assert response.status_code == 200, f"request {attempt + 1}: {response.text}"
    return await client.get(path)


async def test_default_limit_is_100_per_minute_then_429(client: httpx.AsyncClient) -> None:
    """PRODUCT.md: default 100/min; 429 with Retry-After and X-RateLimit-*."""
    first = await client.get("/api/v1")
    assert first.headers["x-ratelimit-limit"] == "100"
    refused = await _exhaust(client, "/api/v1", 99)
    body = assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-reset"] == refused.headers["retry-after"]
    assert refused.headers["x-ratelimit-limit"] == "100"
    assert "Try again" in body["detail"]


async def test_route_limits_are_separate_and_tighter(client: httpx.AsyncClient) -> None:
    """The login limit (5/min) applies on top of the default, per route."""
    refused = await _exhaust(client, "/api/v1/_test/login-limited", 5)
    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["x-ratelimit-limit"] == "5"
    # Other routes still have room under the default limit.
    assert (await client.get("/api/v1")).status_code == 200


async def test_limits_are_per_client_address(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    first = await make_client(backend, client_ip="198.51.100.1")
    # Same backend and the same Redis key prefix: only the address differs.
    second = await make_client(backend, client_ip="198.51.100.2")
    assert (await _exhaust(first.client, "/api/v1/_test/login-limited", 5)).status_code == 429
    assert (await second.client.get("/api/v1/_test/login-limited")).status_code == 200


async def test_the_default_limit_also_counts_per_user_across_addresses(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """PRODUCT.md: limits are per IP and per user. A signed-in user spreading requests over
    many addresses still gets 100 a minute; other users and anonymous callers keep theirs."""
    harness = await make_client(backend, client_ip="10.0.0.5", TRUSTED_PROXIES="10.0.0.0/8")
    body = await signed_in(harness, "busy@example.com")
    other = await signed_in(harness, "calm@example.com")

    async def me(tokens: dict[str, Any], address: str) -> httpx.Response:
        headers = {**bearer(tokens), "X-Forwarded-For": address}
        response: httpx.Response = await harness.client.get("/api/v1/auth/me", headers=headers)
        return response

    for n in range(100):
        response = await me(body, f"203.0.113.{n + 1}")
        assert response.status_code == 200, f"request {n + 1}: {response.text}"
    refused = await me(body, "198.51.100.1")
    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["x-ratelimit-limit"] == "100"
    assert (await me(other, "198.51.100.1")).status_code == 200
    anonymous = await harness.client.get("/api/v1", headers={"X-Forwarded-For": "198.51.100.2"})
    assert anonymous.status_code == 200
    # A token that does not verify names nobody: it is counted by address only, then refused.
    forged = await harness.client.get(
        "/api/v1/auth/me",
        headers={"Authorization": "Bearer not.a.token", "X-Forwarded-For": "198.51.100.3"},
    )
    assert_problem(forged, 401, "invalid_token")


async def test_a_request_refused_by_one_key_counts_under_none(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """A sign-in counts per address and per email, together. Once an account's throttle is
    full, a refused attempt from a fresh address does not spend that address's own attempts."""
    harness = await make_client(backend, client_ip="10.0.0.5", TRUSTED_PROXIES="10.0.0.0/8")

    async def attempt(email: str, address: str) -> httpx.Response:
        response: httpx.Response = await harness.client.post(
            "/api/v1/auth/login",
            json={"email": email, "password": "a-wrong-password"},
            headers={"X-Forwarded-For": address},
        )
        return response

    for n in range(5):
        assert (await attempt("target@example.com", f"203.0.113.{n + 1}")).status_code == 401
    refused = await attempt("target@example.com", "198.51.100.7")
    assert_problem(refused, 429, "rate_limited")
    for n in range(5):
        other = await attempt(f"someone-{n}@example.com", "198.51.100.7")
        assert other.status_code == 401, f"attempt {n + 1}: {other.text}"
    assert_problem(await attempt("someone-5@example.com", "198.51.100.7"), 429, "rate_limited")


async def test_forged_forwarded_for_does_not_reset_the_limit(client: httpx.AsyncClient) -> None:
    """SECURITY.md: rate limits are not reset by a forged X-Forwarded-For."""
    for n in range(5):
        response = await client.get(
            "/api/v1/_test/login-limited", headers={"X-Forwarded-For": f"10.9.9.{n}"}
        )
        assert response.status_code == 200
    response = await client.get(
        "/api/v1/_test/login-limited", headers={"X-Forwarded-For": "10.9.9.99"}
    )
    assert_problem(response, 429, "rate_limited")


async def test_limits_are_global_across_processes_with_redis(
    redis_server_url: str, embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """Two app instances sharing Redis count against one limit."""
    shared = {"REDIS_URL": redis_server_url, "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    one = await make_client(embedded, **shared)
    two = await make_client(embedded, **shared)
    for _ in range(3):
        assert (await one.client.get("/api/v1/_test/login-limited")).status_code == 200
    for _ in range(2):
        assert (await two.client.get("/api/v1/_test/login-limited")).status_code == 200
    assert_problem(await one.client.get("/api/v1/_test/login-limited"), 429, "rate_limited")
    assert_problem(await two.client.get("/api/v1/_test/login-limited"), 429, "rate_limited")


async def test_redis_outage_fails_open_and_is_logged(
    redis_server_url: str,
    embedded: Backend,
    make_client: Callable[..., Any],
    logs: Callable[[], str],
) -> None:
    """SECURITY.md "Faults": with Redis down, general routes keep working; the failure is
    logged and counted."""
    host_port = redis_server_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    with proxy_to(host, int(port)) as proxy:
        harness = await make_client(embedded, REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0")
        assert (await harness.client.get("/api/v1")).status_code == 200
        proxy.cut()
        for _ in range(3):
            assert (await harness.client.get("/api/v1")).status_code == 200
        warnings = [
            json.loads(line)
            for line in logs().splitlines()
            if "rate_limit_store_unavailable" in line
        ]
        assert warnings
        assert warnings[0]["level"] == "warning"
        metrics = (await harness.client.get("/metrics")).text
        assert "empulse_rate_limit_backend_errors_total" in metrics


async def test_auth_throttles_keep_counting_in_process_while_redis_is_down(
    redis_server_url: str, embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md "Faults": with Redis down, authentication throttles do not fail open; an
    in-process limiter counts instead (login: 5 a minute)."""
    host_port = redis_server_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    with proxy_to(host, int(port)) as proxy:
        harness = await make_client(embedded, REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0")
        proxy.cut()
        attempt = {"email": "stuffing@example.com", "password": "guess-number-one-1"}
        for number in range(5):
            response = await harness.client.post("/api/v1/auth/login", json=attempt)
            assert response.status_code == 401, f"attempt {number + 1}: {response.text}"
        refused = await harness.client.post("/api/v1/auth/login", json=attempt)
        assert_problem(refused, 429, "rate_limited")
        # General routes still fail open.
        assert (await harness.client.get("/api/v1")).status_code == 200


async def test_rejections_are_counted_in_metrics(client: httpx.AsyncClient) -> None:
    await _exhaust(client, "/api/v1/_test/login-limited", 5)
    text = (await client.get("/metrics")).text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith('empulse_rate_limit_rejections_total{key="ip",limit="login"}')
    )
    assert float(line.rsplit(" ", 1)[1]) >= 1


async def test_limits_can_be_configured(embedded: Backend, make_client: Callable[..., Any]) -> None:
    harness = await make_client(embedded, RATE_LIMITS="login=2/minute")
    refused = await _exhaust(harness.client, "/api/v1/_test/login-limited", 2)
    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["x-ratelimit-limit"] == "2"


async def test_only_registrations_that_pass_validation_count(client: httpx.AsyncClient) -> None:
    """PRODUCT.md: register 3/h. A person whose password was judged weak twice can still
    register; only registrations that would send mail count, so mass registration still
    stops at the fourth."""

    async def register(email: str, password: str) -> httpx.Response:
        return await client.post(
            "/api/v1/auth/register", json={"email": email, "password": password, "name": "Ada"}
        )

    for weak in ("password1", "aaaaaaaa"):
        assert_problem(await register("ada@example.com", weak), 422, "weak_password")
    strong = "lantern-orchid-velvet-2718"
    for number in range(3):
        response = await register(f"ada{number}@example.com", strong)
        assert response.status_code == 202, response.text
    assert_problem(await register("ada9@example.com", strong), 429, "rate_limited")
