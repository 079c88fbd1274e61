"""Acting as listeners with playlists: sign in, create one, read all of its entries."""

from __future__ import annotations

from typing import Any

from tests.auth.helpers import bearer, signed_in
from tests.conftest import Harness

PLAYLISTS = "/api/v1/playlists"


async def listener(harness: Harness, email: str, name: str = "Ada") -> dict[str, str]:
    headers = bearer(await signed_in(harness, email, name))
    harness.client.cookies.clear()
    return headers


async def new_playlist(harness: Harness, me: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "Night drives", **fields}
    created = await harness.client.post(PLAYLISTS, json=body, headers=me)
    assert created.status_code == 201, created.text
    playlist: dict[str, Any] = created.json()
    return playlist


async def entries(
    harness: Harness, playlist_id: str, me: dict[str, str] | None = None
) -> list[Any]:
    """Every entry, read two at a time (so the cursor is used)."""
    items: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await harness.client.get(
            f"{PLAYLISTS}/{playlist_id}/tracks", params=params, headers=me or {}
        )
        assert page.status_code == 200, page.text
        items.extend(page.json()["items"])
        cursor = page.json()["nextCursor"]
        if cursor is None:
            assert [entry["position"] for entry in items] == list(range(len(items)))
            return items


async def add(
    harness: Harness, playlist_id: str, me: dict[str, str], track_ids: list[str], **fields: Any
) -> Any:
    return await harness.client.post(
        f"{PLAYLISTS}/{playlist_id}/tracks", json={"trackIds": track_ids, **fields}, headers=me
    )
