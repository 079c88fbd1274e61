"""Who sees and changes a playlist: owner, collaborators (by a single-use invite), other
listeners and anonymous callers; private and public playlists; profiles that are not public;
follows; export and deletion."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from empulse.core.db import session_scope, utcnow
from empulse.models import PlaylistInvite
from empulse.services import Services
from tests.artists.helpers import approved_artist
from tests.auth.helpers import PASSWORD, bearer, login
from tests.catalog.helpers import all_pages, published_ep
from tests.conftest import Backend, Harness
from tests.playlists.helpers import PLAYLISTS, add, entries, listener, new_playlist
from tests.submissions.helpers import approve, submit
from tests.web.test_problems import assert_problem

LIBRARY = "/api/v1/users/me/library"


@pytest.fixture
async def harness(media_backend: Backend, make_client: Any) -> Harness:
    """Several listeners sign up from one address: no limits."""
    started: Harness = await make_client(media_backend, RATE_LIMITS_ENABLED="false")
    return started


async def invited(harness: Harness, playlist_id: str, owner: dict[str, str]) -> str:
    created = await harness.client.post(f"{PLAYLISTS}/{playlist_id}/invites", headers=owner)
    assert created.status_code == 201, created.text
    invite = created.json()
    assert invite["url"] == f"{harness.settings.app_url}/playlists/invites/{invite['token']}"
    token: str = invite["token"]
    return token


async def test_collaborators_edit_entries_and_only_the_owner_changes_the_rest(
    harness: Harness,
) -> None:
    await published_ep(harness, tracks=2)
    track_id = (await all_pages(harness.client, "/api/v1/tracks"))[0]["id"]
    ada = await listener(harness, "ada@example.com", "Ada")
    bo = await listener(harness, "bo@example.com", "Bo")
    cy = await listener(harness, "cy@example.com", "Cy")
    playlist = await new_playlist(harness, ada, public=False)
    url = f"{PLAYLISTS}/{playlist['id']}"

    # Private: a 404 to everyone but its owner, as if it did not exist.
    for headers in (bo, {}):
        assert_problem(await harness.client.get(url, headers=headers), 404, "not_found")
        assert_problem(await harness.client.get(f"{url}/tracks", headers=headers), 404, "not_found")
    assert_problem(await add(harness, playlist["id"], bo, [track_id]), 404, "not_found")
    # Invites need a collaborative playlist.
    not_yet = await harness.client.post(f"{url}/invites", headers=ada)
    assert_problem(not_yet, 422, "validation_failed")
    await harness.client.patch(url, json={"collaborative": True}, headers=ada)
    assert_problem(await harness.client.post(f"{url}/invites", headers=bo), 404, "not_found")

    token = await invited(harness, playlist["id"], ada)
    accept = f"{PLAYLISTS}/invites/{token}/accept"
    assert_problem(await harness.client.post(accept), 401, "not_authenticated")
    joined = await harness.client.post(accept, headers=bo)
    assert joined.status_code == 200, joined.text
    assert (joined.json()["canEdit"], joined.json()["owner"]["name"]) == (True, "Ada")
    assert (await harness.client.post(accept, headers=bo)).status_code == 200  # still in
    assert_problem(await harness.client.post(accept, headers=cy), 410, "invite_gone")
    assert_problem(
        await harness.client.post(f"{PLAYLISTS}/invites/not-a-token/accept", headers=cy),
        404,
        "not_found",
    )

    # The collaborator adds, reorders and removes; is named on what they added.
    assert (await add(harness, playlist["id"], ada, [track_id])).status_code == 201
    assert (await add(harness, playlist["id"], bo, [track_id], position=0)).status_code == 201
    shown = await entries(harness, playlist["id"], bo)
    assert [entry["addedBy"]["name"] for entry in shown] == ["Bo", "Ada"]
    moved = await harness.client.put(
        f"{url}/tracks/order", json={"rangeStart": 0, "insertBefore": 2}, headers=bo
    )
    assert moved.status_code == 200, moved.text
    # ... but does not rename, change visibility, replace the cover, invite or delete.
    for answer in (
        await harness.client.patch(url, json={"name": "Mine now"}, headers=bo),
        await harness.client.patch(url, json={"public": True}, headers=bo),
        await harness.client.put(
            f"{url}/cover", content=b"x", headers={**bo, "Content-Type": "image/png"}
        ),
        await harness.client.post(f"{url}/invites", headers=bo),
        await harness.client.delete(url, headers=bo),
    ):
        assert_problem(answer, 403, "not_editable")
    # Once the owner makes it not collaborative, collaborators only read.
    await harness.client.patch(url, json={"collaborative": False}, headers=ada)
    assert_problem(await add(harness, playlist["id"], bo, [track_id]), 403, "not_editable")
    assert (await harness.client.get(url, headers=bo)).json()["canEdit"] is False
    await harness.client.patch(url, json={"collaborative": True}, headers=ada)

    listed = await harness.client.get(f"{url}/collaborators", headers=bo)
    assert [c["user"]["name"] for c in listed.json()] == ["Bo"]
    mine = await harness.client.get("/api/v1/users/me/playlists", headers=bo)
    assert [(p["name"], p["relation"]) for p in mine.json()["items"]] == [
        ("Night drives", "collaborator")
    ]

    # An invite expires after 7 days; the owner removes a collaborator.
    late = await invited(harness, playlist["id"], ada)
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        await session.execute(
            update(PlaylistInvite)
            .where(PlaylistInvite.accepted_at.is_(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_problem(
        await harness.client.post(f"{PLAYLISTS}/invites/{late}/accept", headers=cy),
        410,
        "invite_gone",
    )
    removed = await harness.client.delete(
        f"{url}/collaborators/{joined.json()['owner']['id']}", headers=bo
    )
    assert_problem(removed, 403, "not_editable")  # a collaborator removes only themselves
    me_bo = (await harness.client.get("/api/v1/auth/me", headers=bo)).json()["id"]
    assert (
        await harness.client.delete(f"{url}/collaborators/{me_bo}", headers=ada)
    ).status_code == 204
    assert_problem(await harness.client.get(url, headers=bo), 404, "not_found")


async def test_public_playlists_profiles_and_follows(harness: Harness) -> None:
    admin, _ = await published_ep(harness, tracks=2)
    track_id = (await all_pages(harness.client, "/api/v1/tracks"))[0]["id"]
    ada = await listener(harness, "ada@example.com", "Ada")
    bo = await listener(harness, "bo@example.com", "Bo")
    ada_id = (await harness.client.get("/api/v1/auth/me", headers=ada)).json()["id"]
    public = await new_playlist(harness, ada, name="Out loud")
    await new_playlist(harness, ada, name="Hidden", public=False)
    await add(harness, public["id"], ada, [track_id])
    url = f"{PLAYLISTS}/{public['id']}"

    # Anyone reads a public playlist and its entries, and the owner's public playlists.
    anonymous = await harness.client.get(url)
    assert anonymous.status_code == 200
    assert (anonymous.json()["owner"]["name"], anonymous.json()["canEdit"]) == ("Ada", False)
    assert anonymous.json()["followed"] is None
    assert [e["track"]["id"] for e in await entries(harness, public["id"])] == [track_id]
    theirs = await all_pages(harness.client, f"/api/v1/users/{ada_id}/playlists")
    assert [p["name"] for p in theirs] == ["Out loud"]
    # Others cannot change it.
    assert_problem(await add(harness, public["id"], bo, [track_id]), 403, "not_editable")
    assert_problem(await add(harness, public["id"], {}, [track_id]), 401, "not_authenticated")

    # Follows: idempotent, counted, in the follower's library and playlists.
    for _ in range(2):
        followed = await harness.client.put(f"{LIBRARY}/playlists/{public['id']}", headers=bo)
        assert followed.status_code == 204
    shown = (await harness.client.get(url, headers=bo)).json()
    assert (shown["followerCount"], shown["followed"]) == (1, True)
    [library] = (await harness.client.get(f"{LIBRARY}/playlists", headers=bo)).json()["items"]
    assert (library["available"], library["playlist"]["name"]) == (True, "Out loud")
    mine = (await harness.client.get("/api/v1/users/me/playlists", headers=bo)).json()["items"]
    assert [(p["name"], p["relation"]) for p in mine] == [("Out loud", "follower")]
    hidden = (await harness.client.get("/api/v1/users/me/playlists", headers=ada)).json()["items"]
    assert {(p["name"], p["relation"]) for p in hidden} == {
        ("Out loud", "owner"),
        ("Hidden", "owner"),
    }

    # A profile that is not public: the list is a 404, the owner is not named; the playlist
    # itself stays readable.
    choices = {
        "marketingEmails": False,
        "showListeningActivity": True,
        "publicProfile": False,
        "analytics": True,
    }
    private = await harness.client.put(
        "/api/v1/users/me/privacy-preferences", json=choices, headers=ada
    )
    assert private.status_code == 200, private.text
    assert_problem(await harness.client.get(f"/api/v1/users/{ada_id}/playlists"), 404, "not_found")
    assert (await harness.client.get(url)).json()["owner"] is None
    assert [e["addedBy"] for e in await entries(harness, public["id"])] == [None]
    assert (await harness.client.get(url, headers=ada)).json()["owner"]["name"] == "Ada"

    # Made private: unavailable in the follower's library, gone from their playlists.
    await harness.client.patch(url, json={"public": False}, headers=ada)
    [library] = (await harness.client.get(f"{LIBRARY}/playlists", headers=bo)).json()["items"]
    assert (library["available"], library["playlist"]) == (False, None)
    assert (await harness.client.get("/api/v1/users/me/playlists", headers=bo)).json()[
        "items"
    ] == []
    assert_problem(
        await harness.client.put(f"{LIBRARY}/playlists/{public['id']}", headers=bo),
        404,
        "not_found",
    )
    await harness.client.patch(url, json={"public": True}, headers=ada)

    # A taken-down track keeps its place, marked unavailable, and comes back on restore.
    taken = await harness.client.post(
        f"/api/v1/admin/tracks/{track_id}/take-down", json={"reason": "Claim"}, headers=admin
    )
    assert taken.status_code == 200, taken.text
    harness.client.cookies.clear()
    [entry] = await entries(harness, public["id"], ada)
    assert (entry["available"], entry["track"]) == (False, None)
    await harness.client.post(f"/api/v1/admin/tracks/{track_id}/restore", headers=admin)
    harness.client.cookies.clear()
    [entry] = await entries(harness, public["id"], ada)
    assert entry["track"]["id"] == track_id

    for _ in range(2):
        assert (
            await harness.client.delete(f"{LIBRARY}/playlists/{public['id']}", headers=bo)
        ).status_code == 204
    assert (await harness.client.get(url)).json()["followerCount"] == 0


async def test_export_and_deletion_cover_playlists(harness: Harness) -> None:
    await published_ep(harness, tracks=2)
    track_id = (await all_pages(harness.client, "/api/v1/tracks"))[0]["id"]
    ada = await listener(harness, "ada@example.com", "Ada")
    bo = await listener(harness, "bo@example.com", "Bo")
    shared = await new_playlist(harness, ada, name="Shared", collaborative=True)
    token = await invited(harness, shared["id"], ada)
    assert (
        await harness.client.post(f"{PLAYLISTS}/invites/{token}/accept", headers=bo)
    ).status_code == 200
    await add(harness, shared["id"], bo, [track_id, track_id])
    await add(harness, shared["id"], ada, [track_id])
    own = await new_playlist(harness, bo, name="Bo's own")
    await add(harness, own["id"], bo, [track_id])
    await harness.client.put(f"{LIBRARY}/playlists/{shared['id']}", headers=bo)
    await harness.client.put(f"{LIBRARY}/playlists/{own['id']}", headers=ada)

    exported = (await harness.client.get("/api/v1/users/me/export", headers=bo)).json()
    [owned] = exported["playlists"]["owned"]
    assert (owned["name"], [e["trackId"] for e in owned["entries"]]) == ("Bo's own", [track_id])
    assert [c["name"] for c in exported["playlists"]["collaborating"]] == ["Shared"]
    assert [like["id"] for like in exported["library"]["playlists"]] == [shared["id"]]

    deleted = await harness.client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=bo
    )
    assert deleted.status_code == 204, deleted.text
    # Bo's entries stay in Ada's playlist, without Bo; Bo's follow leaves the count; Bo's own
    # playlist is gone, with Ada's follow of it.
    shown = await entries(harness, shared["id"], ada)
    assert [entry["addedBy"] and entry["addedBy"]["name"] for entry in shown] == [None, None, "Ada"]
    playlist: dict[str, Any] = (await harness.client.get(f"{PLAYLISTS}/{shared['id']}")).json()
    assert playlist["followerCount"] == 0
    assert_problem(await harness.client.get(f"{PLAYLISTS}/{own['id']}"), 404, "not_found")
    assert (await harness.client.get(f"{LIBRARY}/playlists", headers=ada)).json()["items"] == []
    assert (
        await harness.client.get(f"{PLAYLISTS}/{shared['id']}/collaborators", headers=ada)
    ).json() == []
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        used = await session.scalar(
            select(func.count())
            .select_from(PlaylistInvite)
            .where(PlaylistInvite.accepted_by.is_not(None))
        )
    assert used == 0


async def test_an_artists_deletion_takes_their_tracks_out_of_playlists(harness: Harness) -> None:
    """An artist deletes their account, and their tracks with it: in a listener's playlist
    their entries go as removals would. The others close up at positions 0..n-1, the count
    follows, and the snapshot changes, so a collaborator's write against the old order is
    refused; the playlist then takes new entries anywhere."""
    admin, _ = await published_ep(harness, tracks=2)
    leaving = [track["id"] for track in await all_pages(harness.client, "/api/v1/tracks")]
    other = await approved_artist(harness, "other@example.com", admin)
    single = await submit(harness, other)
    assert (await approve(harness, single.json()["id"], admin)).status_code == 200
    harness.client.cookies.clear()
    [staying] = [
        track["id"]
        for track in await all_pages(harness.client, "/api/v1/tracks")
        if track["id"] not in leaving
    ]
    ada = await listener(harness, "ada@example.com", "Ada")
    playlist = await new_playlist(harness, ada, collaborative=True)
    url = f"{PLAYLISTS}/{playlist['id']}"
    order = [staying, leaving[0], staying, leaving[1], staying]
    assert (await add(harness, playlist["id"], ada, order)).status_code == 201
    before = (await harness.client.get(url, headers=ada)).json()

    artist = bearer((await login(harness, "artist@example.com")).json())
    deleted = await harness.client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=artist
    )
    assert deleted.status_code == 204, deleted.text

    shown = await entries(harness, playlist["id"], ada)  # positions 0..n-1, checked there
    assert [entry["track"]["id"] for entry in shown] == [staying] * 3
    after = (await harness.client.get(url, headers=ada)).json()
    assert after["trackCount"] == 3
    assert after["snapshotId"] != before["snapshotId"]
    stale = await harness.client.put(
        f"{url}/tracks/order",
        json={"rangeStart": 0, "rangeLength": 1, "insertBefore": 3},
        headers={**ada, "If-Match": f'"{before["snapshotId"]}"'},
    )
    assert_problem(stale, 412, "playlist_changed")
    for position in (3, 2, 0):
        added = await add(harness, playlist["id"], ada, [staying], position=position)
        assert added.status_code == 201, added.text
    assert len(await entries(harness, playlist["id"], ada)) == 6
