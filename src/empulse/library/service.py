"""Liking what the catalog shows, and showing a library as the catalog shows its items."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

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


L = TypeVar("L", LikedTrackOut, LikedAlbumOut, LikedArtistOut, LikedPlaylistOut)
# (the item ids of a page) -> those the caller may see, as they are shown, by id.
Shower = Callable[[list[uuid.UUID]], Awaitable[Mapping[uuid.UUID, Any]]]


async def _library(
    session: AsyncSession,
    kind: str,
    user_id: uuid.UUID,
    page: PageRequest,
    show: Shower,
    out: type[L],
) -> Page[L]:
    """A page of likes of one kind, newest first, each item as shown (or unavailable)."""
    rows = await repository.liked(session, repository.KINDS[kind], user_id, page)
    shown = await show([row[0] for row in rows.items])
    field = kind.removesuffix("s")
    return rows.shaped(
        lambda row: out.model_validate(
            {
                "id": row[0],
                "liked_at": row[1],
                "available": row[0] in shown,
                field: shown.get(row[0]),
            }
        )
    )


async def liked_tracks(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest, url: PublicUrl
) -> Page[LikedTrackOut]:
    async def show(ids: list[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        return await shapes.shown_tracks(session, ids, url)

    return await _library(session, "tracks", user_id, page, show, LikedTrackOut)


async def liked_albums(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest, url: PublicUrl
) -> Page[LikedAlbumOut]:
    async def show(ids: list[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        return await shapes.shown_albums(session, ids, url)

    return await _library(session, "albums", user_id, page, show, LikedAlbumOut)


async def liked_artists(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest, url: PublicUrl
) -> Page[LikedArtistOut]:
    async def show(ids: list[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        return await shapes.shown_artists(session, ids, url)

    return await _library(session, "artists", user_id, page, show, LikedArtistOut)


async def liked_playlists(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest, url: PublicUrl
) -> Page[LikedPlaylistOut]:
    """Followed playlists; one made private since (to the follower) or whose owner's account
    is disabled is unavailable."""

    async def show(ids: list[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        found = await playlist_rows.visible_to(session, ids, user_id)
        shaped = await playlists.shaped(session, list(found.values()), user_id, url)
        return {playlist.id: playlist for playlist in shaped}

    return await _library(session, "playlists", user_id, page, show, LikedPlaylistOut)


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
