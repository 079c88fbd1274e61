"""Hostile parameters get the spec's error codes in the envelope: never a 500, never an
injected JSONP callback, never an unbounded query."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from empulse.subsonic.call import METHODS
from tests.conftest import Backend, Harness
from tests.search.helpers import write_catalog
from tests.subsonic.helpers import call, error_code, ok, player


async def test_hostile_parameters_get_the_right_codes(backend: Backend, make_client: Any) -> None:
    harness: Harness = await make_client(backend)
    catalog = await write_catalog(harness)
    me = await player(harness)
    auth = me.auth()

    # JSONP: a callback that is an identifier wraps the JSON; anything else is refused, as
    # JSON, without echoing it.
    wrapped = await harness.client.get(
        "/rest/ping", params={**auth, "f": "jsonp", "callback": "cb.done"}
    )
    assert wrapped.headers["content-type"].startswith("application/javascript")
    assert wrapped.text.startswith("/**/cb.done({")
    assert wrapped.text.endswith("});")
    for callback in ("alert(1)//", "a b", "x;alert(1)", "</script>", "a" * 400, ""):
        refused = await harness.client.get(
            "/rest/ping", params={**auth, "f": "jsonp", "callback": callback}
        )
        assert refused.headers["content-type"] == "application/json"
        assert error_code(refused.json()["subsonic-response"]) == 0 if callback else 10
        assert "alert" not in refused.text
    missing = await harness.client.get("/rest/ping", params={**auth, "f": "jsonp"})
    assert error_code(missing.json()["subsonic-response"]) == 10

    # Bad tokens and salts are wrong passwords; repeated credentials conflict.
    for bad in ({"t": "zz" * 16}, {"t": "0" * 5000}, {"s": "s" * 900}, {"t": ""}):
        assert error_code(await call(harness, "ping", {**auth, **bad})) == 40, bad
    repeated_user = [*auth.items(), ("u", "someone@example.com")]
    assert error_code(await call(harness, "ping", repeated_user)) == 43

    # Wrong types, repeated values, huge numbers.
    album_list = {**auth, "type": "newest"}
    assert error_code(await call(harness, "getAlbumList2", {**album_list, "size": "ten"})) == 0
    twice = [*album_list.items(), ("size", "1"), ("size", "2")]
    assert error_code(await call(harness, "getAlbumList2", twice)) == 0
    same_twice = [*album_list.items(), ("size", "1"), ("size", "1")]
    assert len((await call(harness, "getAlbumList2", same_twice))["albumList2"]["album"]) == 1
    huge = await ok(harness, "getAlbumList2", me, type="newest", size="9" * 18)
    assert len(huge["albumList2"]["album"]) == len(catalog.albums)
    far = await ok(harness, "getAlbumList2", me, type="newest", offset="9" * 18)
    assert far["albumList2"]["album"] == []
    assert error_code(await call(harness, "getAlbumList2", {**album_list, "offset": "9" * 40})) == 0
    negative = await ok(harness, "getAlbumList2", me, type="newest", size="-5")
    assert negative["albumList2"]["album"] == []
    scrobble = {**auth, "id": str(next(iter(catalog.tracks.values()))), "submission": "maybe"}
    assert error_code(await call(harness, "scrobble", scrobble)) == 0
    deep = await ok(harness, "search3", me, query="lanterns", songOffset="100000000")
    assert deep["searchResult3"]["song"] == []
    hostile_query = '"NEAR(a b)" OR * -x ^y \x00\x07' + " word" * 500
    assert error_code(await call(harness, "search3", {**auth, "query": hostile_query})) == 0
    odd_query = await ok(harness, "search3", me, query='AC/DC "unbalanced')
    assert odd_query["status"] == "ok"


_NAMES = [
    "id", "size", "offset", "type", "query", "count", "genre", "songId", "playlistId", "name",
    "time", "submission", "fromYear", "toYear", "position", "current", "albumId", "artistId",
    "songIndexToRemove", "public", "username", "maxBitRate", "format",
]  # fmt: skip
_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(["true", "false", "", "00000000-0000-0000-0000-000000000000", "al-x", "\x00"]),
)


async def test_any_method_with_any_parameters_answers_an_envelope(
    embedded: Backend, make_client: Any
) -> None:
    """Every method, fed arbitrary parameters: an envelope (or media), never a 500."""
    harness: Harness = await make_client(embedded, RATE_LIMITS_ENABLED="false")
    await write_catalog(harness)
    me = await player(harness)

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        method=st.sampled_from(sorted(METHODS)),
        params=st.lists(st.tuples(st.sampled_from(_NAMES), _VALUES), max_size=6),
        fmt=st.sampled_from(["json", "xml"]),
    )
    def explore(method: str, params: list[tuple[str, str]], fmt: str) -> None:
        pending.append((method, params, fmt))

    pending: list[tuple[str, list[tuple[str, str]], str]] = []
    explore()
    for method, params, fmt in pending:
        response = await harness.client.get(
            f"/rest/{method}", params=[*me.auth().items(), *params, ("f", fmt)]
        )
        assert response.status_code in (200, 206, 302), (method, params, response.text[:300])
    assert len(pending) == 120
