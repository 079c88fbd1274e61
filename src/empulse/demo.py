"""Demo data for a fresh installation (`empulse demo-data`): an admin, a listener, and an artist
whose application was approved and whose EP (three generated tones and a cover) is published.

Everything after the accounts goes through the API itself, in process, so the demo data meets
every rule a real client meets: the W-9 is encrypted, the audio decoded, the cover re-encoded,
the release published by an admin who is not its artist.
"""

from __future__ import annotations

import io
import math
import struct
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
from empulse.models import User
from empulse.services import Services
from empulse.submissions.repository import storage_keys_of_user
from empulse.submissions.schemas import WARRANTIES_GIVEN
from empulse.submissions.upload import enqueue_object_deletion
from empulse.users.service import create_or_promote_admin, create_verified_user

ADMIN = "admin@demo.example.com"
ARTIST = "artist@demo.example.com"
LISTENER = "listener@demo.example.com"
ALBUM = "First Light"
TRACKS = [("Dawn", 261.63), ("Noon", 329.63), ("Dusk", 392.0)]  # C4, E4, G4

_APPLICATION: dict[str, Any] = {
    "selectedMediums": ["Music"],
    "accountInfo": {"email": ARTIST, "artistName": "The Demo Tones"},
    "documentsSigned": ["artist_agreement", "terms_of_service", "privacy_policy"],
    "w9Data": {
        "taxId": "12-3456789",
        "taxClassification": "llc",
        "businessName": "Demo Tones LLC",
        "address": {
            "street": "1 Example Way",
            "city": "Springfield",
            "state": "IL",
            "zip": "62701",
        },
        "completed": True,
    },
    "digitalSignature": "Demo Artist",
}
_RELEASE: dict[str, Any] = {
    "releaseType": "ep",
    "metadata": {"albumName": ALBUM, "genre": "Electronic", "subgenre": "Ambient"},
    "tracks": [{"title": title} for title, _ in TRACKS],
    "artistMoodTags": {"mood": "calm", "energy": "low"},
    "composers": ["Demo Artist"],
    "lyricists": [],
    "publishers": [],
    "rightsMetadata": {"copyrightOwner": "Demo Tones LLC", "copyrightYear": "2026"},
    "legalWarranties": WARRANTIES_GIVEN,
}


class DemoDataExists(Exception):
    """The demo accounts are already there."""


class DemoStepFailed(Exception):
    """The API refused a step; the message carries its problem document."""


@dataclass(frozen=True, slots=True)
class DemoData:
    accounts: tuple[str, ...]
    album: str
    tracks: int


def tone_wav(frequency: float, seconds: float = 8.0, rate: int = 44_100) -> bytes:
    """A mono 16-bit sine with a short fade in and out."""
    frames = int(rate * seconds)
    fade = rate // 10
    samples = bytearray()
    for n in range(frames):
        envelope = min(1.0, n / fade, (frames - n) / fade)
        samples += struct.pack(
            "<h", int(9_000 * envelope * math.sin(2 * math.pi * frequency * n / rate))
        )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(samples))
    return buffer.getvalue()


def cover_jpeg(side: int = 1400) -> bytes:
    """A diagonal gradient, dusk colours."""
    gradient = Image.linear_gradient("L").resize((side, side)).rotate(45, expand=False)
    image = Image.merge(
        "RGB", (gradient, gradient.point(lambda v: v // 2), Image.new("L", (side, side), 120))
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def load(settings: Settings, password: str) -> DemoData:
    """Create the accounts, then publish through the API; if a step fails, the accounts made
    by this run are removed again (with anything stored for them), so it can simply be rerun."""
    app = create_app(settings, configure_logs=False)
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
    return DemoData((ADMIN, ARTIST, LISTENER), ALBUM, len(TRACKS))


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
        for email, name in ((ARTIST, "Demo Artist"), (LISTENER, "Demo Listener")):
            user = await create_verified_user(session, email=email, password=password, name=name)
            created.append(user.id)
    return created


async def _publish(app: FastAPI, password: str) -> None:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
    async with httpx.AsyncClient(transport=transport, base_url="https://localhost") as api:
        artist = await _sign_in(api, ARTIST, password)
        admin = await _sign_in(api, ADMIN, password)
        application = await _call(
            api.post("/api/v1/artist/applications", json=_APPLICATION, headers=artist)
        )
        await _call(
            api.post(f"/api/v1/admin/applications/{application['id']}/approve", headers=admin)
        )
        files = [
            (f"track_{n}_file", (f"{title.lower()}.wav", tone_wav(pitch), "audio/wav"))
            for n, (title, pitch) in enumerate(TRACKS)
        ]
        files.append(("coverArtFile", ("cover.jpg", cover_jpeg(), "image/jpeg")))
        submission = await _call(
            api.post(
                "/api/v1/submissions",
                data={"payload": orjson.dumps(_RELEASE).decode()},
                files=files,
                headers=artist,
            )
        )
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
