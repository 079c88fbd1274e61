"""Playlists, their entries at dense positions, collaborators and invites.

Entries sit at positions exactly 0..n-1, which a unique (playlist, position) constraint
guarantees. Moving entries is done in two statements so that the constraint, checked row by
row on both databases, never sees two entries at one position in between: the moved rows first
go to distinct negative positions (-(new) - 1), then flip to their new ones. Every write holds
the playlist's row locked (`lock`), so writes to one playlist apply one after the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository as catalog
from empulse.core.pagination import Order, PageRequest, Rows, SortKey, fetch_page
from empulse.models import (
    Album,
    LikedPlaylist,
    Playlist,
    PlaylistCollaborator,
    PlaylistEntry,
    PlaylistInvite,
    Track,
    User,
)

ENTRY_ORDER = Order("playlist_entries:position", (SortKey(PlaylistEntry.position),))
NEWEST = Order.newest_first(Playlist.created_at, Playlist.id)


async def get(session: AsyncSession, playlist_id: uuid.UUID) -> Playlist | None:
    return await session.get(Playlist, playlist_id)


async def lock(session: AsyncSession, playlist_id: uuid.UUID) -> Playlist | None:
    """The playlist, its row locked until the transaction ends: `FOR NO KEY UPDATE` on
    PostgreSQL (the entries' foreign-key checks do not wait for it). SQLite has no row locks:
    a write that changes nothing takes its writer lock first, before anything is read, so a
    concurrent write waits and then reads what the first one wrote.

    Changes this unit of work made to the playlist are flushed first: the row is read afresh
    (`populate_existing`), which would otherwise drop them (sessions do not autoflush)."""
    await session.flush()
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(
            update(Playlist)
            .where(Playlist.id == playlist_id)
            .values(entry_count=Playlist.entry_count)
            .execution_options(synchronize_session=False)
        )
        statement = select(Playlist).where(Playlist.id == playlist_id)
    else:
        statement = (
            select(Playlist).where(Playlist.id == playlist_id).with_for_update(key_share=True)
        )
    found = await session.scalars(statement.execution_options(populate_existing=True))
    return found.first()


async def owner_of(session: AsyncSession, user_id: uuid.UUID) -> Any:
    """(name, privacy, disabled_at) of an account, or None when it is gone."""
    statement = select(User.name, User.privacy, User.disabled_at).where(User.id == user_id)
    return (await session.execute(statement)).first()


async def people(session: AsyncSession, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """id -> (id, name, privacy) of these accounts, in one query."""
    if not user_ids:
        return {}
    statement = select(User.id, User.name, User.privacy).where(User.id.in_(user_ids))
    return {row.id: row for row in await session.execute(statement)}


async def is_collaborator(
    session: AsyncSession, playlist_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    statement = select(PlaylistCollaborator.user_id).where(
        PlaylistCollaborator.playlist_id == playlist_id, PlaylistCollaborator.user_id == user_id
    )
    return (await session.execute(statement)).first() is not None


async def followed_among(
    session: AsyncSession, user_id: uuid.UUID, playlist_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    statement = select(LikedPlaylist.playlist_id).where(
        LikedPlaylist.user_id == user_id, LikedPlaylist.playlist_id.in_(playlist_ids)
    )
    return set(await session.scalars(statement))


async def collaborating_among(
    session: AsyncSession, user_id: uuid.UUID, playlist_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    statement = select(PlaylistCollaborator.playlist_id).where(
        PlaylistCollaborator.user_id == user_id, PlaylistCollaborator.playlist_id.in_(playlist_ids)
    )
    return set(await session.scalars(statement))


def _shown_to_others() -> ColumnElement[bool]:
    """Public, and its owner's account enabled."""
    enabled = select(User.id).where(User.id == Playlist.owner_id, User.disabled_at.is_(None))
    return Playlist.public.is_(True) & enabled.exists()


async def mine(session: AsyncSession, user_id: uuid.UUID, page: PageRequest) -> Rows[Playlist]:
    """Owned, collaborating on, and followed (while it is still shown to others), newest
    first."""
    collaborating = select(PlaylistCollaborator.playlist_id).where(
        PlaylistCollaborator.user_id == user_id
    )
    followed = select(LikedPlaylist.playlist_id).where(LikedPlaylist.user_id == user_id)
    statement = select(Playlist).where(
        or_(
            Playlist.owner_id == user_id,
            Playlist.id.in_(collaborating),
            Playlist.id.in_(followed) & _shown_to_others(),
        )
    )
    return await fetch_page(session, statement, NEWEST, page)


async def public_of(
    session: AsyncSession, owner_id: uuid.UUID, page: PageRequest
) -> Rows[Playlist]:
    statement = select(Playlist).where(Playlist.owner_id == owner_id, Playlist.public.is_(True))
    return await fetch_page(session, statement, NEWEST, page)


async def visible_to(
    session: AsyncSession, playlist_ids: Collection[uuid.UUID], viewer: uuid.UUID
) -> dict[uuid.UUID, Playlist]:
    """These playlists, where the viewer may see them: shown to others, the viewer's own, or
    ones the viewer collaborates on."""
    if not playlist_ids:
        return {}
    collaborating = select(PlaylistCollaborator.playlist_id).where(
        PlaylistCollaborator.user_id == viewer
    )
    statement = select(Playlist).where(
        Playlist.id.in_(playlist_ids),
        or_(_shown_to_others(), Playlist.owner_id == viewer, Playlist.id.in_(collaborating)),
    )
    return {playlist.id: playlist for playlist in await session.scalars(statement)}


async def track_covers(
    session: AsyncSession, playlist_ids: Collection[uuid.UUID], first: int
) -> dict[uuid.UUID, list[list[dict[str, Any]]]]:
    """For each playlist, the covers of the albums of its first `first` visible entries, in
    playlist order, each album once: one query for a whole page of playlists."""
    if not playlist_ids:
        return {}
    statement = (
        catalog.visible_tracks()
        .with_only_columns(PlaylistEntry.playlist_id, Album.id, Album.images)
        .join(PlaylistEntry, PlaylistEntry.track_id == Track.id)
        .where(PlaylistEntry.playlist_id.in_(playlist_ids), PlaylistEntry.position < first)
        .order_by(PlaylistEntry.playlist_id, PlaylistEntry.position)
    )
    covers: dict[uuid.UUID, list[list[dict[str, Any]]]] = {}
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for playlist_id, album_id, images in await session.execute(statement):
        if (playlist_id, album_id) not in seen and images:
            seen.add((playlist_id, album_id))
            covers.setdefault(playlist_id, []).append(images)
    return covers


async def entries(
    session: AsyncSession, playlist_id: uuid.UUID, page: PageRequest
) -> Rows[PlaylistEntry]:
    statement = select(PlaylistEntry).where(PlaylistEntry.playlist_id == playlist_id)
    return await fetch_page(session, statement, ENTRY_ORDER, page)


async def visible_track_ids(
    session: AsyncSession, track_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    statement = catalog.visible_tracks().with_only_columns(Track.id).where(Track.id.in_(track_ids))
    return set(await session.scalars(statement))


async def _move(
    session: AsyncSession, playlist_id: uuid.UUID, where: ColumnElement[bool], new: Any
) -> None:
    """Give the rows `where` selects their `new` position, in the two steps the unique
    constraint needs (see the module's docstring)."""
    mine = PlaylistEntry.playlist_id == playlist_id
    await session.execute(
        update(PlaylistEntry)
        .where(mine, where)
        .values(position=-new - 1)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(PlaylistEntry)
        .where(mine, PlaylistEntry.position < 0)
        .values(position=-PlaylistEntry.position - 1)
        .execution_options(synchronize_session=False)
    )


async def insert(
    session: AsyncSession,
    playlist: Playlist,
    track_ids: list[uuid.UUID],
    position: int,
    user_id: uuid.UUID,
    now: datetime,
) -> None:
    """These tracks at `position` (0..n), the entries from there on moved down to make room."""
    count = len(track_ids)
    if position < playlist.entry_count:
        shifted = PlaylistEntry.position + count
        await _move(session, playlist.id, PlaylistEntry.position >= position, shifted)
    session.add_all(
        PlaylistEntry(
            playlist_id=playlist.id,
            position=position + offset,
            track_id=track_id,
            added_by=user_id,
            added_at=now,
        )
        for offset, track_id in enumerate(track_ids)
    )
    await session.flush()
    playlist.entry_count += count


async def remove(
    session: AsyncSession, playlist: Playlist, entry_ids: Collection[uuid.UUID]
) -> int:
    """Remove these entries (others' ids are ignored) and close the gaps; how many went."""
    first = await session.scalar(
        select(func.min(PlaylistEntry.position)).where(
            PlaylistEntry.playlist_id == playlist.id, PlaylistEntry.id.in_(entry_ids)
        )
    )
    if first is None:
        return 0
    removed = await session.execute(
        delete(PlaylistEntry)
        .where(PlaylistEntry.playlist_id == playlist.id, PlaylistEntry.id.in_(entry_ids))
        .execution_options(synchronize_session=False)
    )
    gone = int(getattr(removed, "rowcount", 0))
    # The entries after the first removed one, renumbered in order from its position.
    ranked = (
        select(
            PlaylistEntry.id,
            func.row_number().over(order_by=PlaylistEntry.position).label("rank"),
        )
        .where(PlaylistEntry.playlist_id == playlist.id, PlaylistEntry.position > first)
        .subquery()
    )
    await session.execute(
        update(PlaylistEntry)
        .where(PlaylistEntry.id == ranked.c.id)
        .values(position=-(first + ranked.c.rank - 1) - 1)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(PlaylistEntry)
        .where(PlaylistEntry.playlist_id == playlist.id, PlaylistEntry.position < 0)
        .values(position=-PlaylistEntry.position - 1)
        .execution_options(synchronize_session=False)
    )
    playlist.entry_count -= gone
    return gone


async def reorder(
    session: AsyncSession, playlist: Playlist, start: int, length: int, before: int
) -> bool:
    """Move entries [start, start + length) to just before the entry at `before`; False when
    that leaves the order as it was."""
    end = start + length
    if start <= before <= end:
        return False
    position = PlaylistEntry.position
    if before > end:
        # The range moves down to end just before `before`; what lay between moves up.
        new = case((position < end, position + (before - end)), else_=position - length)
        await _move(session, playlist.id, (position >= start) & (position < before), new)
    else:
        # The range moves up to `before`; what lay between moves down.
        new = case((position >= start, position - (start - before)), else_=position + length)
        await _move(session, playlist.id, (position >= before) & (position < end), new)
    return True


async def all_entries(session: AsyncSession, playlist_id: uuid.UUID) -> list[PlaylistEntry]:
    statement = (
        select(PlaylistEntry)
        .where(PlaylistEntry.playlist_id == playlist_id)
        .order_by(PlaylistEntry.position)
    )
    return list(await session.scalars(statement))


async def owned(session: AsyncSession, owner_id: uuid.UUID) -> list[Playlist]:
    statement = select(Playlist).where(Playlist.owner_id == owner_id).order_by(*NEWEST.clauses())
    return list(await session.scalars(statement))


async def collaborations(session: AsyncSession, user_id: uuid.UUID) -> list[Any]:
    """(playlist id, name, since) of the playlists the account collaborates on."""
    statement = (
        select(Playlist.id, Playlist.name, PlaylistCollaborator.created_at)
        .join(PlaylistCollaborator, PlaylistCollaborator.playlist_id == Playlist.id)
        .where(PlaylistCollaborator.user_id == user_id)
        .order_by(PlaylistCollaborator.created_at.desc())
    )
    return list((await session.execute(statement)).all())


async def collaborators(session: AsyncSession, playlist_id: uuid.UUID) -> list[Any]:
    """(user id, name, since) of the playlist's collaborators, earliest first."""
    statement = (
        select(User.id, User.name, PlaylistCollaborator.created_at)
        .join(PlaylistCollaborator, PlaylistCollaborator.user_id == User.id)
        .where(PlaylistCollaborator.playlist_id == playlist_id)
        .order_by(PlaylistCollaborator.created_at, User.id)
    )
    return list((await session.execute(statement)).all())


async def add_collaborator(
    session: AsyncSession, playlist_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    session.add(PlaylistCollaborator(playlist_id=playlist_id, user_id=user_id))
    await session.flush()


async def remove_collaborator(
    session: AsyncSession, playlist_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    await session.execute(
        delete(PlaylistCollaborator).where(
            PlaylistCollaborator.playlist_id == playlist_id, PlaylistCollaborator.user_id == user_id
        )
    )


async def invite_by_hash(session: AsyncSession, token_hash: str) -> PlaylistInvite | None:
    statement = select(PlaylistInvite).where(PlaylistInvite.token_hash == token_hash)
    return (await session.scalars(statement)).first()


async def claim_invite(
    session: AsyncSession, invite_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> bool:
    """Use the invite, once: False when another acceptance used it first or it expired."""
    claimed = await session.execute(
        update(PlaylistInvite)
        .where(
            PlaylistInvite.id == invite_id,
            PlaylistInvite.accepted_at.is_(None),
            PlaylistInvite.expires_at > now,
        )
        .values(accepted_at=now, accepted_by=user_id)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(claimed, "rowcount", 0))


async def change_followers(session: AsyncSession, playlist_id: uuid.UUID, by: int) -> None:
    await session.execute(
        update(Playlist)
        .where(Playlist.id == playlist_id)
        .values(follower_count=Playlist.follower_count + by)
        .execution_options(synchronize_session=False)
    )


async def unfollow_all(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Before an account goes: its follows leave the counts of the playlists it followed (the
    rows go with the account, by the cascade)."""
    followed = select(LikedPlaylist.playlist_id).where(LikedPlaylist.user_id == user_id)
    await session.execute(
        update(Playlist)
        .where(Playlist.id.in_(followed))
        .values(follower_count=Playlist.follower_count - 1)
        .execution_options(synchronize_session=False)
    )
