"""A process's cache of rendered public answers (catalog pages, search sections)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from empulse.core.metrics import PAGE_CACHE_HIT, PAGE_CACHE_MISS


@dataclass(frozen=True, slots=True)
class _Entry:
    version: int
    content: bytes
    expires: float


class PageCache:
    """Rendered public answers of one process, keyed by what identifies the answer and valid
    for one version of the data they show (catalog/ddl.py: triggers move the version in the
    writing transaction). A reader reads the version before the data: an answer stored under
    a version shows that version's data or newer, and once a change commits the version has
    moved, so no answer from before the change is served again. Least recently used answers
    go first once `max_bytes` of bodies are held.

    An answer is also kept `ttl_seconds` at most: what changes without moving the version (the
    play counters, catalog/ddl.py) shows within that time. `clock` is a monotonic clock."""

    def __init__(
        self,
        max_bytes: int,
        *,
        ttl_seconds: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0

    def get(self, key: str, version: int) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry.version != version or entry.expires <= self.clock():
            PAGE_CACHE_MISS.inc()
            return None
        self._entries.move_to_end(key)
        PAGE_CACHE_HIT.inc()
        return entry.content

    def put(self, key: str, version: int, content: bytes) -> None:
        if len(content) > self.max_bytes // 16:
            return  # a few huge answers would push out many ordinary ones
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.content)
        self._entries[key] = _Entry(version, content, self.clock() + self.ttl_seconds)
        self._bytes += len(content)
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.content)
