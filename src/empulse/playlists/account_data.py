"""What playlists/ keeps about an account: the playlists it owns (with their entries) and the
ones it collaborates on. A deletion takes the owned playlists along (the database's cascade)
and their covers (a job); entries the account added to others' playlists stay, without it; an
artist's tracks leave every playlist, as removals (counted out, a new snapshot)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts.data import AccountData
from empulse.models import User
from empulse.playlists import repository
from empulse.playlists.schemas import (
    ExportedCollaboration,
    ExportedEntry,
    ExportedPlaylist,
    ExportedPlaylists,
)
from empulse.playlists.service import new_snapshot
from empulse.submissions.upload import enqueue_object_deletion


async def _playlists(session: AsyncSession, _: Any, user: User) -> ExportedPlaylists:
    owned = []
    for playlist in await repository.owned(session, user.id):
        entries = await repository.all_entries(session, playlist.id)
        owned.append(
            ExportedPlaylist(
                id=playlist.id,
                name=playlist.name,
                description=playlist.description,
                public=playlist.public,
                collaborative=playlist.collaborative,
                created_at=playlist.created_at,
                entries=[
                    ExportedEntry(entry_id=e.id, track_id=e.track_id, added_at=e.added_at)
                    for e in entries
                ],
            )
        )
    collaborating = [
        ExportedCollaboration(playlist_id=playlist_id, name=name, since=since)
        for playlist_id, name, since in await repository.collaborations(session, user.id)
    ]
    return ExportedPlaylists(owned=owned, collaborating=collaborating)


async def _before_deletion(session: AsyncSession, _: Any, user: User) -> None:
    await repository.unfollow_all(session, user.id)
    await repository.drop_tracks_of(session, user.id, new_snapshot())
    covers = [
        image["key"]
        for playlist in await repository.owned(session, user.id)
        for image in playlist.images
    ]
    enqueue_object_deletion(session, covers)


PLAYLISTS = AccountData(
    key="playlists",
    schema=ExportedPlaylists,
    description="The playlists the account owns, with their entries in order, and the ones "
    "it collaborates on.",
    export=_playlists,
    before_deletion=_before_deletion,
)
