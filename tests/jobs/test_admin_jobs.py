"""Admins see dead jobs (an email that never went out) and retry them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from empulse.core.db import utcnow
from empulse.infra.email import SEND_EMAIL
from empulse.models import AuditEvent, Job
from empulse.services import Services
from tests.artists.helpers import admin_headers
from tests.auth.helpers import bearer, deliver, register, signed_in
from tests.conftest import Backend, Harness
from tests.support.fixtures import SmtpCapture
from tests.web.test_problems import assert_problem


async def _run_every_attempt(harness: Harness) -> None:
    """Run the queue until nothing is left to retry (backoff skipped)."""
    services: Services = harness.app.state.services
    for _ in range(20):
        async with services.sessionmaker() as session:
            await session.execute(
                update(Job).where(Job.status == "pending").values(run_at=utcnow())
            )
            await session.commit()
        if not await services.job_runner.run_due():
            return


async def test_a_dead_email_is_listed_and_retried_once_smtp_is_back(
    backend: Backend, make_client: Callable[..., Any], smtp_server: SmtpCapture
) -> None:
    harness: Harness = await make_client(backend, **smtp_server.settings())
    admin = await admin_headers(harness)
    smtp_server.controller.stop()  # nothing listens on the port now
    assert (await register(harness, "patient@example.com")).status_code == 202
    await _run_every_attempt(harness)

    listing = await harness.client.get("/api/v1/admin/jobs?status=dead", headers=admin)
    assert listing.status_code == 200, listing.text
    [job] = listing.json()["items"]
    assert job["kind"] == SEND_EMAIL
    assert job["attempts"] == job["maxAttempts"]
    assert job["lastError"]
    assert "payload" not in job  # it holds the sealed verification link

    controller = Controller(smtp_server, hostname=smtp_server.host, port=smtp_server.port)
    controller.start()
    try:
        retried = await harness.client.post(f"/api/v1/admin/jobs/{job['id']}/retry", headers=admin)
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "pending"
        assert retried.json()["attempts"] == 0
        assert_problem(
            await harness.client.post(f"/api/v1/admin/jobs/{job['id']}/retry", headers=admin),
            409,
            "job_not_dead",
        )
        await deliver(harness)
        (message,) = await asyncio.to_thread(smtp_server.wait_for, 1, 20)
    finally:
        controller.stop()
    assert message["To"] == "patient@example.com"
    done = await harness.client.get("/api/v1/admin/jobs?status=done", headers=admin)
    assert job["id"] in [item["id"] for item in done.json()["items"]]

    services: Services = harness.app.state.services
    async with services.sessionmaker() as session:
        events = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.event == "job_retried"))
        )
    assert [event.details["job_id"] for event in events] == [job["id"]]


async def test_the_job_queue_is_for_admins_only(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    listener = bearer(await signed_in(harness, "listener@example.com"))
    assert_problem(
        await harness.client.get("/api/v1/admin/jobs", headers=listener), 403, "admin_required"
    )
    admin = await admin_headers(harness)
    assert_problem(
        await harness.client.post(
            "/api/v1/admin/jobs/00000000-0000-4000-8000-000000000000/retry", headers=admin
        ),
        404,
        "not_found",
    )
    assert_problem(
        await harness.client.get("/api/v1/admin/jobs?status=stuck", headers=admin),
        422,
        "validation_failed",
    )
