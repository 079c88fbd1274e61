"""HTTP for playlists: their details, entries, cover, collaborators and invites, and the lists
of a listener's playlists."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status

from empulse.audit.service import RequestMeta
from empulse.auth.dependencies import CurrentPrincipal, OptionalPrincipal
from empulse.catalog.images import IMAGE_BODY
from empulse.core.pagination import Cursor, Limit, Page, PageRequest
from empulse.models import Playlist
from empulse.playlists import service
from empulse.playlists.schemas import (
    CollaboratorOut,
    EntriesIn,
    EntriesOutIn,
    EntryOut,
    InviteOut,
    MyPlaylistOut,
    PlaylistChangesIn,
    PlaylistIn,
    PlaylistOut,
    ReorderIn,
    SnapshotOut,
)
from empulse.services import AppServices, DbSession, ReadSession, get_services
from empulse.web.paths import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/playlists", tags=["playlists"])
users_router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["playlists"])
# A regular expression (web/body_limit): the cover's body is an image, not JSON.
COVER_PATH = rf"{API_PREFIX}/playlists/[^/]+/cover"

IfMatch = Annotated[
    str | None,
    Header(
        max_length=200,
        description="The `snapshotId` (the `ETag`) the change was made against; 412 if the "
        "playlist changed since.",
    ),
]
_SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in (not_authenticated)"}
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_SIGNED_IN,
    403: {"description": "The caller may see it but not change it (not_editable)"},
    404: {"description": "No playlist the caller may see (not_found)"},
    412: {"description": "It changed since the `snapshotId` sent (playlist_changed)"},
}


def _snapshot(header: str | None) -> str | None:
    """The entity tag of `If-Match`, unquoted (`*` stays `*`); a weak tag never matches."""
    if header is None:
        return None
    value = header.strip()
    if value == "*":
        return value
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else f"weak:{value}"


def _etag(response: Response, snapshot_id: str) -> None:
    response.headers["ETag"] = f'"{snapshot_id}"'
    # The body depends on the caller (`canEdit`, `followed`): never shared, always revalidated.
    response.headers["Cache-Control"] = "private, no-cache"


async def _out(
    request: Request, session: Any, playlist: Playlist, viewer: uuid.UUID | None, response: Response
) -> PlaylistOut:
    _etag(response, playlist.snapshot_id)
    return await service.one(session, playlist, viewer, get_services(request).storage.public_url)


@router.post(
    "",
    response_model=PlaylistOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a playlist",
    responses=_SIGNED_IN,
)
async def create_playlist(
    body: PlaylistIn,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    session: DbSession,
) -> PlaylistOut:
    playlist = await service.create(session, principal.user_id, body, RequestMeta.of(request))
    response.headers["Location"] = f"{API_PREFIX}/playlists/{playlist.id}"
    return await _out(request, session, playlist, principal.user_id, response)


@router.get(
    "/{playlist_id}",
    response_model=PlaylistOut,
    summary="A playlist",
    responses={404: {"description": "No playlist the caller may see (not_found)"}},
)
async def get_playlist(
    playlist_id: uuid.UUID,
    principal: OptionalPrincipal,
    request: Request,
    response: Response,
    session: ReadSession,
) -> PlaylistOut:
    """A public playlist to anyone; a private one to its owner and collaborators only (404 to
    everyone else). The `ETag` is its `snapshotId`."""
    viewer = principal.user_id if principal else None
    access = await service.visible(session, playlist_id, viewer)
    return await _out(request, session, access.playlist, viewer, response)


@router.patch(
    "/{playlist_id}", response_model=PlaylistOut, summary="Edit a playlist", responses=_WRITE
)
async def edit_playlist(
    playlist_id: uuid.UUID,
    body: PlaylistChangesIn,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    session: DbSession,
    if_match: IfMatch = None,
) -> PlaylistOut:
    """The owner's: name, description, public, collaborative."""
    playlist = await service.update(
        session, playlist_id, principal.user_id, body, _snapshot(if_match)
    )
    await session.flush()
    return await _out(request, session, playlist, principal.user_id, response)


@router.delete(
    "/{playlist_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a playlist",
    responses=_WRITE,
)
async def delete_playlist(
    playlist_id: uuid.UUID,
    principal: CurrentPrincipal,
    request: Request,
    session: DbSession,
    if_match: IfMatch = None,
) -> Response:
    """The owner's; its entries, invites, collaborators and followers' follows go with it."""
    await service.delete(
        session, playlist_id, principal.user_id, _snapshot(if_match), RequestMeta.of(request)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{playlist_id}/tracks",
    response_model=Page[EntryOut],
    summary="A playlist's entries",
    responses={404: {"description": "No playlist the caller may see (not_found)"}},
)
async def list_entries(
    playlist_id: uuid.UUID,
    principal: OptionalPrincipal,
    request: Request,
    session: ReadSession,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[EntryOut]:
    """In order; a taken-down track keeps its place, marked unavailable."""
    url = get_services(request).storage.public_url
    viewer = principal.user_id if principal else None
    return await service.entries(session, playlist_id, viewer, PageRequest(limit, cursor), url)


@router.post(
    "/{playlist_id}/tracks",
    response_model=SnapshotOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add tracks",
    responses={
        **_WRITE,
        422: {
            "description": "An unknown track, a position past the end (validation_failed); "
            "more than 10,000 entries (playlist_full)"
        },
    },
)
async def add_entries(
    playlist_id: uuid.UUID,
    body: EntriesIn,
    principal: CurrentPrincipal,
    response: Response,
    session: DbSession,
    if_match: IfMatch = None,
) -> SnapshotOut:
    """Up to 100 tracks at `position` (the end if absent), in the order sent; a track may be
    in a playlist more than once."""
    snapshot = await service.add(
        session,
        playlist_id,
        principal.user_id,
        body.track_ids,
        body.position,
        [body.snapshot_id, _snapshot(if_match)],
    )
    _etag(response, snapshot)
    return SnapshotOut(snapshot_id=snapshot)


@router.delete(
    "/{playlist_id}/tracks", response_model=SnapshotOut, summary="Remove entries", responses=_WRITE
)
async def remove_entries(
    playlist_id: uuid.UUID,
    body: EntriesOutIn,
    principal: CurrentPrincipal,
    response: Response,
    session: DbSession,
    if_match: IfMatch = None,
) -> SnapshotOut:
    """By `entryId` (so one of two copies of a track can go); the rest close up. Ids not in
    the playlist are ignored; if nothing was removed the snapshot stays the same."""
    snapshot = await service.remove(
        session,
        playlist_id,
        principal.user_id,
        body.entry_ids,
        [body.snapshot_id, _snapshot(if_match)],
    )
    _etag(response, snapshot)
    return SnapshotOut(snapshot_id=snapshot)


@router.put(
    "/{playlist_id}/tracks/order",
    response_model=SnapshotOut,
    summary="Reorder entries",
    responses={**_WRITE, 422: {"description": "A range or a place past the end"}},
)
async def reorder_entries(
    playlist_id: uuid.UUID,
    body: ReorderIn,
    principal: CurrentPrincipal,
    response: Response,
    session: DbSession,
    if_match: IfMatch = None,
) -> SnapshotOut:
    """Move `rangeLength` entries from `rangeStart` to before the entry at `insertBefore`."""
    snapshot = await service.reorder(
        session,
        playlist_id,
        principal.user_id,
        body.range_start,
        body.range_length,
        body.insert_before,
        [body.snapshot_id, _snapshot(if_match)],
    )
    _etag(response, snapshot)
    return SnapshotOut(snapshot_id=snapshot)


@router.put(
    "/{playlist_id}/cover",
    response_model=PlaylistOut,
    summary="Replace the cover",
    openapi_extra=IMAGE_BODY,
    responses={
        **_WRITE,
        413: {"description": "Larger than MAX_COVER_BYTES (payload_too_large)"},
        422: {
            "description": "Not an image of its type, too many pixels, too small (unsupported_file)"
        },
    },
)
async def replace_cover(
    playlist_id: uuid.UUID,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    session: DbSession,
    services: AppServices,
    if_match: IfMatch = None,
) -> PlaylistOut:
    """The owner's. The body is the image (JPEG, PNG or WebP, as `Content-Type` says), checked
    and re-encoded at the cover sizes as album covers are."""
    playlist = await service.replace_cover(
        session,
        services,
        playlist_id,
        principal.user_id,
        await request.body(),
        request.headers.get("content-type", ""),
        _snapshot(if_match),
    )
    await session.flush()
    return await _out(request, session, playlist, principal.user_id, response)


@router.delete(
    "/{playlist_id}/cover", response_model=PlaylistOut, summary="Remove the cover", responses=_WRITE
)
async def remove_cover(
    playlist_id: uuid.UUID,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    session: DbSession,
    if_match: IfMatch = None,
) -> PlaylistOut:
    """Back to the covers of its first tracks."""
    playlist = await service.remove_cover(
        session, playlist_id, principal.user_id, _snapshot(if_match)
    )
    await session.flush()
    return await _out(request, session, playlist, principal.user_id, response)


@router.post(
    "/{playlist_id}/invites",
    response_model=InviteOut,
    status_code=status.HTTP_201_CREATED,
    summary="Invite a collaborator",
    responses={**_WRITE, 422: {"description": "The playlist is not collaborative"}},
)
async def create_invite(
    playlist_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, services: AppServices
) -> InviteOut:
    """The owner's: a link that makes whoever accepts it first a collaborator; it works once
    and expires after 7 days."""
    return await service.invite(session, services, playlist_id, principal.user_id)


@router.post(
    "/invites/{token}/accept",
    response_model=PlaylistOut,
    summary="Accept an invite",
    responses={
        **_SIGNED_IN,
        404: {"description": "No such invite (not_found)"},
        410: {"description": "Used by someone else, or expired (invite_gone)"},
    },
)
async def accept_invite(
    token: Annotated[str, ..., "The token of the invite's link"],
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    session: DbSession,
) -> PlaylistOut:
    playlist = await service.accept(
        session, token[:200], principal.user_id, RequestMeta.of(request)
    )
    return await _out(request, session, playlist, principal.user_id, response)


@router.get(
    "/{playlist_id}/collaborators",
    response_model=list[CollaboratorOut],
    summary="Who collaborates",
    responses=_WRITE,
)
async def list_collaborators(
    playlist_id: uuid.UUID, principal: CurrentPrincipal, session: ReadSession
) -> list[CollaboratorOut]:
    """To the owner and the collaborators."""
    return await service.collaborators(session, playlist_id, principal.user_id)


@router.delete(
    "/{playlist_id}/collaborators/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a collaborator",
    responses=_WRITE,
)
async def remove_collaborator(
    playlist_id: uuid.UUID, user_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    """The owner removes anyone; a collaborator may remove themselves (leave)."""
    await service.remove_collaborator(session, playlist_id, principal.user_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users_router.get(
    "/me/playlists",
    response_model=Page[MyPlaylistOut],
    summary="My playlists",
    responses=_SIGNED_IN,
)
async def my_playlists(
    principal: CurrentPrincipal,
    request: Request,
    session: ReadSession,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[MyPlaylistOut]:
    """Owned, collaborating on and followed, newest first, each with the caller's relation."""
    url = get_services(request).storage.public_url
    return await service.mine(session, principal.user_id, PageRequest(limit, cursor), url)


@users_router.get(
    "/{user_id}/playlists",
    response_model=Page[PlaylistOut],
    summary="A user's public playlists",
    responses={404: {"description": "No such user, or their profile is not public"}},
)
async def user_playlists(
    user_id: uuid.UUID,
    principal: OptionalPrincipal,
    request: Request,
    session: ReadSession,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[PlaylistOut]:
    url = get_services(request).storage.public_url
    viewer = principal.user_id if principal else None
    return await service.of_user(session, user_id, viewer, PageRequest(limit, cursor), url)
