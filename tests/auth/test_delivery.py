"""Emails go out through jobs that survive failures; revocations reach every process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from empulse.infra.session_cache import SessionCache
from empulse.models import Job
from tests.auth.helpers import bearer, register, signed_in
from tests.conftest import Backend
from tests.support.fixtures import SmtpCapture
from tests.support.proxy import proxy_to


async def test_smtp_outage_delays_but_does_not_lose_the_email(
    backend: Backend, make_client: Callable[..., Any], smtp_server: SmtpCapture
) -> None:
    """SECURITY.md "Faults": SMTP down, the API answers as usual, and the job retries with
    backoff until the message is delivered."""
    host, port = smtp_server.host, smtp_server.port
    harness = await make_client(
        backend,
        **smtp_server.settings(),
        EMPULSE_JOBS_IN_PROCESS="true",
        EMPULSE_JOBS_POLL_SECONDS="0.05",
        EMPULSE_JOBS_BACKOFF_SECONDS="0.05",
    )
    controller = Controller(smtp_server, hostname=host, port=port)
    # The fixture's server is stopped: nothing listens on the port.
    smtp_server.controller.stop()

    response = await register(harness, "patient@example.com")
    assert response.status_code == 202

    async def failed_once() -> None:
        while True:
            async with harness.app.state.services.sessionmaker() as session:
                job = (await session.scalars(select(Job))).one()
                if job.attempts >= 1 and job.status == "pending":
                    assert job.last_error
                    return
            await asyncio.sleep(0.02)

    await asyncio.wait_for(failed_once(), timeout=20)
    controller.start()
    try:
        (message,) = await asyncio.to_thread(smtp_server.wait_for, 1, 20)
    finally:
        controller.stop()
    assert message["To"] == "patient@example.com"
    assert "verify-email?token=" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_a_refused_recipient_is_dead_at_once_not_retried_for_hours(
    backend: Backend, make_client: Callable[..., Any], smtp_server: SmtpCapture
) -> None:
    """A mail server that says the mailbox does not exist (550) will say it again: the email
    job is dead after that one attempt, for admins to see, without the address in its error.
    Mail to other addresses still goes out."""
    smtp_server.unknown_mailboxes.add("nobody-here@example.com")
    harness = await make_client(backend, **smtp_server.settings())
    assert (await register(harness, "nobody-here@example.com")).status_code == 202
    assert (await register(harness, "somebody@example.com")).status_code == 202
    await harness.app.state.services.job_runner.run_due()

    async with harness.app.state.services.sessionmaker() as session:
        statuses = sorted((job.status, job.attempts) for job in await session.scalars(select(Job)))
        (dead,) = (await session.scalars(select(Job).where(Job.status == "dead"))).all()
    assert statuses == [("dead", 1), ("done", 1)]
    assert dead.last_error is not None
    assert "550" in dead.last_error
    assert "nobody-here" not in dead.last_error
    (delivered,) = await asyncio.to_thread(smtp_server.wait_for, 1)
    assert delivered["To"] == "somebody@example.com"


async def test_a_rolled_back_request_sends_nothing(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(embedded)
    weak = await harness.client.post(
        "/api/v1/auth/register",
        json={"email": "weak@example.com", "password": "123456789", "name": "W"},
    )
    assert weak.status_code == 422
    async with harness.app.state.services.sessionmaker() as session:
        assert (await session.scalars(select(Job))).all() == []


async def _two_instances(
    make_client: Callable[..., Any], postgres_url: str, redis_url: str
) -> tuple[Any, Any]:
    """Two app instances on one PostgreSQL and one Redis, both listening for revocations."""
    shared = Backend(
        "services",
        {
            "DATABASE_URL": postgres_url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        },
        postgres_url=postgres_url,
    )
    instances = (await make_client(shared), await make_client(shared))
    for harness in instances:
        assert await _until(_subscribed(harness.app.state.services.session_cache))
    return instances


def _subscribed(cache: SessionCache) -> Callable[[], bool]:
    return lambda: cache._subscribed


async def _until(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_logout_on_one_process_is_honoured_by_another(
    postgres_url: str, redis_server_url: str, make_client: Callable[..., Any]
) -> None:
    """Two app instances sharing PostgreSQL and Redis: a logout on one ends the session on the
    other within a second, although the other had it cached as live."""
    one, two = await _two_instances(make_client, postgres_url, redis_server_url)
    body = await signed_in(one, "two@example.com")
    assert (await two.client.get("/api/v1/auth/me", headers=bearer(body))).status_code == 200
    assert (await one.client.post("/api/v1/auth/logout", headers=bearer(body))).status_code == 204

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 1.0
    status = 200
    while loop.time() < deadline:
        status = (await two.client.get("/api/v1/auth/me", headers=bearer(body))).status_code
        if status == 401:
            break
        await asyncio.sleep(0.02)
    assert status == 401


@pytest.mark.parametrize("outage", ["down", "silent"])
async def test_while_redis_is_out_no_instance_trusts_its_session_cache(
    outage: str, postgres_url: str, redis_server_url: str, make_client: Callable[..., Any]
) -> None:
    """SECURITY.md "Faults": while Redis is out, revocations cannot be announced, so no process
    trusts its cache of live sessions: a logout on one instance ends the session on the other at
    once, although the other had it cached as live. "silent" is a partition (no byte passes, no
    connection closes), noticed by pinging the subscription. Once Redis answers again, the cache
    is trusted again."""
    host, port = redis_server_url.split("//", 1)[1].split("/", 1)[0].split(":")
    with proxy_to(host, int(port)) as proxy:
        one, two = await _two_instances(
            make_client, postgres_url, f"redis://127.0.0.1:{proxy.port}/0"
        )
        body = await signed_in(one, f"{outage}@example.com")
        assert (await two.client.get("/api/v1/auth/me", headers=bearer(body))).status_code == 200
        if outage == "down":
            proxy.cut()
        else:
            proxy.freeze()
        cache = two.app.state.services.session_cache
        assert await _until(lambda: not cache._subscribed, seconds=10)
        logout = await one.client.post("/api/v1/auth/logout", headers=bearer(body))
        assert logout.status_code == 204
        me = await two.client.get("/api/v1/auth/me", headers=bearer(body))
        assert me.status_code == 401
        if outage == "down":
            proxy.restore()
        else:
            proxy.freeze(False)
        assert await _until(_subscribed(cache), seconds=30)
