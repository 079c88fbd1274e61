"""Damage to valid bytes, for property-based tests of what reads uploads: bytes overwritten, cut
out, inserted, or the data truncated, at any offset."""

from __future__ import annotations

from hypothesis import strategies as st

Edit = tuple[str, int, bytes]


def edits(
    chunks: st.SearchStrategy[bytes] | None = None, *, max_size: int = 8
) -> st.SearchStrategy[list[Edit]]:
    """Lists of edits; `chunks` are the bytes written or inserted (any, by default)."""
    return st.lists(
        st.tuples(
            st.sampled_from(["overwrite", "cut", "insert", "truncate"]),
            st.integers(min_value=0, max_value=2**20),
            chunks if chunks is not None else st.binary(min_size=1, max_size=64),
        ),
        max_size=max_size,
    )


def damaged(data: bytes, changes: list[Edit]) -> bytes:
    """`data` with `changes` applied in turn (offsets wrap around the current length)."""
    result = bytearray(data)
    for kind, offset, chunk in changes:
        at = offset % (len(result) + 1)
        if kind == "overwrite":
            result[at : at + len(chunk)] = chunk
        elif kind == "cut":
            del result[at : at + len(chunk)]
        elif kind == "insert":
            result[at:at] = chunk
        else:
            del result[at:]
    return bytes(result)
