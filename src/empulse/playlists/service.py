"""Playlists: who may see and change one, its versions, its entries, its collaborators.

Who sees a playlist: its owner and collaborators always; anyone else while it is public and its
owner's account is enabled (otherwise it is a 404, as if it did not exist). Who changes it: the
owner (everything), collaborators (its entries, while the playlist is collaborative).

Every change gets a new snapshot id. A write may name the snapshot it was made against (the
body's `snapshotId` or `If-Match`); when the playlist has changed since, nothing is applied and
the answer is 412 `playlist_changed`. Writes to one playlist hold its row locked
(`repository.lock`), so they apply one after the other; positions are always 0..n-1 (an
entry's index in the playlist's order).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts import repository as accounts
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.catalog import images
from empulse.catalog import service as shapes
from empulse.catalog.images import images_out
from empulse.catalog.service import PublicUrl
from empulse.core.crypto import hash_token, new_token
from empulse.core.db import utcnow
from empulse.core.errors import AppError, Forbidden, InvalidFields, NotFound, Unauthorized
from empulse.core.pagination import Page, PageRequest
from empulse.models import Playlist, PlaylistInvite, privacy_allows
from empulse.playlists import repository
from empulse.playlists.schemas import (
    MAX_ENTRIES,
    CollaboratorOut,
    EntryOut,
    InviteOut,
    MyPlaylistOut,
    PlaylistChangesIn,
    PlaylistIn,
    PlaylistOut,
    Relation,
    UserRef,
)
from empulse.services import Services
from empulse.submissions.upload import enqueue_object_deletion

INVITE_LIFETIME = timedelta(days=7)
# A playlist without a cover shows the covers of the albums of its first entries.
MOSAIC_ALBUMS = 4
MOSAIC_ENTRIES = 20
MOSAIC_SIZE = 300


class PlaylistChanged(AppError):
    status = 412
    code = "playlist_changed"
    title = "Playlist changed"


class PlaylistFull(AppError):
    status = 422
    code = "playlist_full"
    title = "Playlist full"


class NotEditable(Forbidden):
    code = "not_editable"
    title = "Not yours to change"


class InviteGone(AppError):
    status = 410
    code = "invite_gone"
    title = "Invite used or expired"


@dataclass(frozen=True, slots=True)
class Access:
    """A caller's relation to a playlist they can see."""

    playlist: Playlist
    owner: bool
    collaborator: bool

    @property
    def can_edit(self) -> bool:
        return self.owner or (self.collaborator and self.playlist.collaborative)


def new_snapshot() -> str:
    return secrets.token_urlsafe(12)


def _shows_profile(privacy: dict[str, Any] | None) -> bool:
    return privacy_allows(privacy, "publicProfile")


async def _access(
    session: AsyncSession, playlist: Playlist | None, viewer: uuid.UUID | None
) -> Access:
    """The caller's access, or 404 when the caller may not see it."""
    if playlist is not None:
        owner = viewer == playlist.owner_id
        collaborator = (
            viewer is not None
            and not owner
            and await repository.is_collaborator(session, playlist.id, viewer)
        )
        if owner or collaborator:
            return Access(playlist, owner, collaborator)
        if playlist.public:
            found = await repository.owner_of(session, playlist.owner_id)
            if found is not None and found.disabled_at is None:
                return Access(playlist, False, False)
    raise NotFound("No such playlist.")


async def visible(
    session: AsyncSession, playlist_id: uuid.UUID, viewer: uuid.UUID | None
) -> Access:
    return await _access(session, await repository.get(session, playlist_id), viewer)


def _expected(snapshots: Sequence[str | None]) -> list[str]:
    return [snapshot for snapshot in snapshots if snapshot is not None]


async def _writable(
    session: AsyncSession,
    playlist_id: uuid.UUID,
    user_id: uuid.UUID,
    snapshots: Sequence[str | None],
    *,
    owner_only: bool = False,
) -> Access:
    """Lock the caller's account, then the playlist; check the caller may change it, and that
    it is still at the snapshot the caller named (`If-Match: *` matches any)."""
    if not await accounts.lock_referenced(session, user_id):
        raise Unauthorized("This account no longer exists.")
    access = await _access(session, await repository.lock(session, playlist_id), user_id)
    if owner_only and not access.owner:
        raise NotEditable("Only the playlist's owner may do this.")
    if not access.can_edit:
        raise NotEditable("Only the owner and, on a collaborative playlist, its collaborators may.")
    current = access.playlist.snapshot_id
    for expected in _expected(snapshots):
        if expected not in ("*", current):
            raise PlaylistChanged(
                "The playlist changed since that version; fetch it again and retry."
            )
    return access


def _changed(playlist: Playlist) -> str:
    playlist.snapshot_id = new_snapshot()
    playlist.updated_at = utcnow()
    return playlist.snapshot_id


def _mosaic(covers: list[list[dict[str, Any]]], url: PublicUrl) -> list[Any]:
    chosen = [min(cover, key=lambda image: abs(image["size"] - MOSAIC_SIZE)) for cover in covers]
    return images_out(chosen[:MOSAIC_ALBUMS], url)


async def shaped(
    session: AsyncSession,
    playlists: Sequence[Playlist],
    viewer: uuid.UUID | None,
    url: PublicUrl,
    collaborating: set[uuid.UUID] | None = None,
) -> list[PlaylistOut]:
    """These playlists as the caller sees them, in a bounded number of queries
    (`collaborating`: those of them the caller collaborates on, when the caller has read it)."""
    ids = [playlist.id for playlist in playlists]
    owners = await repository.people(session, {playlist.owner_id for playlist in playlists})
    followed: set[uuid.UUID] = set()
    if viewer is not None and ids:
        followed = await repository.followed_among(session, viewer, ids)
        if collaborating is None:
            collaborating = await repository.collaborating_among(session, viewer, ids)
    collaborating = collaborating or set()
    without_cover = [playlist.id for playlist in playlists if not playlist.images]
    covers = await repository.track_covers(session, without_cover, MOSAIC_ENTRIES)
    shown = []
    for playlist in playlists:
        mine = playlist.owner_id == viewer
        member = mine or playlist.id in collaborating
        owner = owners.get(playlist.owner_id)
        shown.append(
            PlaylistOut(
                id=playlist.id,
                name=playlist.name,
                description=playlist.description,
                public=playlist.public,
                collaborative=playlist.collaborative,
                owner=UserRef(id=owner.id, name=owner.name)
                if owner is not None and (member or _shows_profile(owner.privacy))
                else None,
                snapshot_id=playlist.snapshot_id,
                track_count=playlist.entry_count,
                follower_count=playlist.follower_count,
                images=images_out(playlist.images, url),
                track_covers=_mosaic(covers.get(playlist.id, []), url),
                can_edit=mine or (playlist.id in collaborating and playlist.collaborative),
                followed=None if viewer is None else playlist.id in followed,
                created_at=playlist.created_at,
                updated_at=playlist.updated_at,
            )
        )
    return shown


async def one(
    session: AsyncSession, playlist: Playlist, viewer: uuid.UUID | None, url: PublicUrl
) -> PlaylistOut:
    return (await shaped(session, [playlist], viewer, url))[0]


async def create(
    session: AsyncSession, user_id: uuid.UUID, body: PlaylistIn, meta: RequestMeta
) -> Playlist:
    if not await accounts.lock_referenced(session, user_id):
        raise Unauthorized("This account no longer exists.")
    now = utcnow()
    playlist = Playlist(
        owner_id=user_id,
        name=body.name,
        description=body.description or None,
        public=body.public,
        collaborative=body.collaborative,
        snapshot_id=new_snapshot(),
        entry_count=0,
        follower_count=0,
        images=[],
        created_at=now,
        updated_at=now,
    )
    session.add(playlist)
    await session.flush()
    audit.record(session, "playlist_created", meta, user_id=user_id, playlist_id=str(playlist.id))
    return playlist


async def update(
    session: AsyncSession,
    playlist_id: uuid.UUID,
    user_id: uuid.UUID,
    changes: PlaylistChangesIn,
    if_match: str | None,
) -> Playlist:
    access = await _writable(
        session, playlist_id, user_id, [changes.snapshot_id, if_match], owner_only=True
    )
    playlist = access.playlist
    sent = changes.model_fields_set - {"snapshot_id"}
    if "name" in sent and changes.name is not None:
        playlist.name = changes.name
    if "description" in sent:
        playlist.description = changes.description or None
    if "public" in sent and changes.public is not None:
        playlist.public = changes.public
    if "collaborative" in sent and changes.collaborative is not None:
        playlist.collaborative = changes.collaborative
    if sent:
        _changed(playlist)
    return playlist


async def delete(
    session: AsyncSession,
    playlist_id: uuid.UUID,
    user_id: uuid.UUID,
    if_match: str | None,
    meta: RequestMeta,
) -> None:
    access = await _writable(session, playlist_id, user_id, [if_match], owner_only=True)
    enqueue_object_deletion(session, [image["key"] for image in access.playlist.images])
    await session.delete(access.playlist)
    audit.record(session, "playlist_deleted", meta, user_id=user_id, playlist_id=str(playlist_id))


async def entries(
    session: AsyncSession,
    playlist_id: uuid.UUID,
    viewer: uuid.UUID | None,
    page: PageRequest,
    url: PublicUrl,
) -> Page[EntryOut]:
    access = await visible(session, playlist_id, viewer)
    member = access.owner or access.collaborator
    rows, first = await repository.entries(session, playlist_id, page)
    tracks = await shapes.shown_tracks(session, {entry.track_id for entry in rows.items}, url)
    adders = await repository.people(
        session, {entry.added_by for entry in rows.items if entry.added_by is not None}
    )

    def adder(user_id: uuid.UUID | None) -> UserRef | None:
        person = adders.get(user_id) if user_id is not None else None
        if person is None or not (member or user_id == viewer or _shows_profile(person.privacy)):
            return None
        return UserRef(id=person.id, name=person.name)

    return Page[EntryOut](
        items=[
            EntryOut(
                entry_id=entry.id,
                position=position,
                added_at=entry.added_at,
                added_by=adder(entry.added_by),
                available=entry.track_id in tracks,
                track=tracks.get(entry.track_id),
            )
            for position, entry in enumerate(rows.items, start=first)
        ],
        next_cursor=rows.next_cursor,
    )


async def add(
    session: AsyncSession,
    playlist_id: uuid.UUID,
    user_id: uuid.UUID,
    track_ids: list[uuid.UUID],
    position: int | None,
    snapshots: Sequence[str | None],
) -> str:
    """Insert the tracks at `position` (the end when None); the new snapshot."""
    playlist = (await _writable(session, playlist_id, user_id, snapshots)).playlist
    known = await repository.visible_track_ids(session, set(track_ids))
    problems = [
        {
            "loc": ("body", "trackIds", index),
            "msg": "is not a track you can add",
            "type": "value_error",
        }
        for index, track_id in enumerate(track_ids)
        if track_id not in known
    ]
    if position is not None and position > playlist.entry_count:
        problems.append(
            {
                "loc": ("body", "position"),
                "msg": f"is past the end (the playlist has {playlist.entry_count} entries)",
                "type": "value_error",
            }
        )
    if problems:
        raise InvalidFields(problems)
    if playlist.entry_count + len(track_ids) > MAX_ENTRIES:
        raise PlaylistFull(
            f"A playlist holds at most {MAX_ENTRIES:,} entries; "
            f"this one has {playlist.entry_count:,}."
        )
    at = playlist.entry_count if position is None else position
    await repository.insert(session, playlist, track_ids, at, user_id, utcnow())
    return _changed(playlist)


async def remove(
    session: AsyncSession,
    playlist_id: uuid.UUID,
    user_id: uuid.UUID,
    entry_ids: list[uuid.UUID],
    snapshots: Sequence[str | None],
) -> str:
    """Remove these entries; ids not in the playlist are ignored (the end state is the same).
    When nothing was removed, the snapshot stays as it was."""
    playlist = (await _writable(session, playlist_id, user_id, snapshots)).playlist
    if await repository.remove(session, playlist, set(entry_ids)) == 0:
        return playlist.snapshot_id
    return _changed(playlist)


async def reorder(
    session: AsyncSession,
    playlist_id: uuid.UUID,
    user_id: uuid.UUID,
    start: int,
    length: int,
    before: int,
    snapshots: Sequence[str | None],
) -> str:
    playlist = (await _writable(session, playlist_id, user_id, snapshots)).playlist
    count = playlist.entry_count
    problems = []
    if start >= count:
        problems.append((("body", "rangeStart"), f"is past the last entry ({count} entries)"))
    elif start + length > count:
        problems.append((("body", "rangeLength"), f"runs past the last entry ({count} entries)"))
    if before > count:
        problems.append((("body", "insertBefore"), f"is past the end ({count} entries)"))
    if problems:
        raise InvalidFields(
            [{"loc": loc, "msg": message, "type": "value_error"} for loc, message in problems]
        )
    if not await repository.reorder(session, playlist, start, length, before):
        return playlist.snapshot_id
    return _changed(playlist)


async def replace_cover(
    session: AsyncSession,
    services: Services,
    playlist_id: uuid.UUID,
    user_id: uuid.UUID,
    data: bytes,
    content_type: str,
    if_match: str | None,
) -> Playlist:
    """The image is checked and stored before the playlist is locked (the lock is not held
    through an upload); the lock then checks again that the caller may, and the snapshot."""
    if not (await visible(session, playlist_id, user_id)).owner:
        raise NotEditable("Only the playlist's owner may do this.")
    stored = await images.store_image(services, "playlists", playlist_id, data, content_type)
    access = await _writable(session, playlist_id, user_id, [if_match], owner_only=True)
    playlist = access.playlist
    playlist.images = await images.adopt_image(session, playlist.images, stored)
    _changed(playlist)
    return playlist


async def remove_cover(
    session: AsyncSession, playlist_id: uuid.UUID, user_id: uuid.UUID, if_match: str | None
) -> Playlist:
    playlist = (
        await _writable(session, playlist_id, user_id, [if_match], owner_only=True)
    ).playlist
    if playlist.images:
        enqueue_object_deletion(session, [image["key"] for image in playlist.images])
        playlist.images = []
        _changed(playlist)
    return playlist


async def invite(
    session: AsyncSession, services: Services, playlist_id: uuid.UUID, user_id: uuid.UUID
) -> InviteOut:
    """A single-use link to collaborate, for the owner of a collaborative playlist."""
    playlist = (await _writable(session, playlist_id, user_id, [], owner_only=True)).playlist
    if not playlist.collaborative:
        raise InvalidFields(
            [
                {
                    "loc": ("path", "playlistId"),
                    "msg": "is not collaborative (make it collaborative first)",
                    "type": "value_error",
                }
            ]
        )
    token = new_token()
    expires_at = utcnow() + INVITE_LIFETIME
    session.add(
        PlaylistInvite(playlist_id=playlist.id, token_hash=hash_token(token), expires_at=expires_at)
    )
    await session.flush()
    url = f"{services.settings.app_url}/playlists/invites/{token}"
    return InviteOut(url=url, token=token, expires_at=expires_at)


async def accept(
    session: AsyncSession, token: str, user_id: uuid.UUID, meta: RequestMeta
) -> Playlist:
    """Join as a collaborator. The owner, or someone already collaborating, keeps the invite
    unused; anyone else uses it up."""
    if not await accounts.lock_referenced(session, user_id):
        raise Unauthorized("This account no longer exists.")
    found = await repository.invite_by_hash(session, hash_token(token))
    if found is None:
        raise NotFound("No such invite.")
    playlist = await repository.lock(session, found.playlist_id)
    if playlist is None:
        raise NotFound("No such invite.")
    if playlist.owner_id == user_id or await repository.is_collaborator(
        session, playlist.id, user_id
    ):
        return playlist
    if not await repository.claim_invite(session, found.id, user_id, utcnow()):
        raise InviteGone("This invite was already used or has expired; ask for a new one.")
    await repository.add_collaborator(session, playlist.id, user_id)
    audit.record(session, "playlist_joined", meta, user_id=user_id, playlist_id=str(playlist.id))
    return playlist


async def collaborators(
    session: AsyncSession, playlist_id: uuid.UUID, viewer: uuid.UUID
) -> list[CollaboratorOut]:
    access = await visible(session, playlist_id, viewer)
    if not (access.owner or access.collaborator):
        raise NotEditable("Only the owner and collaborators see who collaborates.")
    return [
        CollaboratorOut(user=UserRef(id=user_id, name=name), since=since)
        for user_id, name, since in await repository.collaborators(session, playlist_id)
    ]


async def remove_collaborator(
    session: AsyncSession, playlist_id: uuid.UUID, user_id: uuid.UUID, collaborator_id: uuid.UUID
) -> None:
    """The owner removes anyone; a collaborator may leave."""
    if not await accounts.lock_referenced(session, user_id):
        raise Unauthorized("This account no longer exists.")
    access = await _access(session, await repository.lock(session, playlist_id), user_id)
    if not (access.owner or (access.collaborator and collaborator_id == user_id)):
        raise NotEditable("Only the owner removes collaborators (a collaborator may leave).")
    await repository.remove_collaborator(session, playlist_id, collaborator_id)


async def mine(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest, url: PublicUrl
) -> Page[MyPlaylistOut]:
    rows = await repository.mine(session, user_id, page)
    collaborating = await repository.collaborating_among(
        session, user_id, [playlist.id for playlist in rows.items]
    )
    shown = await shaped(session, rows.items, user_id, url, collaborating)

    def relation(playlist: Playlist) -> Relation:
        if playlist.owner_id == user_id:
            return "owner"
        return "collaborator" if playlist.id in collaborating else "follower"

    return Page[MyPlaylistOut](
        items=[
            MyPlaylistOut(**out.model_dump(), relation=relation(playlist))
            for playlist, out in zip(rows.items, shown, strict=True)
        ],
        next_cursor=rows.next_cursor,
    )


async def of_user(
    session: AsyncSession,
    owner_id: uuid.UUID,
    viewer: uuid.UUID | None,
    page: PageRequest,
    url: PublicUrl,
) -> Page[PlaylistOut]:
    """Someone's public playlists: a 404 unless their profile is public (or it is the caller)."""
    owner = await repository.owner_of(session, owner_id)
    if owner is None or owner.disabled_at is not None:
        raise NotFound("No such user.")
    if owner_id != viewer and not _shows_profile(owner.privacy):
        raise NotFound("No such user.")
    rows = await repository.public_of(session, owner_id, page)
    return Page[PlaylistOut](
        items=await shaped(session, rows.items, viewer, url), next_cursor=rows.next_cursor
    )
