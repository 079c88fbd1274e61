"""getBookmarks, createBookmark, deleteBookmark, getPlayQueue, savePlayQueue: where a listener
stopped, kept per account so another device resumes there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from empulse.catalog import repository as catalog
from empulse.core.db import session_scope, utcnow
from empulse.models import Bookmark, PlayQueue
from empulse.subsonic import repository, shapes
from empulse.subsonic.call import Call, method
from empulse.subsonic.envelope import Code, SubsonicError, not_found
from empulse.subsonic.methods import common
from empulse.subsonic.params import as_id

# A queue longer than any player keeps.
MAX_QUEUE = 1000
MAX_BOOKMARKS = 1000
_MAX_POSITION_MS = 24 * 3600 * 1000


@method("getBookmarks")
async def get_bookmarks(call: Call) -> dict[str, Any]:
    async with call.services.read_sessionmaker() as session:
        bookmarks = await repository.bookmarks_of(session, call.caller.user_id)
        rows = await repository.songs_by_id(session, {b.track_id for b in bookmarks})
        songs = {s["id"]: s for s in await common.songs(session, call, list(rows.values()))}
    return {
        "bookmarks": {
            "bookmark": [
                {
                    "position": bookmark.position_ms,
                    "username": call.caller.email,
                    "comment": bookmark.comment,
                    "created": shapes.when(bookmark.created_at),
                    "changed": shapes.when(bookmark.changed_at),
                    "entry": songs[str(bookmark.track_id)],
                }
                for bookmark in bookmarks
                if str(bookmark.track_id) in songs
            ]
        }
    }


@method("createBookmark")
async def create_bookmark(call: Call) -> dict[str, Any]:
    track_id = common.id_of(call)
    position = call.params.integer("position", low=0, high=_MAX_POSITION_MS)
    if position is None:
        raise SubsonicError(Code.MISSING_PARAMETER, "Required parameter is missing: position")
    comment = call.params.text("comment", max_length=500)
    user_id = call.caller.user_id
    async with session_scope(call.services.sessionmaker) as session:
        if await catalog.listed_track(session, track_id) is None:
            raise not_found("Song")
        bookmark = await session.get(Bookmark, (user_id, track_id))
        now = utcnow()
        if bookmark is None:
            if len(await repository.bookmarks_of(session, user_id)) >= MAX_BOOKMARKS:
                raise SubsonicError(Code.GENERIC, f"At most {MAX_BOOKMARKS} bookmarks")
            session.add(
                Bookmark(
                    user_id=user_id,
                    track_id=track_id,
                    position_ms=position,
                    comment=comment,
                    created_at=now,
                    changed_at=now,
                )
            )
        else:
            bookmark.position_ms, bookmark.comment, bookmark.changed_at = position, comment, now
    return {}


@method("deleteBookmark")
async def delete_bookmark(call: Call) -> dict[str, Any]:
    track_id = common.id_of(call)
    async with session_scope(call.services.sessionmaker) as session:
        await session.execute(
            delete(Bookmark).where(
                Bookmark.user_id == call.caller.user_id, Bookmark.track_id == track_id
            )
        )
    return {}


@method("getPlayQueue")
async def get_play_queue(call: Call) -> dict[str, Any]:
    async with call.services.read_sessionmaker() as session:
        queue = await repository.play_queue_of(session, call.caller.user_id)
        if queue is None:
            return {}
        ids = [as_id(str(raw)) for raw in queue.track_ids]
        rows = await repository.songs_by_id(session, set(ids))
        songs = {s["id"]: s for s in await common.songs(session, call, list(rows.values()))}
    return {
        "playQueue": {
            "current": str(queue.current_id) if queue.current_id else None,
            "position": queue.position_ms,
            "username": call.caller.email,
            "changed": shapes.when(queue.changed_at),
            "changedBy": queue.changed_by,
            "entry": [songs[str(i)] for i in ids if str(i) in songs],
        }
    }


@method("savePlayQueue")
async def save_play_queue(call: Call) -> dict[str, Any]:
    """The queue as the player sends it; no `id` clears it."""
    ids = [as_id(raw, "Song") for raw in call.params.texts("id", limit=MAX_QUEUE)]
    current_raw = call.params.text("current", max_length=100)
    current = as_id(current_raw, "Song") if current_raw else None
    position = call.params.number("position", 0, high=_MAX_POSITION_MS)
    user_id = call.caller.user_id
    async with session_scope(call.services.sessionmaker) as session:
        queue = await repository.play_queue_of(session, user_id)
        if not ids:
            if queue is not None:
                await session.delete(queue)
            return {}
        if queue is None:
            queue = PlayQueue(user_id=user_id, changed_by=call.client)
            session.add(queue)
        queue.track_ids = [str(i) for i in ids]
        queue.current_id = current if current in ids else ids[0]
        queue.position_ms = position
        queue.changed_at = utcnow()
        queue.changed_by = call.client
    return {}
