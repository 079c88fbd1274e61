"""The page cache's own bounds: answers of another version are misses, answers expire after
their time to live, and the least recently used answers go first once the bytes held reach the
bound."""

from __future__ import annotations

from empulse.infra.page_cache import PageCache


def test_an_answer_is_only_for_the_version_it_was_read_at() -> None:
    cache = PageCache(max_bytes=1024)
    cache.put("/tracks?", 7, b"page")
    assert cache.get("/tracks?", 7) == b"page"
    assert cache.get("/tracks?", 8) is None
    cache.put("/tracks?", 8, b"newer")
    assert cache.get("/tracks?", 7) is None
    assert cache.get("/tracks?", 8) == b"newer"


def test_an_answer_expires_after_its_time_to_live() -> None:
    now = [100.0]
    cache = PageCache(max_bytes=1024, ttl_seconds=15, clock=lambda: now[0])
    cache.put("/tracks?", 7, b"page")
    now[0] += 14.9
    assert cache.get("/tracks?", 7) == b"page"
    now[0] += 0.1
    assert cache.get("/tracks?", 7) is None
    cache.put("/tracks?", 7, b"read again")
    assert cache.get("/tracks?", 7) == b"read again"


def test_the_least_recently_used_answers_go_first_past_the_bound() -> None:
    cache = PageCache(max_bytes=16 * 40)  # answers up to 40 bytes are kept
    for n in range(16):
        cache.put(f"/page/{n}", 1, bytes(40))
    assert cache.get("/page/0", 1) is not None  # now the most recently used
    cache.put("/page/16", 1, bytes(40))
    assert cache.get("/page/1", 1) is None  # the least recently used went
    assert cache.get("/page/0", 1) is not None
    assert cache.get("/page/16", 1) is not None
    # One answer larger than a sixteenth of the bound is not kept at all.
    cache.put("/huge", 1, bytes(41))
    assert cache.get("/huge", 1) is None
    assert cache.get("/page/2", 1) is not None


def test_a_zero_bound_keeps_nothing() -> None:
    cache = PageCache(max_bytes=0)
    cache.put("/tracks?", 1, b"page")
    assert cache.get("/tracks?", 1) is None
