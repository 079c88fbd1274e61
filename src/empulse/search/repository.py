"""Search queries: one ranked page of ids per kind, from PostgreSQL's full-text index or
SQLite's FTS5 tables (search/ddl.py), joined to the catalog's own visibility rules.

Ranking, the same on both databases, is a sequence of tiers, each a set of rows the index can
find, each read in popularity order (qualified plays as the popularity pass last copied them,
plays/tasks.py, newest first among equals; followers for playlists) and only as far as the
page needs:

1. the name equal to the query (folded);
2. every word a whole word of the name;
3. every word in the name, as typed so far (a prefix from two letters on);
4. every word in the name or the artist's name (tracks), then in any field (the album's
   title; a playlist's description).

A row is in the first tier it matches only. Ranking by tiers rather than by a score over every
match keeps a search's cost bounded by the page, not by how many rows match: a frequent word
that matches a tenth of a million tracks reads the first page of its tier in popularity order
from an index, as the catalog's "popular" list does, and a rare one reads its few matches and
sorts them.

A typo (PostgreSQL only): when nothing matches as typed, each word of four letters or more
stands for the (up to five) indexed words it resembles most (`pg_trgm` similarity at least
0.3, looked up in `search_words`, the vocabulary the triggers keep; "lantrens" is 0.38 from
"lanterns"), and the search runs again with them, by the same tiers after the first two.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    Text,
    UnaryExpression,
    Uuid,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.selectable import TextualSelect

from empulse.catalog import repository as catalog
from empulse.core.db import HotRead, unplanned
from empulse.models import Album, Artist, Playlist, PlaylistCollaborator, Track, User
from empulse.search import frequency

TYPO_MIN_LETTERS = 4
# How many indexed words a typed word may stand for.
TYPO_CANDIDATES = 5


@dataclass(frozen=True, slots=True)
class Field:
    """Where a tier's words must be: PostgreSQL's weights (None: any) and the same fields as
    an FTS5 column filter."""

    weights: str | None
    columns: str | None


@dataclass(frozen=True, slots=True)
class Walk:
    """That a kind's rows can be walked in popularity order: an index has the condition's
    column, then the order's keys."""

    where: ColumnElement[bool]


@dataclass(frozen=True, slots=True)
class Kind:
    """What is searched for one kind: its table, the name an exact match compares, the
    fields of its tiers (the name's first, then wider), and its popularity order."""

    table: str
    id: InstrumentedAttribute[uuid.UUID]
    name: InstrumentedAttribute[str]
    fields: tuple[Field, ...]
    order: tuple[UnaryExpression[Any], ...]
    walk: Walk | None = None


ANYWHERE = Field(None, None)

KINDS = {
    "tracks": Kind(
        "tracks",
        Track.id,
        Track.title,
        (Field("A", "{title}"), Field("AB", "{title artist}"), ANYWHERE),
        (Track.popularity.desc(), Track.published_at.desc(), Track.id.desc()),
        Walk(Track.status == catalog.PUBLISHED),
    ),
    "albums": Kind(
        "albums",
        Album.id,
        Album.title,
        (Field("A", "{title}"), ANYWHERE),
        (Album.popularity.desc(), Album.published_at.desc(), Album.id.desc()),
        Walk(Album.status == catalog.PUBLISHED),
    ),
    "artists": Kind(
        "artists",
        Artist.id,
        Artist.name,
        (Field("A", "{name}"),),
        (Artist.play_count.desc(), Artist.id.desc()),
    ),
    "playlists": Kind(
        "playlists",
        Playlist.id,
        Playlist.name,
        (Field("A", "{name}"), ANYWHERE),
        (Playlist.follower_count.desc(), Playlist.id.desc()),
    ),
}


def _visible(kind: str, viewer: bool) -> Select[Any]:
    """The rows a listener may find: the catalog's visibility; for playlists, public ones of
    enabled accounts, and (`viewer`: the statement's `viewer` parameter) the caller's own
    and those they collaborate on."""
    if kind == "tracks":
        return catalog.visible_tracks().with_only_columns(Track.id)
    if kind == "albums":
        return catalog.visible_albums().with_only_columns(Album.id)
    if kind == "artists":
        return catalog.visible_artists().with_only_columns(Artist.id)
    enabled = select(User.id).where(User.id == Playlist.owner_id, User.disabled_at.is_(None))
    shown: ColumnElement[bool] = Playlist.public.is_(True) & enabled.exists()
    if viewer:
        caller = bindparam("viewer", type_=Uuid())
        collaborating = select(PlaylistCollaborator.playlist_id).where(
            PlaylistCollaborator.user_id == caller
        )
        shown = or_(shown, Playlist.owner_id == caller, Playlist.id.in_(collaborating))
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
    wanted = offset + limit + 1
    if session.get_bind().dialect.name == "postgresql":
        found = await _postgres(session, KINDS[kind], words, viewer, wanted)
    else:
        found = await _sqlite(session, KINDS[kind], words, viewer, wanted)
    return found[offset:]


def _prefixes(words: Sequence[str]) -> bool:
    """Whether a prefix tier would find more than the whole words: single letters are never
    prefixes."""
    return any(len(word) > 1 for word in words)


# PostgreSQL

# How far a walk in popularity order may read before it gives up for the full-text index: a
# bound on what a wrong estimate costs (about 12 ms on the bench machine). A word too sparse
# among the most popular rows to fill a page within it has few enough matches overall, as a
# rule, for the full-text index to read them.
WALK_WINDOW = 16_384
# A row read by the full-text index costs about ten read by a walk (it is fetched by its
# position and its words checked again against the query's fields).
WALK_ADVANTAGE = 10
# A rare word's matches are read whole and sorted; more than this, and a walk reads them.
FEW_MATCHES = 2_000


@dataclass(frozen=True, slots=True)
class Tier:
    """A tier's full-text query, with the words it stands for (each any of its alternatives)
    to estimate its matches by."""

    query: ColumnElement[Any]
    words: Sequence[Sequence[str]]
    prefix: bool


@functools.cache
def _query(weights: str | None, *, prefix: bool) -> ColumnElement[Any]:
    """The words (the statement's `words` parameter) as a tsquery, every word in the fields,
    each as a prefix from two letters on if asked: `search_query` (search/ddl.py) folds and
    quotes each word in the database, as its documents were folded, so nothing in a word is
    query syntax. One expression per form, so the statements built of it are built once.

    A scalar subquery: PostgreSQL computes it once per execution (an InitPlan), and the
    planner sees the same unknown tsquery whatever the words, so a statement's generic plan
    is as good as one made for its parameters and is kept (prepared statements are then not
    planned again on every search, which cost more than running most of them)."""
    words = bindparam("words", type_=ARRAY(Text()))
    return select(func.search_query(words, weights or "", prefix)).scalar_subquery()


def _typed_tiers(kind: Kind, words: Sequence[str]) -> tuple[Tier, ...]:
    typed = [[word] for word in words]
    name, *wider = kind.fields
    tiers = [Tier(_query(name.weights, prefix=False), typed, False)]
    if _prefixes(words):
        tiers.append(Tier(_query(name.weights, prefix=True), typed, True))
    tiers.extend(Tier(_query(field.weights, prefix=True), typed, True) for field in wider)
    return tuple(tiers)


@dataclass(frozen=True, slots=True)
class Statements:
    """One search's statements, built once for each kind, form of its tiers and kind of
    caller (they differ in parameters only: `words`, `key`, `viewer`, `ids`, `wanted`,
    `reading`)."""

    matches: Select[Any]  # every match of the widest tier (at most FEW_MATCHES + 1)
    sorted: Select[Any]  # the visible ones of `ids` by tier, then popularity
    exact: Select[Any]  # the visible rows whose name is the key, by popularity
    first: Select[Any]  # every match of the first tier, the exact name's included
    tiers: tuple[TierStatements, ...]


@dataclass(frozen=True, slots=True)
class TierStatements:
    matches: Select[Any]  # a tier's matches (at most FEW_MATCHES + 1)
    page: Select[Any]  # the visible ones of `ids` by popularity
    every: Select[Any]  # the visible ones of all its matches by popularity
    walk: Select[Any] | None  # its matches among the most popular rows, in order


def _materialised_matches(kind: Kind, condition: ColumnElement[bool]) -> Select[Any]:
    """The ids matching, from a materialised CTE: it is planned for all its rows (the
    full-text index), and the limit outside it stops the reading early; a limit inside
    would make the planner scan the table for the first rows it believes to be
    everywhere."""
    matches = select(kind.id.label("id")).where(condition).cte("matches")
    matches = matches.prefix_with("MATERIALIZED")
    return select(matches.c.id).limit(FEW_MATCHES + 1)


@functools.lru_cache(maxsize=256)
def _statements(
    kind: Kind, queries: tuple[ColumnElement[Any], ...], key: bool, viewer: bool
) -> Statements:
    vector: ColumnElement[Any] = literal_column(f"{kind.table}.search_vector")
    stored_key: ColumnElement[Any] = literal_column(f"{kind.table}.search_key")
    named = bindparam("key", type_=Text())
    wanted = unplanned("wanted")
    # The cast makes the subquery's value the array (`= ANY (SELECT …)` compares each row).
    ids = ARRAY(Uuid())
    in_ids = kind.id == any_(cast(unplanned("ids", ids), ids))
    visible = _visible(kind.table, viewer)
    ranks: list[tuple[ColumnElement[bool], int]] = []
    if key:
        ranks.append((stored_key == named, 0))
    ranks.extend((vector.op("@@")(query), n) for n, query in enumerate(queries, start=1))
    tiers = []
    for n, query in enumerate(queries):
        others: ColumnElement[bool] = true()
        if n > 0:
            others = others & ~vector.op("@@")(queries[n - 1])
        if key:
            others = others & stored_key.is_distinct_from(named)
        page = visible.order_by(*kind.order).limit(wanted)
        matches = _materialised_matches(kind, vector.op("@@")(query) & others)
        every = matches.limit(None)
        tiers.append(
            TierStatements(
                matches=matches,
                page=page.where(in_ids),
                every=page.where(kind.id.in_(every)),
                walk=_walk_statement(kind, query, others),
            )
        )
    return Statements(
        matches=_materialised_matches(kind, vector.op("@@")(queries[-1])),
        sorted=visible.where(in_ids)
        .order_by(case(*ranks, else_=len(queries) + 1), *kind.order)
        .limit(wanted),
        exact=visible.where(stored_key == named).order_by(*kind.order).limit(wanted),
        first=_materialised_matches(kind, vector.op("@@")(queries[0])),
        tiers=tuple(tiers),
    )


def _walk_statement(
    kind: Kind, query: ColumnElement[Any], others: ColumnElement[bool]
) -> Select[Any] | None:
    """A tier's matches among the kind's first `WALK_WINDOW` rows in popularity order, in
    that order, at most `reading` of them: a statement of the kind's table alone, a subquery
    of its first rows (an index range; its limit keeps the planner to it, and keeps the
    conditions outside it), named as the table so that the tier's conditions apply to it."""
    if kind.walk is None:
        return None
    keys = [order.element for order in kind.order]
    window = (
        select(
            *keys,
            literal_column(f"{kind.table}.search_vector").label("search_vector"),
            literal_column(f"{kind.table}.search_key").label("search_key"),
        )
        .where(kind.walk.where)
        .order_by(*kind.order)
        .limit(literal_column(str(WALK_WINDOW), Integer()))
        .subquery(kind.table)
    )
    # The expression hides the column from the full-text index.
    empty = literal_column("''::tsvector", TSVECTOR())
    hidden: ColumnElement[Any] = func.coalesce(window.c.search_vector, empty)
    return (
        select(window.c.id)
        .where(hidden.op("@@")(query), others)
        .order_by(*(column.desc() for column in list(window.c)[: len(keys)]))
        .limit(unplanned("reading"))
    )


@functools.lru_cache(maxsize=1024)
def _hot(statement: Select[Any]) -> HotRead[tuple[uuid.UUID]]:
    return HotRead(statement)


async def _ids(
    connection: AsyncConnection, statement: Select[Any], parameters: dict[str, Any]
) -> list[uuid.UUID]:
    """The ids a statement selects: compiled once and run on the driver's connection (a
    search runs four or five; SQLAlchemy's execution would cost twice what the driver's
    does, core/db.HotRead)."""
    return [row[0] for row in await _hot(statement).rows(connection, **parameters)]


async def _postgres(
    session: AsyncSession,
    kind: Kind,
    words: Sequence[str],
    viewer: uuid.UUID | None,
    wanted: int,
) -> list[uuid.UUID]:
    """The tiers of the words as typed (the exact name first: its folded form is kept on the
    row by the triggers, and indexed); when nothing matches, the tiers of what a typo may
    stand for."""
    # Core statements only: run on the session's connection, past its ORM layer.
    connection = await session.connection()
    parameters = {"words": list(words), "key": " ".join(words), "viewer": viewer}
    found = await _read(connection, kind, _typed_tiers(kind, words), True, parameters, wanted)
    if found:
        return found
    typo, typo_parameters = await _typo_tiers(connection, kind, words)
    if not typo:
        return []
    return await _read(connection, kind, typo, False, {**parameters, **typo_parameters}, wanted)


async def _read(
    connection: AsyncConnection,
    kind: Kind,
    tiers: tuple[Tier, ...],
    key: bool,
    parameters: dict[str, Any],
    wanted: int,
) -> list[uuid.UUID]:
    """Up to `wanted` rows of the tiers in order (the exact name first, if `key`).

    When the statistics call the widest tier rare, every match of it (at most `FEW_MATCHES`)
    is read and the visible ones sorted by tier and popularity: two statements. Otherwise,
    or when it has more matches, tier by tier (`_read_tier`), each only as far as the page
    needs."""
    statements = _statements(
        kind, tuple(tier.query for tier in tiers), key, parameters["viewer"] is not None
    )
    if not await _walk_pays(connection, kind, tiers[-1], wanted):
        ids = list(await _ids(connection, statements.matches, parameters))
        if len(ids) <= FEW_MATCHES:
            if not ids:
                return []
            rows = {**parameters, "ids": ids, "wanted": wanted}
            return list(await _ids(connection, statements.sorted, rows))
    found: list[uuid.UUID] = []
    later = list(zip(tiers, statements.tiers, strict=True))
    if key:
        first = await _first_tier(connection, kind, tiers[0], statements, parameters, wanted)
        if first is not None:
            found, later = first, later[1:]
        else:
            found += await _ids(connection, statements.exact, {**parameters, "wanted": wanted})
    for tier, tier_statements in later:
        if len(found) >= wanted:
            break
        found += await _read_tier(
            connection, kind, tier, tier_statements, parameters, wanted - len(found)
        )
    return found


async def _first_tier(
    connection: AsyncConnection,
    kind: Kind,
    tier: Tier,
    statements: Statements,
    parameters: dict[str, Any],
    wanted: int,
) -> list[uuid.UUID] | None:
    """The exact name and the first tier together, when the first tier is rare: its matches
    (the exact name's are among them: each of its words is a whole word of the name), sorted
    with the exact name first, in two statements, and in one when nothing matches (a word
    typed half-way, which then has no whole-word match). None when the first tier is
    frequent or has more matches than are sorted: the exact name is read on its own."""
    if await _walk_pays(connection, kind, tier, wanted):
        return None
    ids = await _ids(connection, statements.first, parameters)
    if len(ids) > FEW_MATCHES:
        return None
    if not ids:
        return []
    return await _ids(connection, statements.sorted, {**parameters, "ids": ids, "wanted": wanted})


async def _walk_pays(connection: AsyncConnection, kind: Kind, tier: Tier, wanted: int) -> bool:
    """Whether the statistics say a walk reads a tier's page more cheaply than the
    full-text index reads its matches: a walk reads about `wanted * rows / matches` rows, the
    index `matches` rows at `WALK_ADVANTAGE` times the cost of each."""
    if kind.walk is None:
        return False
    lexemes = await frequency.lexemes(connection, kind.table)
    matches = lexemes.rows_matching(tier.words, prefix=tier.prefix)
    return matches * matches * WALK_ADVANTAGE > wanted * lexemes.rows


async def _read_tier(
    connection: AsyncConnection,
    kind: Kind,
    tier: Tier,
    statements: TierStatements,
    parameters: dict[str, Any],
    wanted: int,
) -> list[uuid.UUID]:
    """The first `wanted` rows of one tier (those no earlier tier holds) in popularity order,
    read the cheaper way.

    A frequent word: a walk reads the kind's rows in popularity order down an index and
    keeps those that match. A rare word: the full-text index gives its matches (at most
    `FEW_MATCHES`), and the visible ones among them are sorted. The statistics' estimate
    decides which is tried first; a walk that reaches `WALK_WINDOW` rows without filling the
    page stops, and a word with more matches than the estimate said is walked after all.
    Only a word both frequent and absent from the most popular `WALK_WINDOW` rows has all
    its matches sorted."""
    parameters = {**parameters, "wanted": wanted}
    walked = await _walk_pays(connection, kind, tier, wanted)
    if walked:
        found = await _walk(connection, statements, parameters, wanted)
        if found is not None:
            return found
    ids = list(await _ids(connection, statements.matches, parameters))
    if len(ids) <= FEW_MATCHES:
        if not ids:
            return []
        return list(await _ids(connection, statements.page, {**parameters, "ids": ids}))
    if not walked:
        found = await _walk(connection, statements, parameters, wanted)
        if found is not None:
            return found
    return list(await _ids(connection, statements.every, parameters))


async def _walk(
    connection: AsyncConnection, statements: TierStatements, parameters: dict[str, Any], wanted: int
) -> list[uuid.UUID] | None:
    """The page read by a walk, or None when the first `WALK_WINDOW` rows in popularity
    order hold too few matches for it (or the kind is not walked). A few more matches are
    read than the page needs, and the visible ones among them kept (primary-key lookups);
    when too many were not visible, the walk reads further."""
    if statements.walk is None:
        return None
    reading = wanted + max(10, wanted // 4)
    while True:
        matched = list(await _ids(connection, statements.walk, {**parameters, "reading": reading}))
        found = (
            list(await _ids(connection, statements.page, {**parameters, "ids": matched}))
            if matched
            else []
        )
        if len(found) >= wanted:
            return found
        if len(matched) < reading:  # the window is read to its end
            return None
        reading *= 4


# Each typed word's resembling indexed words, the closest first, in one statement.
_RESEMBLING = text(
    # The words an InitPlan, so that the generic plan is kept (as core/db.unplanned).
    "SELECT typed.word, found.word "  # noqa: S608 - a constant limit
    "FROM unnest(CAST((SELECT CAST(:words AS text[])) AS text[])) AS typed(word) "
    "CROSS JOIN LATERAL (SELECT word FROM search_words "
    "WHERE word % search_key(typed.word) "
    f"ORDER BY word <-> search_key(typed.word), word LIMIT {TYPO_CANDIDATES}) AS found"
)


async def _resembling(connection: AsyncConnection, words: Sequence[str]) -> dict[str, list[str]]:
    """The indexed words each typed word resembles (trigram similarity at least 0.3, pg_trgm's
    default), the closest first: trigram-index lookups in the vocabulary, not in the rows."""
    found: dict[str, list[str]] = {word: [] for word in words}
    rows = await connection.execute(_RESEMBLING, {"words": list(words)})
    for typed, word in rows:
        found[typed].append(word)
    return found


def _quoted(word: str) -> str:
    """A word as a tsquery operand: quoted, so nothing in it is syntax."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


@functools.cache
def _typo_query(field: int) -> ColumnElement[Any]:
    """The statement's `typo<field>` parameter as a tsquery: one expression per field, so
    the statements built of it are built once."""
    return select(
        func.to_tsquery("simple", bindparam(f"typo{field}", type_=Text()))
    ).scalar_subquery()


async def _typo_tiers(
    connection: AsyncConnection, kind: Kind, words: Sequence[str]
) -> tuple[tuple[Tier, ...], dict[str, str]]:
    """The tiers of the words a typo may stand for, with their parameters: each word of four
    letters or more is any of the indexed words it resembles (whole words: they are the
    index's own lexemes); a shorter one stays a prefix (folded as the index is, by
    core/folding); none is a typo of nothing."""
    long_words = [word for word in words if len(word) >= TYPO_MIN_LETTERS]
    resembling = await _resembling(connection, long_words) if long_words else {}
    if any(not candidates for candidates in resembling.values()):
        return (), {}
    tiers = []
    parameters = {}
    for n, field in enumerate(kind.fields):
        weights = field.weights or ""
        operands = []
        for word in words:
            if word in resembling:
                label = f":{weights}" if weights else ""
                operands.append(
                    "(" + " | ".join(_quoted(c) + label for c in resembling[word]) + ")"
                )
            else:
                label = ":" + ("*" if len(word) > 1 else "") + weights
                operands.append(_quoted(word) + (label if label != ":" else ""))
        parameters[f"typo{n}"] = " & ".join(operands)
        # A candidate is a whole word; a short word stays a prefix (its estimate errs high).
        alternatives = [resembling.get(word, [word]) for word in words]
        tiers.append(Tier(_typo_query(n), alternatives, True))
    return tuple(tiers), parameters


# SQLite

# Sorting the matches costs more on SQLite than a walk (the ranks call the folding function
# and an FTS5 query per tier for each): fewer are sorted.
SQLITE_FEW_MATCHES = 500


def _match(words: Sequence[str], field: Field, *, prefix: bool) -> str:
    """An FTS5 query: every word, quoted (it holds no quote: punctuation is folded away), as a
    prefix from two letters on when asked, in the field's columns."""
    phrases = " ".join(f'"{w}"*' if prefix and len(w) > 1 else f'"{w}"' for w in words)
    return f"{field.columns} : ({phrases})" if field.columns else f"({phrases})"


async def _sqlite(
    session: AsyncSession,
    kind: Kind,
    words: Sequence[str],
    viewer: uuid.UUID | None,
    wanted: int,
) -> list[uuid.UUID]:
    """The same tiers from the kind's FTS5 table (SQLite keeps no statistics to estimate
    from, but FTS5 lists a query's matches cheaply): every match of the widest tier, at most
    `FEW_MATCHES`, sorted by tier and popularity in one statement; more, and tier by tier,
    each from its own matches when they are few, else by walking the popularity index. The
    exact name is among the whole words of the name, and folded as it is compared; each
    later tier is its query `NOT` the one before."""
    table = f"fts_{kind.table}"
    id_column = f"{kind.table.removesuffix('s')}_id"

    def matching(query: str, name: str) -> TextualSelect:
        return (
            text(f"SELECT {id_column} AS id FROM {table} WHERE {table} MATCH :{name}")  # noqa: S608
            .bindparams(**{name: query})
            .columns(id=Uuid())
        )

    listing = f"SELECT {id_column} AS id FROM {table} WHERE {table} MATCH :match LIMIT :most"  # noqa: S608
    listed: dict[str, list[uuid.UUID] | None] = {}

    async def matches(query: str) -> list[uuid.UUID] | None:
        # Read once per query: the exact tier and the next share the whole words' query.
        if query not in listed:
            found = await session.scalars(
                text(listing)
                .bindparams(match=query, most=SQLITE_FEW_MATCHES + 1)
                .columns(id=Uuid())
            )
            ids = list(found)
            listed[query] = ids if len(ids) <= SQLITE_FEW_MATCHES else None
        return listed[query]

    key = " ".join(words)
    exact_name = func.search_key(kind.name)
    name, *wider = kind.fields
    queries = [_match(words, name, prefix=False)]
    if _prefixes(words):
        queries.append(_match(words, name, prefix=True))
    queries.extend(_match(words, field, prefix=True) for field in wider)
    visible = _visible(kind.table, viewer is not None)
    parameters = {"viewer": viewer}
    widest = await matches(queries[-1])
    if widest is not None:
        if not widest:
            return []
        ranks: list[tuple[ColumnElement[bool], int]] = [
            (kind.id.in_(matching(queries[0], "whole")) & (exact_name == key), 0)
        ]
        ranks.extend(
            (kind.id.in_(matching(query, f"tier{n}")), n) for n, query in enumerate(queries, 1)
        )
        statement = (
            visible.where(kind.id.in_(widest))
            .order_by(case(*ranks, else_=len(queries) + 1), *kind.order)
            .limit(wanted)
        )
        return list(await session.scalars(statement, parameters))
    tiers = [(queries[0], exact_name == key), (queries[0], exact_name.is_distinct_from(key))]
    tiers.extend(
        (f"({query}) NOT ({queries[n - 1]})", true()) for n, query in enumerate(queries) if n
    )
    found: list[uuid.UUID] = []
    for query, condition in tiers:
        if len(found) >= wanted:
            break
        ids = await matches(query)
        if ids == []:
            continue
        # Few: looked up by key (with the statistics of search/tasks.py); many: walked in
        # popularity order, the key hidden from its index by SQLite's unary `+`.
        if ids is not None:
            among = kind.id.in_(ids)
        else:
            unindexed = literal_column(f"+{kind.table}.id", Uuid())
            among = unindexed.in_(matching(query, "match"))
        statement = visible.where(among, condition).order_by(*kind.order)
        found += await session.scalars(statement.limit(wanted - len(found)), parameters)
    return found
