"""Demo data for a fresh installation (`empulse demo-data`): an admin, a listener, and three
artists whose applications were approved and whose releases (singles, EPs and an LP across
genres and moods, generated tones with generated covers) are published.

Everything after the accounts goes through the API itself, in process, so the demo data meets
every rule a real client meets: the W-9 is encrypted, the audio decoded, the covers re-encoded,
each release published by an admin who is not its artist.
"""

from __future__ import annotations

import array
import functools
import io
import math
import sys
import uuid
import wave
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import delete

from empulse.accounts import repository as accounts
from empulse.app import create_app
from empulse.config import Settings
from empulse.core.db import session_scope
from empulse.media.service import MEDIA_PIPELINE
from empulse.models import User
from empulse.services import Services
from empulse.submissions.repository import storage_keys_of_user
from empulse.submissions.schemas import WARRANTIES_GIVEN
from empulse.submissions.upload import enqueue_object_deletion
from empulse.users.service import create_or_promote_admin, create_verified_user

ADMIN = "admin@demo.example.com"
LISTENER = "listener@demo.example.com"
# The first artist's account keeps the name it always had.
ARTIST = "artist@demo.example.com"


@dataclass(frozen=True, slots=True)
class DemoRelease:
    title: str
    release_type: str  # single, ep, lp
    genre: str
    subgenre: str
    moods: tuple[str, ...]  # the main one first
    tracks: tuple[tuple[str, float], ...]  # (title, pitch in Hz)
    colour: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class DemoArtist:
    email: str
    name: str
    bio: str
    releases: tuple[DemoRelease, ...]


_C_MAJOR = (261.63, 293.66, 329.63, 349.23, 392.0, 440.0, 493.88, 523.25)
ARTISTS = (
    DemoArtist(
        ARTIST,
        "The Demo Tones",
        "Pure tones, arranged with care.",
        (
            DemoRelease(
                "First Light", "ep", "Electronic", "Ambient", ("calm", "dreamy"),
                (("Dawn", 261.63), ("Noon", 329.63), ("Dusk", 392.0)), (255, 140, 60),
            ),
            DemoRelease(
                "Afterglow", "single", "Electronic", "Downtempo", ("dreamy",),
                (("Afterglow", 349.23),), (200, 80, 160),
            ),
        ),
    ),
    DemoArtist(
        "harbour@demo.example.com",
        "Harbour Lights Trio",
        "A late-night jazz trio that only plays in C major.",
        (
            DemoRelease(
                "Harbour Lights", "lp", "Jazz", "Nu jazz", ("late night", "mellow"),
                tuple(
                    (title, pitch)
                    for title, pitch in zip(
                        ("Pier", "Lantern", "Tide", "Fog", "Gull", "Anchor", "Home"),
                        _C_MAJOR,
                        strict=False,
                    )
                ),
                (40, 70, 140),
            ),
        ),
    ),
    DemoArtist(
        "valley@demo.example.com",
        "Echo Valley",
        "Folk songs without words.",
        (
            DemoRelease(
                "Mountain Song", "single", "Folk", "Indie folk", ("uplifting",),
                (("Mountain Song", 440.0),), (70, 150, 70),
            ),
            DemoRelease(
                "Riverbank", "ep", "Folk", "Acoustic", ("nostalgic", "calm"),
                (("Reeds", 293.66), ("Ferry", 392.0)), (120, 100, 60),
            ),
        ),
    ),
)  # fmt: skip


def _application(artist: DemoArtist) -> dict[str, Any]:
    return {
        "selectedMediums": ["Music"],
        "accountInfo": {"email": artist.email, "artistName": artist.name},
        "documentsSigned": ["artist_agreement", "terms_of_service", "privacy_policy"],
        "w9Data": {
            "taxId": "12-3456789",
            "taxClassification": "llc",
            "businessName": f"{artist.name} LLC",
            "address": {
                "street": "1 Example Way",
                "city": "Springfield",
                "state": "IL",
                "zip": "62701",
            },
            "completed": True,
        },
        "digitalSignature": artist.name,
    }


def _payload(artist: DemoArtist, release: DemoRelease) -> dict[str, Any]:
    metadata: dict[str, Any] = {"genre": release.genre, "subgenre": release.subgenre}
    if release.release_type == "single":
        metadata["trackName"] = release.title
    else:
        metadata["albumName"] = release.title
    return {
        "releaseType": release.release_type,
        "metadata": metadata,
        "tracks": []
        if release.release_type == "single"
        else [{"title": title} for title, _ in release.tracks],
        "artistMoodTags": {"mood": release.moods[0], "secondaryMoods": list(release.moods[1:])},
        "composers": [artist.name],
        "lyricists": [],
        "publishers": [],
        "rightsMetadata": {"copyrightOwner": f"{artist.name} LLC", "copyrightYear": "2026"},
        "legalWarranties": WARRANTIES_GIVEN,
    }


class DemoDataExists(Exception):
    """The demo accounts are already there."""


class DemoStepFailed(Exception):
    """The API refused a step; the message carries its problem document."""


@dataclass(frozen=True, slots=True)
class DemoData:
    accounts: tuple[str, ...]
    artists: int
    releases: int
    tracks: int


@functools.cache
def tone_wav(frequency: float, seconds: float = 2.0, rate: int = 44_100) -> bytes:
    """A mono 16-bit sine with a short fade in and out."""
    frames = int(rate * seconds)
    fade = rate // 10
    step = 2 * math.pi * frequency / rate
    samples = array.array(
        "h",
        (
            int(9_000 * min(1.0, n / fade, (frames - n) / fade) * math.sin(step * n))
            for n in range(frames)
        ),
    )
    if sys.byteorder == "big":
        samples.byteswap()  # WAV is little-endian
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def cover_jpeg(colour: tuple[int, int, int] = (255, 140, 60), side: int = 1400) -> bytes:
    """A diagonal gradient from dark to `colour`."""
    gradient = Image.linear_gradient("L").resize((side, side)).rotate(45, expand=False)
    image = Image.merge("RGB", tuple(gradient.point(lambda v, c=c: v * c // 255) for c in colour))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def load(settings: Settings, password: str) -> DemoData:
    """Create the accounts, then publish through the API; if a step fails, the accounts made
    by this run are removed again (with anything stored for them), so it can simply be rerun."""
    # This run runs the jobs it queues itself, in order (the media pipeline before each
    # approval), rather than beside a background runner.
    app = create_app(settings.model_copy(update={"jobs_in_process": False}), configure_logs=False)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        created = await _create_accounts(services, password)
        try:
            await _publish(app, password)
        except BaseException:
            await _remove(services, created)
            raise
        finally:
            # Decision emails or file deletions are queued; run them now, not at the next start.
            while await services.job_runner.run_due():
                pass
    releases = [release for artist in ARTISTS for release in artist.releases]
    return DemoData(
        (ADMIN, LISTENER, *(artist.email for artist in ARTISTS)),
        len(ARTISTS),
        len(releases),
        sum(len(release.tracks) for release in releases),
    )


async def _create_accounts(services: Services, password: str) -> list[uuid.UUID]:
    created: list[uuid.UUID] = []
    async with session_scope(services.sessionmaker) as session:
        if await accounts.get_by_email(session, ARTIST) is not None:
            raise DemoDataExists(f"{ARTIST} already exists")
        admin = await create_or_promote_admin(
            session, email=ADMIN, password=password, name="Demo Admin"
        )
        if admin.created:
            created.append(admin.user.id)
        people = [(artist.email, artist.name) for artist in ARTISTS]
        for email, name in [*people, (LISTENER, "Demo Listener")]:
            user = await create_verified_user(session, email=email, password=password, name=name)
            created.append(user.id)
    return created


async def _publish(app: FastAPI, password: str) -> None:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
    async with httpx.AsyncClient(transport=transport, base_url="https://localhost") as api:
        admin = await _sign_in(api, ADMIN, password)
        for artist in ARTISTS:
            await _publish_artist(api, app.state.services, admin, artist, password)


async def _publish_artist(
    api: httpx.AsyncClient,
    services: Services,
    admin: dict[str, str],
    artist: DemoArtist,
    password: str,
) -> None:
    headers = await _sign_in(api, artist.email, password)
    application = await _call(
        api.post("/api/v1/artist/applications", json=_application(artist), headers=headers)
    )
    await _call(api.post(f"/api/v1/admin/applications/{application['id']}/approve", headers=admin))
    await _call(api.patch("/api/v1/artists/me", json={"bio": artist.bio}, headers=headers))
    for release in artist.releases:
        files = [
            (
                "audioFile" if release.release_type == "single" else f"track_{n}_file",
                (f"track-{n + 1}.wav", tone_wav(pitch), "audio/wav"),
            )
            for n, (_, pitch) in enumerate(release.tracks)
        ]
        files.append(("coverArtFile", ("cover.jpg", cover_jpeg(release.colour), "image/jpeg")))
        submission = await _call(
            api.post(
                "/api/v1/submissions",
                data={"payload": orjson.dumps(_payload(artist, release)).decode()},
                files=files,
                headers=headers,
            )
        )
        # A release is publishable once the media pipeline has made its renditions.
        while await services.job_runner.run_due([MEDIA_PIPELINE]):
            pass
        await _call(
            api.post(f"/api/v1/admin/submissions/{submission['id']}/approve", headers=admin)
        )


async def _remove(services: Services, user_ids: list[uuid.UUID]) -> None:
    """Undo a run that failed half-way: the accounts it made, their rows and their files."""
    async with session_scope(services.sessionmaker) as session:
        for user_id in user_ids:
            enqueue_object_deletion(session, await storage_keys_of_user(session, user_id))
            await session.execute(delete(User).where(User.id == user_id))


async def _sign_in(api: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    body = await _call(api.post("/api/v1/auth/login", json={"email": email, "password": password}))
    return {"Authorization": f"Bearer {body['accessToken']}"}


async def _call(request: Any) -> dict[str, Any]:
    response: httpx.Response = await request
    if response.status_code >= 400:
        raise DemoStepFailed(
            f"{response.request.method} {response.request.url.path}: {response.text}"
        )
    body: dict[str, Any] = response.json()
    return body
