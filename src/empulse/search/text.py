"""A search query, bounded before it reaches the database: at most `MAX_QUERY_CHARS`
characters and `MAX_QUERY_WORDS` words; control characters count as spaces; each word folded
as the index is (core/folding), only its letters, digits and marks kept, so no search syntax of
either database can be typed."""

from __future__ import annotations

import re
import unicodedata

from empulse.core.errors import BadRequest
from empulse.core.folding import PUNCTUATION, fold

MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 10
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class InvalidQuery(BadRequest):
    code = "invalid_query"
    title = "Invalid search query"


def _letters(word: str) -> str:
    """The word's letters, digits and marks: punctuation, symbols, emoji and unassigned code
    points are not words to either database's parser (a word of them alone would be an
    empty, and on PostgreSQL invalid, query)."""
    kept = [c for c in PUNCTUATION.sub("", word) if unicodedata.category(c)[0] in "LNM"]
    # Marks alone (a variation selector after an emoji) are no word either.
    if not any(unicodedata.category(c)[0] in "LN" for c in kept):
        return ""
    return "".join(kept)


def query_words(query: str) -> list[str]:
    """The query's words, folded; 400 when it is empty (or punctuation alone), longer than
    `MAX_QUERY_CHARS` or has more than `MAX_QUERY_WORDS` words."""
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"A search query has at most {MAX_QUERY_CHARS} characters.")
    raw = _CONTROL.sub(" ", query).split()
    if len(raw) > MAX_QUERY_WORDS:
        raise InvalidQuery(f"A search query has at most {MAX_QUERY_WORDS} words.")
    words = [word for word in (_letters(fold(part)) for part in raw) if word]
    if not words:
        raise InvalidQuery("Type a word or a name to search for.")
    return words
