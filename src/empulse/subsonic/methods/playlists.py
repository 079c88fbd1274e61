"""getPlaylists, getPlaylist, createPlaylist, updatePlaylist, deletePlaylist: the playlists of
playlists/, with their permissions (owner, collaborators of a collaborative playlist, others
read public ones). A playlist's `owner` is the caller's own username, or another listener's
display name when their profile is public; never an address."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.db import session_scope
from empulse.core.pagination import PageRequest
from empulse.models import Playlist
from empulse.playlists import repository as playlist_rows
from empulse.playlists import service as playlists
from empulse.playlists.schemas import MAX_ENTRIES, PlaylistChangesIn, PlaylistIn
from empulse.subsonic import repository, shapes
from empulse.subsonic.call import Call, method
from empulse.subsonic.envelope import Code, SubsonicError, missing
from empulse.subsonic.methods import common
from empulse.subsonic.params import as_id

_MINE_PAGE = 100
_NAME = 100
_COMMENT = 300


async def _shown(session: AsyncSession, call: Call, found: list[Playlist]) -> list[dict[str, Any]]:
    viewer = call.caller.user_id
    outs = await playlists.shaped(session, found, viewer, call.url)
    durations = await repository.playlist_durations(session, [p.id for p in found])
    shown = []
    for playlist, out in zip(found, outs, strict=True):
        mine = playlist.owner_id == viewer
        shown.append(
            {
                "id": str(playlist.id),
                "name": playlist.name,
                "comment": playlist.description,
                "owner": call.caller.email if mine else (out.owner.name if out.owner else None),
                "public": playlist.public,
                "songCount": playlist.entry_count,
                "duration": round(durations.get(playlist.id, 0.0)),
                "created": shapes.when(playlist.created_at),
                "changed": shapes.when(playlist.updated_at),
                "coverArt": shapes.playlist_cover(playlist.id),
                "readonly": not out.can_edit,
            }
        )
    return shown


@method("getPlaylists")
async def get_playlists(call: Call) -> dict[str, Any]:
    """The caller's playlists: owned, collaborating and followed (another user's, by
    `username`, is refused: their public playlists are on the JSON API)."""
    username = call.params.text("username", max_length=320)
    if username is not None and username.casefold() != call.caller.email.casefold():
        raise SubsonicError(Code.NOT_AUTHORIZED, "You may only list your own playlists")
    found: list[Playlist] = []
    async with call.services.read_sessionmaker() as session:
        cursor = None
        while True:
            rows = await playlist_rows.mine(
                session, call.caller.user_id, PageRequest(limit=_MINE_PAGE, cursor=cursor)
            )
            found.extend(rows.items)
            cursor = rows.next_cursor
            if cursor is None:
                break
        return {"playlists": {"playlist": await _shown(session, call, found)}}


async def _with_entries(
    session: AsyncSession, call: Call, playlist_id: uuid.UUID
) -> dict[str, Any]:
    access = await playlists.visible(session, playlist_id, call.caller.user_id)
    [shown] = await _shown(session, call, [access.playlist])
    entries = await repository.playlist_track_ids(session, playlist_id)
    rows = await repository.songs_by_id(session, {track_id for _, track_id in entries})
    songs = await common.songs(session, call, list(rows.values()))
    by_id = {song["id"]: song for song in songs}
    # Taken-down tracks are left out (updatePlaylist's indexes count what is shown here).
    return {**shown, "entry": [by_id[str(t)] for _, t in entries if str(t) in by_id]}


@method("getPlaylist")
async def get_playlist(call: Call) -> dict[str, Any]:
    playlist_id = common.id_of(call)
    async with call.services.read_sessionmaker() as session:
        return {"playlist": await _with_entries(session, call, playlist_id)}


def _song_ids(call: Call, name: str) -> list[uuid.UUID]:
    return [as_id(raw, "Song") for raw in call.params.texts(name, limit=MAX_ENTRIES)]


@method("createPlaylist")
async def create_playlist(call: Call) -> dict[str, Any]:
    """With `name`, a new private playlist; with `playlistId`, that playlist's songs replaced."""
    params = call.params
    name = params.text("name", max_length=_NAME)
    existing = params.text("playlistId", max_length=100)
    song_ids = _song_ids(call, "songId")
    user_id = call.caller.user_id
    async with session_scope(call.services.sessionmaker) as session:
        if existing is not None:
            playlist_id = as_id(existing, "Playlist")
            entries = await repository.playlist_track_ids(session, playlist_id)
            await playlists.remove(session, playlist_id, user_id, [e for e, _ in entries], [])
        elif name is not None:
            body = PlaylistIn(name=name, public=False)
            playlist_id = (await playlists.create(session, user_id, body, call.meta)).id
        else:
            raise missing("name")
        if song_ids:
            await playlists.add(session, playlist_id, user_id, song_ids, None, [])
    async with call.services.read_sessionmaker() as session:
        return {"playlist": await _with_entries(session, call, playlist_id)}


@method("updatePlaylist")
async def update_playlist(call: Call) -> dict[str, Any]:
    params = call.params
    playlist_id = as_id(params.required("playlistId", max_length=100), "Playlist")
    changes: dict[str, Any] = {}
    if (name := params.text("name", max_length=_NAME)) is not None:
        changes["name"] = name
    if (comment := params.text("comment", max_length=_COMMENT)) is not None:
        changes["description"] = comment
    if params.has("public"):
        changes["public"] = params.boolean("public", False)
    to_add = _song_ids(call, "songIdToAdd")
    to_remove: list[int] = []
    for raw in params.texts("songIndexToRemove", limit=MAX_ENTRIES):
        try:
            to_remove.append(int(raw))
        except ValueError:
            raise SubsonicError(Code.GENERIC, "songIndexToRemove must be an integer") from None
    user_id = call.caller.user_id
    async with session_scope(call.services.sessionmaker) as session:
        if changes:
            await playlists.update(
                session, playlist_id, user_id, PlaylistChangesIn(**changes), None
            )
        if to_remove:
            # Indexes count the entries getPlaylist shows (taken-down tracks left out).
            entries = await repository.playlist_track_ids(session, playlist_id)
            playable = await repository.songs_by_id(session, {t for _, t in entries})
            shown = [entry_id for entry_id, track_id in entries if track_id in playable]
            doomed = [shown[i] for i in to_remove if 0 <= i < len(shown)]
            await playlists.remove(session, playlist_id, user_id, doomed, [])
        if to_add:
            await playlists.add(session, playlist_id, user_id, to_add, None, [])
        if not (changes or to_remove or to_add):
            await playlists.visible(session, playlist_id, user_id)
    return {}


@method("deletePlaylist")
async def delete_playlist(call: Call) -> dict[str, Any]:
    playlist_id = common.id_of(call)
    async with session_scope(call.services.sessionmaker) as session:
        await playlists.delete(session, playlist_id, call.caller.user_id, None, call.meta)
    return {}
