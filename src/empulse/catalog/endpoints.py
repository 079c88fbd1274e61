"""HTTP for the listener's catalog (tracks, albums, artists): readable without signing in,
cacheable."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog import repository, service
from empulse.catalog.responses import Shown, cached_page, shown_json
from empulse.catalog.schemas import (
    AlbumOut,
    AlbumSort,
    AlbumWithTracksOut,
    ArtistOut,
    ArtistSort,
    ReleaseType,
    TagCount,
    TrackOut,
    TrackSort,
)
from empulse.core.errors import NotFound, ValidationFailed
from empulse.core.pagination import AnyRow, Cursor, Limit, Page, PageRequest, Rows
from empulse.core.schemas import WITHOUT_NUL
from empulse.models import Artist
from empulse.services import ReadSession, get_services
from empulse.web.caching import public_json
from empulse.web.paths import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/tracks", tags=["catalog"])
albums_router = APIRouter(prefix=f"{API_PREFIX}/albums", tags=["catalog"])
artists_router = APIRouter(prefix=f"{API_PREFIX}/artists", tags=["catalog"])
genres_router = APIRouter(prefix=API_PREFIX, tags=["catalog"])

_TRACK_SORT = (
    "newest: by publication, newest first; title; popular: by qualified plays (the order "
    "follows the counts within a minute), then newest."
)
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (`If-None-Match` matched the `ETag`)."}
}
Genre = Annotated[str, Path(min_length=1, max_length=64, pattern=WITHOUT_NUL)]
TagQuery = Annotated[str | None, Query(min_length=1, max_length=64, pattern=WITHOUT_NUL)]


@router.get(
    "",
    response_model=Page[TrackOut],
    summary="Published tracks",
    responses={**_NOT_MODIFIED, 400: {"description": "A cursor this list did not issue"}},
)
@cached_page("tracks")
async def list_tracks(
    request: Request,
    session: ReadSession,
    genre: TagQuery = None,
    subgenre: TagQuery = None,
    mood: Annotated[
        str | None,
        Query(min_length=1, max_length=60, pattern=WITHOUT_NUL, description="Any case."),
    ] = None,
    artist_id: Annotated[uuid.UUID | None, Query(alias="artistId")] = None,
    album_id: Annotated[uuid.UUID | None, Query(alias="albumId")] = None,
    sort: Annotated[TrackSort, Query(description=_TRACK_SORT)] = "newest",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Every visible track (published, its album published, its artist's account enabled),
    filtered by genre, subgenre, mood, artist or album (names as `GET /genres` and
    `GET /moods` list them)."""
    where = repository.TrackFilter(genre, subgenre, mood, artist_id, album_id)
    return await _page(request, session, where, sort, PageRequest(limit, cursor))


@router.get(
    "/genre/{genre}",
    response_model=Page[TrackOut],
    summary="Published tracks of a genre",
    responses={**_NOT_MODIFIED, 400: {"description": "A cursor this list did not issue"}},
)
@cached_page("tracks")
async def tracks_of_genre(
    genre: Genre,
    request: Request,
    session: ReadSession,
    sort: TrackSort = "newest",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """The seed's route: the same as `GET /tracks?genre=`."""
    where = repository.TrackFilter(genre=genre)
    return await _page(request, session, where, sort, PageRequest(limit, cursor))


@router.get(
    "/mood/{mood}",
    response_model=Page[TrackOut],
    summary="Published tracks of a mood",
    responses={**_NOT_MODIFIED, 400: {"description": "A cursor this list did not issue"}},
)
@cached_page("tracks")
async def tracks_of_mood(
    mood: Genre,
    request: Request,
    session: ReadSession,
    sort: TrackSort = "newest",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """The seed's route: the same as `GET /tracks?mood=`."""
    where = repository.TrackFilter(mood=mood)
    return await _page(request, session, where, sort, PageRequest(limit, cursor))


@router.get(
    "/{track_id}",
    response_model=TrackOut,
    summary="One published track",
    responses={**_NOT_MODIFIED, 404: {"description": "No visible track (not_found)"}},
)
@cached_page("tracks")
async def get_track(track_id: uuid.UUID, request: Request, session: ReadSession) -> Response:
    """A taken-down track, one of an unpublished album or of a disabled artist is not found."""
    track = await repository.listed_track(session, track_id)
    if track is None:
        raise NotFound("No such track.")
    return await _shown(request, session, service.track_out(track, _url(request)))


async def _page(
    request: Request,
    session: ReadSession,
    where: repository.TrackFilter,
    sort: str,
    page: PageRequest,
) -> Response:
    rows = await repository.list_tracks(session, where=where, sort=sort, page=page)
    url = _url(request)
    return await _shown(request, session, rows.shaped(lambda track: service.track_out(track, url)))


@genres_router.get(
    "/genres",
    response_model=Page[TagCount],
    summary="Genres, with their visible tracks",
    responses={**_NOT_MODIFIED, 400: {"description": "A cursor this list did not issue"}},
)
@cached_page(None)
async def list_genres(
    request: Request, session: ReadSession, limit: Limit = 100, cursor: Cursor = None
) -> Response:
    """Every genre a visible track has, by name, with how many visible tracks have it."""
    rows = await repository.genre_counts(session, PageRequest(limit, cursor))
    return public_json(
        request, rows.shaped(lambda row: TagCount(name=row.genre, track_count=row.tracks))
    )


@genres_router.get(
    "/moods",
    response_model=Page[TagCount],
    summary="Moods, with their visible tracks",
    responses={**_NOT_MODIFIED, 400: {"description": "A cursor this list did not issue"}},
)
@cached_page(None)
async def list_moods(
    request: Request, session: ReadSession, limit: Limit = 100, cursor: Cursor = None
) -> Response:
    """Every mood a visible track has (lower-cased), by name, with how many visible tracks
    have it."""
    rows = await repository.mood_counts(session, PageRequest(limit, cursor))
    return public_json(
        request, rows.shaped(lambda row: TagCount(name=row.mood, track_count=row.tracks))
    )


@albums_router.get(
    "",
    response_model=Page[AlbumOut],
    summary="Published albums, EPs and singles",
    responses={**_NOT_MODIFIED, 400: {"description": "A cursor this list did not issue"}},
)
@cached_page("albums")
async def list_albums(
    request: Request,
    session: ReadSession,
    genre: Annotated[str | None, Query(min_length=1, max_length=64, pattern=WITHOUT_NUL)] = None,
    release_type: Annotated[ReleaseType | None, Query(alias="releaseType")] = None,
    artist_id: Annotated[uuid.UUID | None, Query(alias="artistId")] = None,
    published_after: Annotated[
        datetime | None,
        Query(
            alias="publishedAfter",
            description="Only releases published after this time (new releases).",
        ),
    ] = None,
    sort: Annotated[AlbumSort, Query(description="newest: by publication, newest first.")] = (
        "newest"
    ),
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Every visible release (published, its artist's account enabled), with the number and
    length of its tracks a listener can play now."""
    if published_after is not None and published_after.tzinfo is None:
        raise ValidationFailed("`publishedAfter` needs a time zone (for example `Z`).")
    rows = await repository.list_albums(
        session,
        sort=sort,
        page=PageRequest(limit, cursor),
        genre=genre,
        release_type=release_type,
        artist_id=artist_id,
        published_after=published_after,
    )
    return await _albums(request, session, rows)


@albums_router.get(
    "/{album_id}",
    response_model=AlbumWithTracksOut,
    summary="One release with its tracks in order",
    responses={**_NOT_MODIFIED, 404: {"description": "No visible album (not_found)"}},
)
@cached_page("albums")
async def get_album(album_id: uuid.UUID, request: Request, session: ReadSession) -> Response:
    album = await repository.listed_album(session, album_id)
    if album is None:
        raise NotFound("No such album.")
    totals = await repository.album_totals(session, [album])
    tracks = await repository.tracks_of_album(session, album.id)
    return await _shown(
        request, session, service.album_with_tracks(album, totals, tracks, _url(request))
    )


_ARTIST_404: dict[int | str, dict[str, Any]] = {
    **_NOT_MODIFIED,
    400: {"description": "A cursor this list did not issue"},
    404: {"description": "No visible artist (not_found)"},
}


@artists_router.get(
    "",
    response_model=Page[ArtistOut],
    summary="Artists with published releases",
    responses={**_NOT_MODIFIED, 400: {"description": "A cursor this list did not issue"}},
)
@cached_page("artists")
async def list_artists(
    request: Request,
    session: ReadSession,
    genre: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=WITHOUT_NUL, description="Has a release of it."),
    ] = None,
    sort: Annotated[ArtistSort, Query(description="name, or newest profile first.")] = "name",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Every artist whose account is enabled and who has a visible release."""
    rows = await repository.list_artists(
        session, genre=genre, sort=sort, page=PageRequest(limit, cursor)
    )
    context = await repository.artist_context_of(session, rows.items)
    return await _shown(
        request,
        session,
        rows.shaped(lambda artist: service.artist_out(artist, context, _url(request))),
    )


@artists_router.get(
    "/{artist_id}",
    response_model=ArtistOut,
    summary="One artist",
    responses={**_NOT_MODIFIED, 404: {"description": "No visible artist (not_found)"}},
)
@cached_page("artists")
async def get_artist(artist_id: uuid.UUID, request: Request, session: ReadSession) -> Response:
    artist = await _visible_artist(session, artist_id)
    context = await repository.artist_context_of(session, [artist])
    return await _shown(request, session, service.artist_out(artist, context, _url(request)))


@artists_router.get(
    "/{artist_id}/albums",
    response_model=Page[AlbumOut],
    summary="An artist's releases",
    responses=_ARTIST_404,
)
@cached_page("albums")
async def artist_albums(
    artist_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    sort: AlbumSort = "newest",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    await _visible_artist(session, artist_id)
    rows = await repository.list_albums(
        session, sort=sort, page=PageRequest(limit, cursor), artist_id=artist_id
    )
    return await _albums(request, session, rows)


@artists_router.get(
    "/{artist_id}/tracks",
    response_model=Page[TrackOut],
    summary="An artist's tracks",
    responses=_ARTIST_404,
)
@cached_page("tracks")
async def artist_tracks(
    artist_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    sort: Annotated[TrackSort, Query(description=_TRACK_SORT)] = "popular",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    await _visible_artist(session, artist_id)
    where = repository.TrackFilter(artist_id=artist_id)
    return await _page(request, session, where, sort, PageRequest(limit, cursor))


async def _visible_artist(session: AsyncSession, artist_id: uuid.UUID) -> Artist:
    artist = await repository.visible_artist(session, artist_id)
    if artist is None:
        raise NotFound("No such artist.")
    return artist


async def _albums(request: Request, session: AsyncSession, rows: Rows[AnyRow]) -> Response:
    totals = await repository.album_totals(session, rows.items)
    url = _url(request)
    return await _shown(
        request, session, rows.shaped(lambda album: service.album_out(album, totals, url))
    )


async def _shown(
    request: Request, session: AsyncSession, body: Shown | AlbumWithTracksOut | Page[Any]
) -> Response:
    items: list[Shown] = list(body.items) if isinstance(body, Page) else [body]
    if isinstance(body, AlbumWithTracksOut):
        items.extend(body.tracks)
    return await shown_json(request, session, body, items)


def _url(request: Request) -> service.PublicUrl:
    return get_services(request).storage.public_url
