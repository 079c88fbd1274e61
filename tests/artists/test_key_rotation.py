"""`empulse keys rotate`: every W-9 and app password re-encrypted under the newest key, in
resumable slices."""

from __future__ import annotations

import asyncio
import os
import secrets as random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from empulse.core.crypto import key_id
from empulse.core.db import session_scope
from empulse.models import ArtistApplication
from empulse.services import Services
from tests.artists.helpers import admin_headers, applicant
from tests.auth.helpers import deliver, outbox, register
from tests.conftest import Backend, Harness
from tests.subsonic.helpers import ok, player
from tests.support import secrets

OLD_KEY = random.token_hex(32)
NEW_KEY = random.token_hex(32)
secrets.remember(OLD_KEY, NEW_KEY)


def empulse(harness: Harness, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it, against the harness's database."""
    settings = harness.settings
    environment = {
        **os.environ,
        "EMPULSE_ENV": "test",
        "EMPULSE_DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.database_url if "postgresql" in settings.database_url else "",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "empulse.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


async def _key_ids(harness: Harness) -> list[str]:
    services: Services = harness.app.state.services
    async with services.sessionmaker() as session:
        return list(await session.scalars(select(ArtistApplication.w9_key_id)))


async def test_rotation_round_trip_in_slices(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """Applications (and app passwords) encrypted under the old key end up under the new one, a
    slice at a time (an interrupted run keeps what it committed), and remain readable with the
    new key alone."""
    # Four sign-ups and sign-ins from one address: more than the limits allow by default.
    before: Harness = await make_client(
        backend, ENCRYPTION_KEY=OLD_KEY, RATE_LIMITS="register=10/hour,login=10/minute"
    )
    for n in range(3):
        await applicant(before, f"artist{n}@example.com")
    me = await player(before)
    assert await _key_ids(before) == [key_id(OLD_KEY)] * 3
    rotating = {"ENCRYPTION_KEY": NEW_KEY, "ENCRYPTION_KEYS_PREVIOUS": OLD_KEY}

    first = empulse(before, "keys", "rotate", "--batch-size", "1", "--limit", "2", **rotating)
    assert first.returncode == 0, first.stderr
    assert (
        f"rotated 2, failed 0; now 2 under key {key_id(NEW_KEY)}, 1 under older keys"
        in first.stdout
    )

    status = empulse(before, "keys", "status", **rotating)
    assert status.returncode == 0, status.stderr
    assert f"{key_id(NEW_KEY)}  current  2 W-9(s)" in status.stdout
    assert f"{key_id(OLD_KEY)}  older    1 W-9(s)" in status.stdout

    rest = empulse(before, "keys", "rotate", **rotating)
    assert rest.returncode == 0, rest.stderr
    assert "W-9s: rotated 1, failed 0; now 3 under key" in rest.stdout
    assert (
        f"app passwords: rotated 1, failed 0; now 1 under key {key_id(NEW_KEY)}, 0 under older"
        in rest.stdout
    )
    assert sorted(await _key_ids(before)) == [key_id(NEW_KEY)] * 3
    for output in (first, status, rest):
        assert OLD_KEY not in output.stdout + output.stderr
        assert NEW_KEY not in output.stdout + output.stderr
        assert "123456789" not in output.stdout + output.stderr

    # The old key can now be retired: the new key alone opens every W-9 and app password.
    after: Harness = await make_client(backend, ENCRYPTION_KEY=NEW_KEY)
    await ok(after, "ping", me)
    admin = await admin_headers(after)
    listing = await after.client.get("/api/v1/admin/applications", headers=admin)
    ids = [item["id"] for item in listing.json()["items"]]
    assert len(ids) == 3
    for application_id in ids:
        response = await after.client.get(
            f"/api/v1/admin/applications/{application_id}/w9", headers=admin
        )
        assert response.status_code == 200, response.text
        assert response.json()["taxId"] == "123456789"

    # And the old key alone opens none of them: a clear error, not a crash.
    stale: Harness = await make_client(backend, ENCRYPTION_KEY=OLD_KEY)
    refused = await stale.client.get(
        f"/api/v1/admin/applications/{ids[0]}/w9", headers=await admin_headers(stale)
    )
    assert refused.status_code == 500
    assert refused.json()["code"] == "w9_unreadable"


async def test_rotation_reports_what_it_cannot_decrypt_and_rotates_the_rest(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded, ENCRYPTION_KEY=OLD_KEY)
    await applicant(harness, "good@example.com")
    await applicant(harness, "damaged@example.com")
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        damaged = (await session.scalars(select(ArtistApplication).limit(1))).one()
        blob = bytearray(damaged.w9_ciphertext)
        blob[-1] ^= 0x01
        await session.execute(
            update(ArtistApplication)
            .where(ArtistApplication.id == damaged.id)
            .values(w9_ciphertext=bytes(blob))
        )

    result = empulse(
        harness, "keys", "rotate", ENCRYPTION_KEY=NEW_KEY, ENCRYPTION_KEYS_PREVIOUS=OLD_KEY
    )
    assert result.returncode == 1
    assert "rotated 1, failed 1; now 1 under key" in result.stdout
    assert f"row {damaged.id} (key {key_id(OLD_KEY)})" in result.stderr

    # Without the old key configured the status names the key nobody holds.
    status = empulse(harness, "keys", "status", ENCRYPTION_KEY=NEW_KEY)
    assert status.returncode == 1
    assert f"{key_id(OLD_KEY)}  UNKNOWN  1 W-9(s)" in status.stdout


async def test_queued_emails_survive_a_key_rotation(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """Email jobs are sealed with the encryption key; one queued before the rotation is still
    delivered while the old key is kept in ENCRYPTION_KEYS_PREVIOUS."""
    before: Harness = await make_client(embedded, ENCRYPTION_KEY=OLD_KEY)
    assert (await register(before, "queued@example.com")).status_code == 202
    after: Harness = await make_client(
        embedded, ENCRYPTION_KEY=NEW_KEY, ENCRYPTION_KEYS_PREVIOUS=OLD_KEY
    )
    await deliver(after)
    [message] = outbox(after)
    assert message["To"] == "queued@example.com"


def test_generate_prints_a_fresh_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "empulse.cli", "keys", "generate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    key = result.stdout.strip()
    assert len(key) == 64
    int(key, 16)
    assert f"key id {key_id(key)}" in result.stderr


async def test_two_rotations_at_once_share_the_rows(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    """On PostgreSQL two runs skip each other's locked rows: every W-9 is rotated once."""
    harness: Harness = await make_client(backend_services, ENCRYPTION_KEY=OLD_KEY)
    for n in range(3):  # the registration limit: 3 an hour from one address
        await applicant(harness, f"artist{n}@example.com")
    settings = harness.settings
    env = {
        **os.environ,
        "EMPULSE_ENV": "test",
        "EMPULSE_DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.database_url,
        "ENCRYPTION_KEY": NEW_KEY,
        "ENCRYPTION_KEYS_PREVIOUS": OLD_KEY,
    }

    async def rotate() -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "empulse.cli", "keys", "rotate", "--batch-size", "1"),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        return process.returncode or 0, out.decode(), err.decode()

    results = await asyncio.gather(rotate(), rotate())
    assert [code for code, _, _ in results] == [0, 0], results
    rotated = [int(out.split("rotated ", 1)[1].split(",", 1)[0]) for _, out, _ in results]
    assert sum(rotated) == 3
    assert sorted(await _key_ids(harness)) == [key_id(NEW_KEY)] * 3
