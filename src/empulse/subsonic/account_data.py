"""What subsonic/ keeps about an account: app password and key names (the secrets are not
exported), bookmarks and the saved play queue. The rows go with the account (the cascade)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts.data import AccountData
from empulse.models import User
from empulse.subsonic import repository
from empulse.subsonic.schemas import (
    ExportedBookmark,
    ExportedCredential,
    ExportedPlayQueue,
    ExportedSubsonic,
)


async def _subsonic(session: AsyncSession, _: Any, user: User) -> ExportedSubsonic:
    passwords = await repository.app_passwords_of(session, user.id)
    keys = await repository.api_keys_of(session, user.id)
    queue = await repository.play_queue_of(session, user.id)
    return ExportedSubsonic(
        app_passwords=[
            ExportedCredential(name=p.name, created_at=p.created_at, last_used_at=p.last_used_at)
            for p in passwords
        ],
        api_keys=[
            ExportedCredential(name=k.name, created_at=k.created_at, last_used_at=k.last_used_at)
            for k in keys
        ],
        bookmarks=[
            ExportedBookmark(
                track_id=b.track_id,
                position_ms=b.position_ms,
                comment=b.comment,
                changed_at=b.changed_at,
            )
            for b in await repository.bookmarks_of(session, user.id)
        ],
        play_queue=ExportedPlayQueue(
            track_ids=[str(i) for i in queue.track_ids],
            current_id=queue.current_id,
            position_ms=queue.position_ms,
            changed_at=queue.changed_at,
            changed_by=queue.changed_by,
        )
        if queue is not None
        else None,
    )


SUBSONIC = AccountData(
    key="subsonic",
    schema=ExportedSubsonic,
    description="Player apps: app password and API key names, bookmarks, the saved play queue.",
    export=_subsonic,
)
