"""Search queries: one ranked page of ids per kind, from PostgreSQL's full-text index or
SQLite's FTS5 tables (search/ddl.py), joined to the catalog's own visibility rules.

Ranking, the same on both databases: a name equal to the query first; then how well the
words match, the name weighing more than the artist, the artist more than the album
(`ts_rank` over weights A, B, C; FTS5's `bm25` with column weights 10, 4, 1); then popularity
(qualified plays; followers for playlists); then the id, so the order is deterministic. Every
word has to match, as a prefix from two letters on, in any field.

A typo (PostgreSQL only): when nothing matches as typed, each word of four letters or more
stands for the (up to five) indexed words it resembles most (`pg_trgm` similarity at least
0.3, looked up in `search_words`, the vocabulary the triggers keep; "lantrens" is 0.38 from
"lanterns"), and the search runs again with them, ranked as any other.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Uuid,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from empulse.catalog import repository as catalog
from empulse.models import Album, Artist, Playlist, PlaylistCollaborator, Track, User

TYPO_MIN_LETTERS = 4
# How many indexed words a typed word may stand for.
TYPO_CANDIDATES = 5
# SQLite FTS5 column weights, in each table's column order (the id first, unindexed).
_BM25 = {
    "tracks": "0.0, 10.0, 4.0, 1.0",
    "albums": "0.0, 10.0, 4.0",
    "artists": "0.0, 10.0",
    "playlists": "0.0, 10.0, 1.0",
}


@dataclass(frozen=True, slots=True)
class Kind:
    """What is searched for one kind: its table, the statement of its visible rows, the
    column an exact match compares, and what breaks ties."""

    table: str
    id: InstrumentedAttribute[uuid.UUID]
    name: InstrumentedAttribute[str]
    popularity: InstrumentedAttribute[int]


KINDS = {
    "tracks": Kind("tracks", Track.id, Track.title, Track.play_count),
    "albums": Kind("albums", Album.id, Album.title, Album.play_count),
    "artists": Kind("artists", Artist.id, Artist.name, Artist.play_count),
    "playlists": Kind("playlists", Playlist.id, Playlist.name, Playlist.follower_count),
}


def _visible(kind: str, viewer: uuid.UUID | None) -> Select[Any]:
    """The rows a listener may find: the catalog's visibility; for playlists, public ones of
    enabled accounts, and the caller's own and those they collaborate on."""
    if kind == "tracks":
        return catalog.visible_tracks().with_only_columns(Track.id)
    if kind == "albums":
        return catalog.visible_albums().with_only_columns(Album.id)
    if kind == "artists":
        return catalog.visible_artists().with_only_columns(Artist.id)
    enabled = select(User.id).where(User.id == Playlist.owner_id, User.disabled_at.is_(None))
    shown: ColumnElement[bool] = Playlist.public.is_(True) & enabled.exists()
    if viewer is not None:
        collaborating = select(PlaylistCollaborator.playlist_id).where(
            PlaylistCollaborator.user_id == viewer
        )
        shown = or_(shown, Playlist.owner_id == viewer, Playlist.id.in_(collaborating))
    return select(Playlist.id).where(shown)


async def search(
    session: AsyncSession,
    kind: str,
    words: Sequence[str],
    viewer: uuid.UUID | None,
    offset: int,
    limit: int,
) -> list[uuid.UUID]:
    """The ids of one page of `kind`'s matches, best first (`limit` + 1 read, to tell whether
    there is a next page)."""
    if session.get_bind().dialect.name == "postgresql":
        found = await _postgres(session, kind, words, viewer, offset, limit, typo=False)
        if found or offset > 0:
            return found
        return await _postgres(session, kind, words, viewer, offset, limit, typo=True)
    return await _sqlite(session, kind, words, viewer, offset, limit)


def _exact(kind: Kind, words: Sequence[str], *, stored: bool) -> ColumnElement[bool]:
    """Whether the name equals the query, folded: PostgreSQL keeps the folded name on the row
    (`search_key`, by the triggers; folding it per matched row cost seconds at a million
    tracks); SQLite folds it as it compares."""
    name = literal_column(f"{kind.table}.search_key") if stored else func.search_key(kind.name)
    return name == " ".join(words)


def _lexeme(word: str) -> ColumnElement[Any]:
    """A word as a tsquery: a prefix from two letters on; the word folded by the database as
    its documents were, and quoted, so nothing in it is query syntax. A word the text parser
    finds no lexeme in (which `to_tsquery` would refuse) is NULL, and matches nothing."""
    folded = func.search_key(literal(word))
    quoted = func.quote_literal(folded)
    parsed = func.to_tsquery("simple", quoted + ":*" if len(word) > 1 else quoted)
    return case((func.numnode(func.plainto_tsquery("simple", folded)) > 0, parsed), else_=None)


async def _postgres(
    session: AsyncSession,
    kind_name: str,
    words: Sequence[str],
    viewer: uuid.UUID | None,
    offset: int,
    limit: int,
    *,
    typo: bool,
) -> list[uuid.UUID]:
    kind = KINDS[kind_name]
    vector: ColumnElement[Any] = literal_column(f"{kind.table}.search_vector")
    exact: ColumnElement[Any] = literal(False)
    if typo:
        lexemes = []
        for word in words:
            if len(word) < TYPO_MIN_LETTERS:
                lexemes.append(_lexeme(word))
                continue
            resembling = await _resembling(session, word)
            if not resembling:
                return []
            lexemes.append(
                reduce(lambda left, right: left.op("||")(right), [_exactly(w) for w in resembling])
            )
        query = reduce(lambda left, right: left.op("&&")(right), lexemes)
    else:
        query = reduce(lambda left, right: left.op("&&")(right), [_lexeme(w) for w in words])
        exact = _exact(kind, words, stored=True)
    statement = (
        _visible(kind_name, viewer)
        .where(vector.op("@@")(query))
        .order_by(exact.desc(), func.ts_rank(vector, query).desc(), kind.popularity.desc(), kind.id)
    )
    return list(await session.scalars(statement.offset(offset).limit(limit + 1)))


_RESEMBLING = text(
    "SELECT word FROM search_words WHERE word % search_key(:word) "
    "ORDER BY word <-> search_key(:word), word LIMIT :most"
)


async def _resembling(session: AsyncSession, word: str) -> list[str]:
    """The indexed words a typed word resembles (trigram similarity at least 0.3, pg_trgm's
    default), the closest first: a trigram-index lookup in the vocabulary, not in the rows."""
    found = await session.scalars(_RESEMBLING, {"word": word, "most": TYPO_CANDIDATES})
    return list(found)


def _exactly(word: str) -> ColumnElement[Any]:
    """An indexed word, as a tsquery of itself (quoted: no syntax)."""
    return func.to_tsquery("simple", func.quote_literal(literal(word)))


def _match(words: Sequence[str]) -> str:
    """An FTS5 query: every word, quoted (it holds no quote: punctuation is folded away), as a
    prefix from two letters on."""
    return " ".join(f'"{word}"*' if len(word) > 1 else f'"{word}"' for word in words)


async def _sqlite(
    session: AsyncSession,
    kind_name: str,
    words: Sequence[str],
    viewer: uuid.UUID | None,
    offset: int,
    limit: int,
) -> list[uuid.UUID]:
    kind = KINDS[kind_name]
    table = f"fts_{kind_name}"
    id_column = f"{kind_name.removesuffix('s')}_id"
    matches = (
        text(
            f"SELECT {id_column} AS id, bm25({table}, {_BM25[kind_name]}) AS score "  # noqa: S608
            f"FROM {table} WHERE {table} MATCH :match"
        )
        .bindparams(match=_match(words))
        .columns(id=Uuid(), score=Float())
        .subquery("matches")
    )
    statement = (
        _visible(kind_name, viewer)
        .join(matches, matches.c.id == kind.id)
        .order_by(
            _exact(kind, words, stored=False).desc(),
            matches.c.score,
            kind.popularity.desc(),
            kind.id,
        )
    )
    return list(await session.scalars(statement.offset(offset).limit(limit + 1)))
