"""Playlists, their entries in rank order, collaborators and invites.

An entry's position is its index in rank order (0..n-1, never stored). Ranks are positive
integers with gaps: entries added at either end are `SPACING` apart, and an added or moved entry
takes a rank in the gap between its new neighbours, so a write rewrites only the entries it adds
or moves, however long the playlist. A reorder moves whichever is shorter: the range, or the
entries it jumps over (the same order results). When a gap is too narrow for what goes into it,
the playlist is renumbered first, every entry `SPACING` apart again (rare: a gap halves at most
about twenty times before that). A unique (playlist, rank) constraint keeps ranks distinct; a
renumbering goes through negative ranks, so that the constraint, checked row by row on both
databases, never sees two entries at one rank in between. Every write holds the playlist's row
locked (`lock`), so writes to one playlist apply one after the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository as catalog
from empulse.core.pagination import (
    AnyRow,
    Order,
    PageRequest,
    Rows,
    SortKey,
    fetch_page,
    fetch_row_page,
)
from empulse.models import (
    Album,
    Artist,
    LikedPlaylist,
    Playlist,
    PlaylistCollaborator,
    PlaylistEntry,
    PlaylistInvite,
    Track,
    User,
)

ENTRY_ORDER = Order("playlist_entries:rank", (SortKey(PlaylistEntry.rank),))
# The gap left between entries (more than a playlist's most entries, so a renumbered playlist
# has room for any write); where a renumbered playlist's ranks start (room for a million adds
# at the top); the ranks' bound (appending past it renumbers first).
SPACING = 1 << 20
BASE = 1 << 40
_MAX_RANK = 1 << 62
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
    # Per playlist, the rank of its entry at position `first - 1` (NULL when it has fewer).
    last_rank = (
        select(PlaylistEntry.rank)
        .where(PlaylistEntry.playlist_id == Playlist.id)
        .order_by(PlaylistEntry.rank)
        .offset(first - 1)
        .limit(1)
        .correlate(Playlist)
        .scalar_subquery()
    )
    firsts = (
        select(Playlist.id, last_rank.label("last_rank"))
        .where(Playlist.id.in_(playlist_ids))
        .subquery()
    )
    statement = (
        catalog.visible_tracks()
        .with_only_columns(PlaylistEntry.playlist_id, Album.id, Album.images)
        .join(PlaylistEntry, PlaylistEntry.track_id == Track.id)
        .join(firsts, firsts.c.id == PlaylistEntry.playlist_id)
        .where(
            PlaylistEntry.rank <= func.coalesce(firsts.c.last_rank, literal(_MAX_RANK, BigInteger))
        )
        .order_by(PlaylistEntry.playlist_id, PlaylistEntry.rank)
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
) -> tuple[Rows[AnyRow], int]:
    """A page of the entries in order, and the position of its first: in the same statement
    (one snapshot), how many entries rank up to the cursor's (an index-only count)."""
    mine = PlaylistEntry.playlist_id == playlist_id
    before: ColumnElement[int] = literal(0, Integer)
    if page.cursor is not None:
        [after] = ENTRY_ORDER.decode(page.cursor)
        before = select(func.count()).where(mine, PlaylistEntry.rank <= after).scalar_subquery()
    statement = select(
        PlaylistEntry.id,
        PlaylistEntry.rank,
        PlaylistEntry.track_id,
        PlaylistEntry.added_by,
        PlaylistEntry.added_at,
        before.label("before"),
    ).where(mine)
    rows = await fetch_row_page(session, statement, ENTRY_ORDER, page)
    return rows, (int(rows.items[0].before) if rows.items else 0)


async def visible_track_ids(
    session: AsyncSession, track_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    statement = catalog.visible_tracks().with_only_columns(Track.id).where(Track.id.in_(track_ids))
    return set(await session.scalars(statement))


@dataclass(frozen=True, slots=True)
class _Room:
    """Ranks for `count` entries in a gap: `low + step`, `low + 2 * step`, …"""

    low: int
    step: int


async def _gap(
    session: AsyncSession, playlist: Playlist, before: int
) -> tuple[int | None, int | None]:
    """(low, high): the ranks of the entries at positions `before - 1` and `before`, between
    which an entry put at `before` goes (None before the first, and after the last). Read
    from the nearer end of the playlist; from the top when the end holds fewer entries than
    counted, and after the last entry when the playlist holds fewer than `before`."""
    count = playlist.entry_count
    ranks = select(PlaylistEntry.rank).where(PlaylistEntry.playlist_id == playlist.id)
    last_first = ranks.order_by(PlaylistEntry.rank.desc())
    if before > count - before:
        found = list(await session.scalars(last_first.offset(max(count - before - 1, 0)).limit(2)))
        if before == count and found:
            return found[0], None
        if before < count and len(found) == 2:
            return found[1], found[0]
    found = list(
        await session.scalars(
            ranks.order_by(PlaylistEntry.rank).offset(max(before - 1, 0)).limit(2)
        )
    )
    if before == 0:
        return None, (found[0] if found else None)
    if found:
        return found[0], (found[1] if len(found) > 1 else None)
    return await session.scalar(last_first.limit(1)), None


def _spread(low: int | None, high: int | None, count: int) -> _Room | None:
    """`count` ranks between `low` and `high`, `SPACING` apart where one side is open (ranks
    stay positive and below `_MAX_RANK`), else evenly apart; None when they do not fit."""
    if low is None and high is None:
        return _Room(BASE, SPACING)
    if high is None:
        assert low is not None
        return _Room(low, SPACING) if low + SPACING * count < _MAX_RANK else None
    if low is None:
        if high - SPACING * count > 0:
            return _Room(high - SPACING * (count + 1), SPACING)
        low = 0
    step = (high - low) // (count + 1)
    return _Room(low, step) if step >= 1 else None


async def _renumber(session: AsyncSession, playlist_id: uuid.UUID) -> None:
    """Every entry `SPACING` apart again from `BASE`, in the same order: first to distinct
    negative ranks, then to the new ones (see the module's docstring)."""
    mine = PlaylistEntry.playlist_id == playlist_id
    await session.execute(
        update(PlaylistEntry)
        .where(mine)
        .values(rank=-PlaylistEntry.rank)
        .execution_options(synchronize_session=False)
    )
    ordered = (
        select(
            PlaylistEntry.id,
            func.row_number().over(order_by=PlaylistEntry.rank.desc()).label("number"),
        )
        .where(mine)
        .subquery()
    )
    await session.execute(
        update(PlaylistEntry)
        .where(PlaylistEntry.id == ordered.c.id)
        .values(rank=literal(BASE, BigInteger) + ordered.c.number * SPACING)
        .execution_options(synchronize_session=False)
    )


async def _room(session: AsyncSession, playlist: Playlist, before: int, count: int) -> _Room:
    """Ranks for `count` entries going in before the entry at position `before` (the end when
    it is the entry count), the playlist renumbered first when the gap there is too narrow."""
    room = _spread(*await _gap(session, playlist, before), count)
    if room is None:
        await _renumber(session, playlist.id)
        room = _spread(*await _gap(session, playlist, before), count)
        assert room is not None, "a renumbered playlist leaves SPACING between entries"
    return room


async def insert(
    session: AsyncSession,
    playlist: Playlist,
    track_ids: list[uuid.UUID],
    position: int,
    user_id: uuid.UUID,
    now: datetime,
) -> None:
    """These tracks at `position` (0..n), in the gap before the entry there: no other entry
    moves."""
    room = await _room(session, playlist, position, len(track_ids))
    session.add_all(
        PlaylistEntry(
            playlist_id=playlist.id,
            rank=room.low + room.step * (offset + 1),
            track_id=track_id,
            added_by=user_id,
            added_at=now,
        )
        for offset, track_id in enumerate(track_ids)
    )
    await session.flush()
    playlist.entry_count += len(track_ids)


async def remove(
    session: AsyncSession, playlist: Playlist, entry_ids: Collection[uuid.UUID]
) -> int:
    """Remove these entries (others' ids are ignored); how many went. The entries after them
    move up a position without being written: a position is an index."""
    removed = await session.execute(
        delete(PlaylistEntry)
        .where(PlaylistEntry.playlist_id == playlist.id, PlaylistEntry.id.in_(entry_ids))
        .execution_options(synchronize_session=False)
    )
    gone = int(getattr(removed, "rowcount", 0))
    playlist.entry_count -= gone
    return gone


async def reorder(
    session: AsyncSession, playlist: Playlist, start: int, length: int, before: int
) -> bool:
    """Move entries [start, start + length) to just before the entry at `before`; False when
    that leaves the order as it was. The shorter of the range and the entries it jumps over is
    what moves: the range down past entries is those entries up past the range."""
    end = start + length
    if start <= before <= end:
        return False
    if before > end:  # down, the same as what lies between, [end, before), up to `start`
        between = before - end
        first, count, to = (start, length, before) if length <= between else (end, between, start)
    else:  # up, the same as what lies between, [before, start), down to `end`
        between = start - before
        first, count, to = (start, length, before) if length <= between else (before, between, end)
    room = await _room(session, playlist, to, count)
    block = (
        select(PlaylistEntry.id, PlaylistEntry.rank)
        .where(PlaylistEntry.playlist_id == playlist.id)
        .order_by(PlaylistEntry.rank)
        .offset(first)
        .limit(count)
        .subquery()
    )
    numbered = select(
        block.c.id, func.row_number().over(order_by=block.c.rank).label("number")
    ).subquery()
    await session.execute(
        update(PlaylistEntry)
        .where(PlaylistEntry.id == numbered.c.id)
        .values(
            rank=literal(room.low, BigInteger) + literal(room.step, BigInteger) * numbered.c.number
        )
        .execution_options(synchronize_session=False)
    )
    return True


async def drop_tracks_of(session: AsyncSession, user_id: uuid.UUID, snapshot_id: str) -> None:
    """Before an account goes, and its artist's tracks with it (the database's cascade): the
    entries of those tracks leave every playlist as a removal would, the playlists locked in id
    order first (each playlist write takes its lock), their counts lowered and their snapshot
    replaced, so a collaborator's write against the old order is refused."""
    theirs = (
        select(Track.id).join(Artist, Artist.id == Track.artist_id).where(Artist.user_id == user_id)
    )
    holding = select(PlaylistEntry.playlist_id).where(PlaylistEntry.track_id.in_(theirs))
    locked = await session.execute(
        select(Playlist.id)
        .where(Playlist.id.in_(holding))
        .order_by(Playlist.id)
        .with_for_update(key_share=True)
    )
    if locked.first() is None:
        return
    gone = (
        select(PlaylistEntry.playlist_id, func.count().label("entries"))
        .where(PlaylistEntry.track_id.in_(theirs))
        .group_by(PlaylistEntry.playlist_id)
        .subquery()
    )
    await session.execute(
        update(Playlist)
        .where(Playlist.id == gone.c.playlist_id)
        .values(entry_count=Playlist.entry_count - gone.c.entries, snapshot_id=snapshot_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(PlaylistEntry)
        .where(PlaylistEntry.track_id.in_(theirs))
        .execution_options(synchronize_session=False)
    )


async def all_entries(session: AsyncSession, playlist_id: uuid.UUID) -> list[PlaylistEntry]:
    statement = (
        select(PlaylistEntry)
        .where(PlaylistEntry.playlist_id == playlist_id)
        .order_by(PlaylistEntry.rank)
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
