"""How text is folded for search: lower-cased, accents removed (é → e), and the letters that
are not accented forms of another (ø → o, æ → ae, ß → ss, ł → l, …) spelt out, so that
"beyonce" finds "Beyoncé" and "sigur ros" finds "Sigur Rós". Punctuation inside a word is
dropped and the word is also kept in its parts: "AC/DC" is indexed as "acdc ac dc", so it is
found as typed ("ac/dc", "acdc") and by its parts ("ac dc").

PostgreSQL folds with `unaccent` in the functions the search migration installs
(search/ddl.py); SQLite with the functions below, registered on every connection (core/db) and
called by its search triggers. Each database folds documents and queries with the same
function, so both directions agree.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata

# ASCII punctuation and the common typographic marks.
# Typographic quotes, guillemets, dashes, ellipsis, bullets, inverted marks.
TYPOGRAPHIC = (
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2039\u203a\u00ab\u00bb"
    "\u2013\u2014\u2026\u00b7\u2022\u00a1\u00bf"
)
PUNCTUATION = re.compile(f"[!-/:-@\\[-`{{-~{TYPOGRAPHIC}]+")
# Letters that are not a base letter with an accent, spelt out as `unaccent` does.
_SPELT_OUT = str.maketrans(
    {
        "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss",
        "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
        "\u0131": "i", "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T",
    }
)  # fmt: skip


def fold(text: str | None) -> str:
    """Lower-cased, without accents, the non-decomposable letters spelt out. Only the
    combining diacritical marks of Latin, Greek and Cyrillic letters go (U+0300-U+036F): the
    marks of other scripts (a Japanese voicing mark) change the letter, and stay."""
    decomposed = unicodedata.normalize("NFKD", (text or "").translate(_SPELT_OUT))
    bare = "".join(c for c in decomposed if not "\u0300" <= c <= "\u036f")
    return unicodedata.normalize("NFC", bare).casefold()


def document(text: str | None) -> str:
    """What is indexed of a name: its folded words, each also without its punctuation and in
    its parts."""
    folded = fold(text)
    return f"{PUNCTUATION.sub('', folded)} {PUNCTUATION.sub(' ', folded)}"


def key(text: str | None) -> str:
    """A name as an exact match compares it: folded, without punctuation, single-spaced."""
    return " ".join(PUNCTUATION.sub("", fold(text)).split())


def register(connection: sqlite3.Connection) -> None:
    """The folding functions, as SQLite's search triggers and queries call them."""
    connection.create_function("search_document", 1, document, deterministic=True)
    connection.create_function("search_key", 1, key, deterministic=True)
