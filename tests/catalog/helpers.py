"""Acting as the catalog's users would: publish a release, read every page of a list, look for
keys no catalog response may carry."""

from __future__ import annotations

from typing import Any

import httpx

from tests.artists.helpers import admin_headers, approved_artist
from tests.conftest import Harness
from tests.submissions.helpers import approve, ep_files, ep_payload, submit

# Keys no catalog response may carry at any depth: accounts, tax and rights data, storage.
FORBIDDEN_KEYS = {
    "email",
    "userId",
    "passwordHash",
    "w9",
    "taxId",
    "key",
    "storageKey",
    "coverKeys",
    "payload",
    "share",
    "ipi",
    "takedownReason",
    "submissionId",
    "audioId",
}


def kept_pages_expire(harness: Harness) -> None:
    """Move the page cache's clock past its time to live, as a listener's visit a little later
    would find it: every kept answer expires (nothing sleeps)."""
    cache = harness.app.state.services.page_cache
    clock = cache.clock
    cache.clock = lambda: clock() + cache.ttl_seconds


def keys_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys_in(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_in(item)}
    return set()


async def published_ep(harness: Harness, tracks: int = 3) -> tuple[dict[str, str], str]:
    """An approved artist's EP, published by an admin; (admin headers, artist's user id)."""
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    created = await submit(harness, artist, ep_payload(tracks), ep_files(tracks))
    assert created.status_code == 201, created.text
    approved = await approve(harness, created.json()["id"], admin)
    assert approved.status_code == 200, approved.text
    me = await harness.client.get("/api/v1/auth/me", headers=artist)
    harness.client.cookies.clear()
    return admin, me.json()["id"]


async def artist_with_a_single(harness: Harness) -> tuple[dict[str, str], str]:
    """An approved artist's single, published by an admin; (artist's headers, artist id)."""
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    created = await submit(harness, artist)
    assert created.status_code == 201, created.text
    approved = await approve(harness, created.json()["id"], admin)
    assert approved.status_code == 200, approved.text
    harness.client.cookies.clear()
    artist_id = (await harness.client.get("/api/v1/artists")).json()["items"][0]["id"]
    return artist, artist_id


async def all_pages(client: httpx.AsyncClient, path: str, **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            return items
