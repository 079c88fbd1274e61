"""Queries for review and publishing: status transitions and the admin track list."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.pagination import Order, PageRequest, Rows, fetch_page
from empulse.models import ArtistApplication, Submission, Track

Reviewed = type[ArtistApplication] | type[Submission] | type[Track]


async def transition(
    session: AsyncSession,
    model: Reviewed,
    row_id: uuid.UUID,
    *,
    from_status: str,
    **values: Any,
) -> bool:
    """Set `values` on the row only if it is still in `from_status`, in one conditional UPDATE:
    of two admins acting at once, exactly one gets True. The caller refreshes the row."""
    result = await session.execute(
        update(model)
        .where(model.id == row_id, model.status == from_status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def list_tracks(
    session: AsyncSession,
    *,
    status: str | None,
    artist_id: uuid.UUID | None,
    page: PageRequest,
) -> Rows[Track]:
    statement = select(Track)
    if status is not None:
        statement = statement.where(Track.status == status)
    if artist_id is not None:
        statement = statement.where(Track.artist_id == artist_id)
    return await fetch_page(
        session, statement, Order.newest_first(Track.created_at, Track.id), page
    )
