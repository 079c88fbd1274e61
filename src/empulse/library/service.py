"""Liking what the catalog shows, and showing a library as the catalog shows its items."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository as catalog
from empulse.catalog import service as shapes
from empulse.catalog.schemas import AlbumOut, ArtistOut, TrackOut
from empulse.catalog.service import PublicUrl
from empulse.core.errors import NotFound
from empulse.core.pagination import Page, PageRequest
from empulse.library import repository
from empulse.library.schemas import (
    LikedAlbumOut,
    LikedArtistOut,
    LikedPlaylistOut,
    LikedTrackOut,
)
from empulse.playlists import repository as playlist_rows
from empulse.playlists import service as playlists


async def _visible(
    session: AsyncSession, kind: str, item_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    if kind == "playlists":
        await playlists.visible(session, item_id, user_id)
        return True
    if kind == "tracks":
        return await catalog.listed_track(session, item_id) is not None
    if kind == "albums":
        return await catalog.listed_album(session, item_id) is not None
    return await catalog.visible_artist(session, item_id) is not None


async def like(session: AsyncSession, kind: str, user_id: uuid.UUID, item_id: uuid.UUID) -> None:
    """Only what a listener can see may be liked (404 otherwise, as its own URL answers)."""
    if not await _visible(session, kind, item_id, user_id):
        raise NotFound(f"No such {kind.removesuffix('s')}.")
    added = await repository.like(session, repository.KINDS[kind], user_id, item_id)
    if added and kind == "playlists":
        await playlist_rows.change_followers(session, item_id, +1)


async def unlike(session: AsyncSession, kind: str, user_id: uuid.UUID, item_id: uuid.UUID) -> None:
    """Removing a like that is not there is fine: the end state is the same."""
    removed = await repository.unlike(session, repository.KINDS[kind], user_id, item_id)
    if removed and kind == "playlists":
        await playlist_rows.change_followers(session, item_id, -1)


async def liked_tracks(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest, url: PublicUrl
) -> Page[LikedTrackOut]:
    rows = await repository.liked(session, repository.KINDS["tracks"], user_id, page)
    shown = await shapes.shown_tracks(session, [row[0] for row in rows.items], url)
    return rows.shaped(
        lambda row: LikedTrackOut(
            id=row[0], liked_at=row[1], available=row[0] in shown, track=shown.get(row[0])
        )
    )


async def liked_albums(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest, url: PublicUrl
) -> Page[LikedAlbumOut]:
    rows = await repository.liked(session, repository.KINDS["albums"], user_id, page)
    shown = await shapes.shown_albums(session, [row[0] for row in rows.items], url)
    return rows.shaped(
        lambda row: LikedAlbumOut(
            id=row[0], liked_at=row[1], available=row[0] in shown, album=shown.get(row[0])
        )
    )


async def liked_artists(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest, url: PublicUrl
) -> Page[LikedArtistOut]:
    rows = await repository.liked(session, repository.KINDS["artists"], user_id, page)
    shown = await shapes.shown_artists(session, [row[0] for row in rows.items], url)
    return rows.shaped(
        lambda row: LikedArtistOut(
            id=row[0], liked_at=row[1], available=row[0] in shown, artist=shown.get(row[0])
        )
    )


async def liked_playlists(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest, url: PublicUrl
) -> Page[LikedPlaylistOut]:
    """Followed playlists; one made private since (to the follower) or whose owner's account
    is disabled is unavailable."""
    rows = await repository.liked(session, repository.KINDS["playlists"], user_id, page)
    found = await playlist_rows.visible_to(session, [row[0] for row in rows.items], user_id)
    shown = {
        out.id: out for out in await playlists.shaped(session, list(found.values()), user_id, url)
    }
    return rows.shaped(
        lambda row: LikedPlaylistOut(
            id=row[0], liked_at=row[1], available=row[0] in shown, playlist=shown.get(row[0])
        )
    )


async def contains(
    session: AsyncSession, user_id: uuid.UUID, track_ids: list[uuid.UUID]
) -> list[bool]:
    found = await repository.liked_among(session, repository.KINDS["tracks"], user_id, track_ids)
    return [track_id in found for track_id in track_ids]


async def mark_liked(
    session: AsyncSession, user_id: uuid.UUID, shown: Iterable[TrackOut | AlbumOut | ArtistOut]
) -> None:
    """Set `liked` on each of these catalog objects: one query per kind, whatever their
    number."""
    by_kind: dict[str, list[TrackOut | AlbumOut | ArtistOut]] = {}
    for item in shown:
        kind = (
            "tracks"
            if isinstance(item, TrackOut)
            else "albums"
            if isinstance(item, AlbumOut)
            else "artists"
        )
        by_kind.setdefault(kind, []).append(item)
    for kind, items in by_kind.items():
        found = await repository.liked_among(
            session, repository.KINDS[kind], user_id, [item.id for item in items]
        )
        for item in items:
            item.liked = item.id in found
