"""What library/ keeps about an account: its likes (the rows go with the account, by the
database's cascade)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts.data import AccountData
from empulse.library import repository
from empulse.library.schemas import ExportedLibrary, ExportedLike
from empulse.models import User


async def _library(session: AsyncSession, _: Any, user: User) -> ExportedLibrary:
    parts = {
        name: [
            ExportedLike(id=item_id, liked_at=liked_at)
            for item_id, liked_at in await repository.all_liked(session, kind, user.id)
        ]
        for name, kind in repository.KINDS.items()
    }
    return ExportedLibrary(**parts)


LIBRARY = AccountData(
    key="library",
    schema=ExportedLibrary,
    description="The tracks, albums and artists the account likes, newest first.",
    export=_library,
)
