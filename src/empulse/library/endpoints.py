"""HTTP for /users/me/library: a listener's likes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from empulse.auth.dependencies import CurrentPrincipal, require_principal
from empulse.core.errors import ValidationFailed
from empulse.core.pagination import Cursor, Limit, Page, PageRequest
from empulse.library import service
from empulse.library.schemas import (
    LikedAlbumOut,
    LikedArtistOut,
    LikedPlaylistOut,
    LikedTrackOut,
    LikeKind,
)
from empulse.services import DbSession, ReadSession, get_services
from empulse.web.paths import API_PREFIX

router = APIRouter(
    prefix=f"{API_PREFIX}/users/me/library",
    tags=["library"],
    dependencies=[Depends(require_principal)],
    responses={401: {"description": "Not signed in (not_authenticated)"}},
)
MAX_CONTAINS = 50


@router.put(
    "/{kind}/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Like a track, album or artist; follow a playlist",
    responses={404: {"description": "Nothing visible with this id (not_found)"}},
)
async def like(
    kind: LikeKind, item_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Idempotent: liking again changes nothing."""
    await service.like(session, kind, principal.user_id, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{kind}/{item_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Unlike")
async def unlike(
    kind: LikeKind, item_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """Idempotent: unliking what is not liked is fine."""
    await service.unlike(session, kind, principal.user_id, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/tracks/contains",
    response_model=list[bool],
    summary="Which of these tracks are liked",
    responses={422: {"description": "No ids, more than 50, or one that is not an id"}},
)
async def contains(
    principal: CurrentPrincipal,
    session: ReadSession,
    ids: Annotated[str, Query(max_length=50 * 37, description="Comma-separated, at most 50.")],
) -> list[bool]:
    """One answer per id, in the order asked."""
    parts = [part.strip() for part in ids.split(",") if part.strip()]
    if not parts or len(parts) > MAX_CONTAINS:
        raise ValidationFailed(f"Send 1 to {MAX_CONTAINS} comma-separated track ids.")
    try:
        track_ids = [uuid.UUID(part) for part in parts]
    except ValueError:
        raise ValidationFailed("Each id must be a track id (a UUID).") from None
    return await service.contains(session, principal.user_id, track_ids)


@router.get("/tracks", response_model=Page[LikedTrackOut], summary="My liked tracks")
async def liked_tracks(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[LikedTrackOut]:
    """Newest like first, each as the catalog shows it, or marked unavailable."""
    url = get_services(request).storage.public_url
    return await service.liked_tracks(session, principal.user_id, PageRequest(limit, cursor), url)


@router.get("/albums", response_model=Page[LikedAlbumOut], summary="My liked albums")
async def liked_albums(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[LikedAlbumOut]:
    url = get_services(request).storage.public_url
    return await service.liked_albums(session, principal.user_id, PageRequest(limit, cursor), url)


@router.get("/artists", response_model=Page[LikedArtistOut], summary="My liked artists")
async def liked_artists(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[LikedArtistOut]:
    url = get_services(request).storage.public_url
    return await service.liked_artists(session, principal.user_id, PageRequest(limit, cursor), url)


@router.get("/playlists", response_model=Page[LikedPlaylistOut], summary="Playlists I follow")
async def liked_playlists(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[LikedPlaylistOut]:
    url = get_services(request).storage.public_url
    return await service.liked_playlists(
        session, principal.user_id, PageRequest(limit, cursor), url
    )
