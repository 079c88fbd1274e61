"""HTTP for /admin/jobs: the background job queue, its dead jobs, and retrying them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request

from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.auth.dependencies import AdminPrincipal, admin_router
from empulse.core.errors import Conflict, NotFound
from empulse.core.pagination import Cursor, Limit, Page, PageRequest
from empulse.core.schemas import WITHOUT_NUL
from empulse.jobs import repository
from empulse.jobs.schemas import JobOut, JobStatus
from empulse.models import Job
from empulse.services import AppServices, DbSession, ReadSession

router = admin_router("/jobs")


class NotDead(Conflict):
    code = "job_not_dead"
    title = "Only dead jobs are retried"


@router.get("", response_model=Page[JobOut], summary="Background jobs")
async def list_jobs(
    session: ReadSession,
    status: JobStatus | None = None,
    kind: Annotated[str | None, Query(max_length=64, pattern=WITHOUT_NUL)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[JobOut]:
    """Newest first. `status=dead` lists the jobs that failed every attempt (an email that
    never went out), with the last error; payloads are never shown."""
    rows = await repository.list_jobs(
        session, status=status, kind=kind, page=PageRequest(limit, cursor)
    )
    return rows.shaped(JobOut.model_validate)


@router.post(
    "/{job_id}/retry",
    response_model=JobOut,
    summary="Retry a dead job",
    responses={
        404: {"description": "No such job (not_found)"},
        409: {"description": "The job is not dead (job_not_dead)"},
    },
)
async def retry_job(
    job_id: uuid.UUID,
    admin: AdminPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> JobOut:
    """Back to pending with a fresh set of attempts, due now; audit-logged."""
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound("No such job.")
    if not await repository.revive(session, job_id):
        raise NotDead(f"This job is {job.status}; only dead jobs are retried.")
    audit.record(
        session, "job_retried", RequestMeta.of(request), user_id=admin.user_id, job_id=str(job_id)
    )
    await session.refresh(job)
    return JobOut.model_validate(job)
