"""An artist's own data: the export carries their application and releases; deleting the
account removes their releases and, after the commit, every file they stored."""

from __future__ import annotations

from sqlalchemy import func, select

from empulse.core.db import session_scope
from empulse.models import Album, MediaObject, Submission, Track
from empulse.services import Services
from tests.artists.helpers import APPLICATION, admin_headers, approved_artist
from tests.auth.helpers import PASSWORD, deliver
from tests.conftest import Harness
from tests.submissions.helpers import approve, ep_files, ep_payload, object_counts, submit
from tests.support import media


async def _published_artist(harness: Harness) -> dict[str, str]:
    admin = await admin_headers(harness)
    artist = await approved_artist(harness, "artist@example.com", admin)
    created = await submit(harness, artist, ep_payload(2), ep_files(2))
    assert created.status_code == 201, created.text
    approved = await approve(harness, created.json()["id"], admin)
    assert approved.status_code == 200, approved.text
    return artist


async def test_the_export_carries_the_application_and_releases(media_harness: Harness) -> None:
    harness = media_harness
    artist = await _published_artist(harness)
    link = {"url": "https://lanterns.example.com", "label": "Website"}
    edited = await harness.client.patch(
        "/api/v1/artists/me", json={"bio": "From Leeds.", "links": [link]}, headers=artist
    )
    assert edited.status_code == 200, edited.text
    response = await harness.client.get("/api/v1/users/me/export", headers=artist)
    assert response.status_code == 200
    assert "123456789" not in response.text  # the tax id only masked
    document = response.json()
    [application] = document["artistApplications"]
    assert application["taxId"] == "***-**-6789"
    assert application["status"] == "approved"
    # The form as the applicant filled it in, beyond what the status page shows.
    assert application["contactEmail"] == "contact@example.com"
    assert application["documentsSigned"] == APPLICATION["documentsSigned"]
    assert application["proRegistration"] == APPLICATION["proRegistration"]
    assert application["digitalSignature"] == "Ada Lovelace"
    profile = document["artistProfile"]
    assert profile["name"] == "The Lanterns"
    assert profile["selectedMediums"] == application["selectedMediums"]
    assert (profile["bio"], profile["links"]) == ("From Leeds.", [link])
    [release] = document["submissions"]
    assert release["title"] == "Lanterns EP"
    assert release["payload"]["releaseType"] == "ep"
    assert len(release["files"]) == 5 + 8  # two tracks, three cover sizes, four renditions each
    assert all(file["url"] for file in release["files"])


async def test_deleting_an_artist_account_removes_every_file_of_theirs(
    media_harness: Harness,
) -> None:
    """PRODUCT.md section 1: deleting the account deletes its private files (here: audio, the
    cover sizes, and the public copies made when the release was published)."""
    harness = media_harness
    artist = await _published_artist(harness)
    image = await harness.client.put(
        "/api/v1/artists/me/image",
        content=media.cover_png(),
        headers={**artist, "Content-Type": "image/png"},
    )
    assert image.status_code == 200, image.text
    # Two tracks and their four renditions each, three private cover sizes, their public
    # copies, the artist image's sizes.
    assert (await object_counts(harness))[1] == 2 + 8 + 3 + 3 + 3

    response = await harness.client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=artist
    )
    assert response.status_code == 204, response.text
    await deliver(harness)
    assert await object_counts(harness) == (0, 0)
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        for model in (Submission, MediaObject, Album, Track):
            assert await session.scalar(select(func.count()).select_from(model)) == 0
