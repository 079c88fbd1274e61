"""A process's cache of rendered public answers (catalog pages, search sections)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from empulse.core.metrics import PAGE_CACHE_HIT, PAGE_CACHE_MISS


@dataclass(frozen=True, slots=True)
class _Entry:
    version: int
    content: bytes


class PageCache:
    """Rendered public answers of one process, keyed by what identifies the answer and valid
    for one version of the data they show (catalog/ddl.py: triggers move the version in the
    writing transaction). A reader reads the version before the data: an answer stored under
    a version shows that version's data or newer, and once a change commits the version has
    moved, so no answer from before the change is served again. Least recently used answers
    go first once `max_bytes` of bodies are held."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0

    def get(self, key: str, version: int) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry.version != version:
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
        self._entries[key] = _Entry(version, content)
        self._bytes += len(content)
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.content)
