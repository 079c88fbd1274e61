"""HTTP for /admin/audit-events: the security event log, for administrators."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from empulse.audit import repository
from empulse.audit.schemas import AuditEventOut
from empulse.auth.dependencies import admin_router
from empulse.core.pagination import Cursor, Limit, Page, PageRequest
from empulse.core.schemas import WITHOUT_NUL
from empulse.services import ReadSession

router = admin_router("/audit-events")


@router.get("", response_model=Page[AuditEventOut], summary="Security events")
async def list_audit_events(
    session: ReadSession,
    event: Annotated[
        str | None, Query(max_length=48, pattern=WITHOUT_NUL, description="One kind of event.")
    ] = None,
    user_id: Annotated[
        uuid.UUID | None, Query(alias="userId", description="Events about one account.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AuditEventOut]:
    """Newest first: sign-ins and their failures, lockouts, password changes and resets,
    sessions revoked, refresh tokens replayed, review decisions, W-9 reads, account changes
    and deletions (docs/operations.md lists them). Events keep no secrets; those of a deleted
    account keep no user id, address or user agent."""
    rows = await repository.list_events(
        session, event=event, user_id=user_id, page=PageRequest(limit, cursor)
    )
    return rows.shaped(AuditEventOut.model_validate)
