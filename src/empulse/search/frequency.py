"""How many rows a search's words will match, estimated from the statistics PostgreSQL keeps
for its planner: `pg_stats.most_common_elems` of a table's `search_vector`, its most frequent
lexemes with the share of rows holding each (up to ten times the column's statistics target,
which migration 0021 sets to 1,000), and `pg_class.reltuples`. Both are kept by ANALYZE
(autovacuum), read here at most once a minute per table and process.

An estimate chooses how a search tier is read (search/repository.py): a frequent word's
matches in popularity order from an index walk, a rare word's from the full-text index. It
never decides what is found, only how fast: a wrong estimate costs time, within bounds.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import AsyncConnection

REFRESH_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Lexemes:
    """A table's row count and its most common lexemes (sorted), with the share of rows
    holding each. A lexeme not listed is rare: ANALYZE lists every lexeme found in more than
    about 13 of its sampled rows (its lossy counting's cutoff), which is about 1 row in
    23,000 at the statistics target 1,000, so an unlisted word's matches are few enough to
    read and sort, and counted here as none."""

    rows: float
    words: tuple[str, ...]
    shares: tuple[float, ...]

    def rows_matching(self, words: Sequence[Sequence[str]], *, prefix: bool) -> float:
        """The rows holding every word, each any of its alternatives (as a prefix from two
        letters on, if asked), assuming the words independent: a product of shares, times
        the rows."""
        share = 1.0
        for alternatives in words:
            share *= min(
                1.0, sum(self.share(w, prefix=prefix and len(w) > 1) for w in alternatives)
            )
        return share * self.rows

    def share(self, word: str, *, prefix: bool) -> float:
        """The share of rows holding the word (or a word it begins, for a prefix)."""
        at = bisect_left(self.words, word)
        if not prefix:
            listed = at < len(self.words) and self.words[at] == word
            return self.shares[at] if listed else 0.0
        total = 0.0
        while at < len(self.words) and self.words[at].startswith(word):
            total += self.shares[at]
            at += 1
        return min(1.0, total)


_STATISTICS = text(
    "SELECT c.reltuples, s.most_common_elems::text::text[], s.most_common_elem_freqs "
    "FROM pg_class AS c LEFT JOIN pg_stats AS s ON s.schemaname = current_schema() "
    "AND s.tablename = c.relname AND s.attname = 'search_vector' "
    "WHERE c.oid = to_regclass(:table)"
)
_read: dict[tuple[URL, str], tuple[float, Lexemes]] = {}


async def lexemes(connection: AsyncConnection, table: str) -> Lexemes:
    """The table's statistics, as ANALYZE last left them (none yet: no rows, nothing
    common)."""
    key = (connection.engine.url, table)
    now = time.monotonic()
    cached = _read.get(key)
    if cached is not None and now - cached[0] < REFRESH_SECONDS:
        return cached[1]
    row = (await connection.execute(_STATISTICS, {"table": table})).first()
    rows, words, shares = row if row is not None else (0.0, None, None)
    pairs = sorted(zip(words or (), (shares or ())[: len(words or ())], strict=True))
    found = Lexemes(
        rows=max(float(rows or 0.0), 0.0),  # -1 before the first ANALYZE
        words=tuple(word for word, _ in pairs),
        shares=tuple(float(share) for _, share in pairs),
    )
    _read[key] = (now, found)
    return found


def forget() -> None:
    """Read the statistics again at the next search (after an ANALYZE whose figures should
    count at once)."""
    _read.clear()
