"""A /rest call's parameters, from the query string and (the `formPost` extension) a form body.

Subsonic parameters are strings; each reader here turns one into what a method needs or raises
the failure a client expects: a missing one is code 10, a value of the wrong type (or the same
parameter twice with different values) code 0, an id that names nothing code 70. Sizes and
offsets are clamped to bounds, so no value reaches the database unchecked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from empulse.subsonic.envelope import Code, SubsonicError, missing

_MAX_VALUE_LENGTH = 1000
# Far past any real library's end; larger offsets answer an empty page.
MAX_OFFSET = 10_000_000


class Params:
    __slots__ = ("_values",)

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        values: dict[str, list[str]] = {}
        for key, value in items:
            values.setdefault(key, []).append(value)
        self._values = values

    def has(self, name: str) -> bool:
        return name in self._values

    def distinct(self, name: str) -> int:
        """How many different values the parameter was given."""
        return len(set(self._values.get(name, ())))

    def text(self, name: str, *, max_length: int = _MAX_VALUE_LENGTH) -> str | None:
        """One value; the same value repeated is that value (some clients repeat)."""
        values = self._values.get(name)
        if not values:
            return None
        if any(value != values[0] for value in values[1:]):
            raise SubsonicError(Code.GENERIC, f"Parameter {name} was given different values")
        if len(values[0]) > max_length:
            raise SubsonicError(Code.GENERIC, f"Parameter {name} is too long")
        return values[0]

    def required(self, name: str, *, max_length: int = _MAX_VALUE_LENGTH) -> str:
        value = self.text(name, max_length=max_length)
        if value is None:
            raise missing(name)
        return value

    def texts(self, name: str, *, limit: int = 1000) -> list[str]:
        """Every value of a parameter that may repeat (`id=a&id=b`), at most `limit`."""
        values = self._values.get(name, [])
        if len(values) > limit:
            raise SubsonicError(Code.GENERIC, f"At most {limit} values of {name}")
        if any(len(value) > _MAX_VALUE_LENGTH for value in values):
            raise SubsonicError(Code.GENERIC, f"Parameter {name} is too long")
        return values

    def integer(
        self, name: str, default: int | None = None, *, low: int = 0, high: int = MAX_OFFSET
    ) -> int | None:
        """An integer, clamped to [low, high]."""
        raw = self.text(name, max_length=20)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SubsonicError(Code.GENERIC, f"Parameter {name} must be an integer") from None
        return max(low, min(high, value))

    def number(self, name: str, default: int, *, low: int = 0, high: int = MAX_OFFSET) -> int:
        value = self.integer(name, default, low=low, high=high)
        assert value is not None
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name, max_length=10)
        if raw is None or raw == "":
            return default
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise SubsonicError(Code.GENERIC, f"Parameter {name} must be true or false")


def as_id(raw: str, what: str = "Item") -> uuid.UUID:
    """An id of ours; anything else names nothing (70)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise SubsonicError(Code.NOT_FOUND, f"{what} not found") from None
