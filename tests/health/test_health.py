"""Liveness, readiness, the configuration check and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text, update
from sqlalchemy.engine import make_url

from empulse import __version__
from empulse.core.db import utcnow
from empulse.models import Schedule
from empulse.services import Services
from tests.auth.helpers import register, signed_in
from tests.conftest import Backend
from tests.health.conftest import BehindAProxy
from tests.support.fixtures import S3Server
from tests.support.metrics import sample
from tests.support.proxy import proxy_to
from tests.support.services import free_port
from tests.web.test_problems import assert_problem


async def test_liveness_reports_the_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


async def test_the_root_points_to_the_documentation(client: httpx.AsyncClient) -> None:
    """Someone opening the service's address finds the docs: a browser is sent there, a
    program gets the index that names them."""
    browser = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 307
    assert browser.headers["location"] == "/api/v1/docs"
    assert (await client.get(browser.headers["location"])).status_code == 200
    program = await client.get("/", headers={"Accept": "application/json"})
    assert program.status_code == 200
    assert program.json()["docs"] == "/api/v1/docs"


async def test_ready_when_every_dependency_answers(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend)
    response = await harness.client.get("/api/health/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    expected = {"database", "storage"} | ({"redis"} if backend.name == "services" else set())
    assert set(body["checks"]) == expected
    assert all(check["ok"] for check in body["checks"].values())


async def test_database_restart_is_503_then_recovers_without_restarting_the_app(
    behind_a_proxy: BehindAProxy,
) -> None:
    """SECURITY.md "Faults": 503 while PostgreSQL is down, recovery through pre-ping."""
    harness, proxy = await behind_a_proxy()
    client = harness.client
    assert (await client.get("/api/v1/_test/users/count")).status_code == 200

    proxy.cut()
    body = assert_problem(await client.get("/api/health/ready"), 503, "not_ready")
    assert body["failed"] == ["database"]
    # Liveness checks no dependency: an outage does not make an orchestrator restart us.
    assert (await client.get("/api/health")).status_code == 200
    response = await client.get("/api/v1/_test/users/count")
    assert_problem(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "5"

    proxy.restore()
    assert (await client.get("/api/health/ready")).status_code == 200
    assert (await client.get("/api/v1/_test/users/count")).json() == {"users": 0}


async def test_not_ready_names_the_unreachable_redis(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(embedded, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    body = assert_problem(await harness.client.get("/api/health/ready"), 503, "not_ready")
    assert body["failed"] == ["redis"]


async def test_ready_with_s3_storage(
    embedded: Backend, make_client: Callable[..., Any], s3_server: S3Server
) -> None:
    harness = await make_client(embedded, **s3_server.settings())
    response = await harness.client.get("/api/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["storage"]["ok"] is True


async def test_not_ready_when_the_s3_bucket_is_missing(
    embedded: Backend, make_client: Callable[..., Any], s3_server: S3Server
) -> None:
    harness = await make_client(
        embedded, **{**s3_server.settings(), "S3_BUCKET": "bucket-that-does-not-exist"}
    )
    body = assert_problem(await harness.client.get("/api/health/ready"), 503, "not_ready")
    assert body["failed"] == ["storage"]


async def test_draining_process_is_not_ready(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(embedded)
    services: Services = harness.app.state.services
    services.draining = True
    body = assert_problem(await harness.client.get("/api/health/ready"), 503, "draining")
    assert "Shutting down" in body["detail"]
    # Liveness is unaffected: the process is finishing its work, not broken.
    assert (await harness.client.get("/api/health")).status_code == 200


async def test_startup_check_reports_each_setting_without_values(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(embedded)
    response = await harness.client.get("/api/startup-check")
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "test"
    assert body["ok"] is True
    names = {check["name"] for check in body["checks"]}
    assert {"JWT_SECRET", "ENCRYPTION_KEY", "DATABASE_URL", "APP_URL"} <= names
    settings = harness.settings
    assert settings.jwt_secret is not None
    assert settings.encryption_key is not None
    assert settings.jwt_secret.get_secret_value() not in response.text
    assert settings.encryption_key.get_secret_value() not in response.text


async def test_startup_check_fails_for_an_unsafe_configuration(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(embedded, JWT_SECRET="q7z-k3y", ALLOWED_ORIGINS="*")
    response = await harness.client.get("/api/startup-check")
    assert response.status_code == 503
    failing = {c["name"]: c["detail"] for c in response.json()["checks"] if c["status"] == "error"}
    assert set(failing) == {"JWT_SECRET", "ALLOWED_ORIGINS"}
    assert "q7z-k3y" not in response.text


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1")
    await client.get("/api/v1/no-such-thing")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'empulse_http_requests_total{method="GET",route="/api/v1",status="200"}' in text
    assert 'route="unmatched",status="404"' in text
    assert "empulse_http_request_duration_seconds_bucket" in text
    # Raw paths never become labels (unbounded series).
    assert "no-such-thing" not in text


async def test_redis_outage_makes_readiness_fail_and_recovers(
    redis_server_url: str, embedded: Backend, make_client: Callable[..., Any]
) -> None:
    url = make_url(redis_server_url.replace("redis://", "postgresql://", 1))
    with proxy_to(url.host or "127.0.0.1", url.port or 6379) as proxy:
        harness = await make_client(embedded, REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0")
        assert (await harness.client.get("/api/health/ready")).status_code == 200
        proxy.cut()
        body = assert_problem(await harness.client.get("/api/health/ready"), 503, "not_ready")
        assert body["failed"] == ["redis"]
        proxy.restore()
        assert (await harness.client.get("/api/health/ready")).status_code == 200


async def test_a_stuck_query_fails_at_the_statement_timeout(
    postgres_url: str, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md "Faults": a frozen database makes requests fail at a timeout, not hang."""
    harness = await make_client(
        Backend("services", {}, postgres_url=postgres_url),
        DATABASE_URL=postgres_url,
        DATABASE_STATEMENT_TIMEOUT_MS="200",
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await harness.client.get("/api/v1/_test/db-sleep", params={"seconds": 5})
    elapsed = loop.time() - started
    assert_problem(response, 503, "database_unavailable")
    assert elapsed < 3
    # The connection is usable again for the next request.
    assert (await harness.client.get("/api/v1/_test/users/count")).status_code == 200


async def test_a_deadlock_is_a_retryable_503_not_a_500(
    backend_services: Backend, make_client: Callable[..., Any], logs: Callable[[], str]
) -> None:
    """Two transactions locking the same rows in opposite orders: PostgreSQL fails one. Its
    request answers 503 `concurrent_change` with `Retry-After` (nothing was written; sending it
    again succeeds), not a 500 with a stack trace in the log."""
    harness = await make_client(backend_services, RATE_LIMITS_ENABLED="false")
    await signed_in(harness, "first@example.com")
    await signed_in(harness, "second@example.com")
    response = await harness.client.post("/api/v1/_test/deadlock")
    assert_problem(response, 503, "concurrent_change")
    assert response.headers["retry-after"] == "1"
    assert "unhandled_exception" not in logs()
    assert "database_conflict" in logs()


async def test_metrics_show_auth_failures_and_the_job_queue(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """PRODUCT.md section 9: auth failures and job queue depth are in /metrics."""
    harness = await make_client(backend)
    await register(harness, "queued@example.com")  # a verification email waits in the queue
    await harness.client.post(
        "/api/v1/auth/login", json={"email": "queued@example.com", "password": "wrong-one-1234"}
    )
    await harness.client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not.a.jwt"})

    text = (await harness.client.get("/metrics")).text
    assert sample(text, 'empulse_security_events_total{event="login_failed"}') >= 1
    assert sample(text, 'empulse_auth_rejections_total{reason="invalid_token"}') >= 1
    assert sample(text, 'empulse_jobs{status="pending"}') == 1
    assert sample(text, 'empulse_jobs{status="dead"}') == 0
    assert sample(text, "empulse_jobs_oldest_due_seconds") >= 0


async def test_start_up_warns_when_postgresql_runs_without_autovacuum(
    backend: Backend, make_client: Callable[..., Any], logs: Callable[[], str]
) -> None:
    """docs/operations.md: PostgreSQL's autovacuum must stay on (the plays' fold and the
    popularity pass leave dead rows behind them). A server that starts on a cluster without it
    says so in its log; on SQLite, or with autovacuum on, it says nothing."""
    harness = await make_client(backend)
    engine = harness.app.state.services.engine
    off = False
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            off = await connection.scalar(text("SHOW autovacuum")) == "off"
    assert ("autovacuum_off" in logs()) is off


async def test_metrics_show_how_late_each_periodic_upkeep_is(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """A pass that no runner makes any more (every runner stopped) shows as overdue: play
    counts and the popularity orders stand still until one starts."""
    harness = await make_client(backend)
    services: Services = harness.app.state.services
    await services.job_runner.run_passes()

    text = (await harness.client.get("/metrics")).text
    assert sample(text, 'empulse_upkeep_overdue_seconds{upkeep="popularity"}') == 0
    assert sample(text, 'empulse_upkeep_handled{upkeep="popularity"}') == 0  # nothing played

    async with services.sessionmaker() as session:
        await session.execute(update(Schedule).values(due_at=utcnow() - timedelta(minutes=10)))
        await session.commit()
    text = (await harness.client.get("/metrics")).text
    assert sample(text, 'empulse_upkeep_overdue_seconds{upkeep="popularity"}') >= 600
