"""The `empulse` command line, run as a user would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import distinct, func, select

from empulse import __version__
from empulse.accounts import repository
from empulse.auth import emails
from empulse.config import load_settings
from empulse.core.db import create_engine, create_sessionmaker
from empulse.core.passwords import verify_password
from empulse.infra.email import OutboxMailer
from empulse.models import Album, Track, TrackMood, User

STRONG_PASSWORD = "violet-harbor-quantum-91"


def empulse(
    data_dir: Path, *args: str, stdin: str | None = None, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EMPULSE_ENV": "test", "EMPULSE_DATA_DIR": str(data_dir), **extra_env}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "empulse.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def load_user(data_dir: Path, email: str) -> User | None:
    async def query() -> User | None:
        settings = load_settings(EMPULSE_ENV="test", EMPULSE_DATA_DIR=str(data_dir))
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                return await repository.get_by_email(session, email)
        finally:
            await engine.dispose()

    return asyncio.run(query())


def test_version(tmp_path: Path) -> None:
    result = empulse(tmp_path, "version")
    assert result.returncode == 0
    assert result.stdout.strip() == __version__


def test_create_admin_from_stdin_makes_a_verified_admin(tmp_path: Path) -> None:
    result = empulse(
        tmp_path,
        "create-admin",
        "--email",
        "Root@Example.COM",
        "--password-stdin",
        stdin=STRONG_PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert "created admin root@example.com" in result.stdout
    user = load_user(tmp_path, "root@example.com")
    assert user is not None
    assert user.role == "ADMIN"
    assert user.email_verified_at is not None
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, STRONG_PASSWORD)
    assert STRONG_PASSWORD not in result.stdout + result.stderr


def test_create_admin_promotes_an_existing_user(tmp_path: Path) -> None:
    assert (
        empulse(
            tmp_path,
            "create-admin",
            "--email",
            "a@example.com",
            "--password-stdin",
            stdin=STRONG_PASSWORD,
        ).returncode
        == 0
    )
    user = load_user(tmp_path, "a@example.com")
    assert user is not None
    first_hash = user.password_hash

    # An existing user: promoted, no password asked, the password left as it was.
    result = empulse(tmp_path, "create-admin", "--email", "A@example.com")
    assert result.returncode == 0, result.stderr
    assert "promoted admin a@example.com" in result.stdout
    again = load_user(tmp_path, "a@example.com")
    assert again is not None
    assert again.password_hash == first_hash


def test_create_admin_refuses_a_weak_password(tmp_path: Path) -> None:
    """ASVS 5.0 V6.2.4: common passwords are refused, even for the CLI."""
    result = empulse(
        tmp_path,
        "create-admin",
        "--email",
        "b@example.com",
        "--password-stdin",
        stdin="password123\n",
    )
    assert result.returncode == 2
    assert "error:" in result.stderr
    assert load_user(tmp_path, "b@example.com") is None


def test_create_admin_refuses_an_invalid_email(tmp_path: Path) -> None:
    result = empulse(
        tmp_path,
        "create-admin",
        "--email",
        "not-an-email",
        "--password-stdin",
        stdin=STRONG_PASSWORD,
    )
    assert result.returncode == 2
    assert "error:" in result.stderr


def test_check_config_exits_non_zero_for_unsafe_production(tmp_path: Path) -> None:
    env_result = subprocess.run(
        [sys.executable, "-m", "empulse.cli", "check-config"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "EMPULSE_ENV": "production",
            "EMPULSE_DATA_DIR": str(tmp_path),
            "JWT_SECRET": "changeme",
        },
        timeout=60,
        check=False,
    )
    assert env_result.returncode == 1
    assert "error    JWT_SECRET: shorter than 32 bytes" in env_result.stdout
    assert "error    ENCRYPTION_KEY: missing" in env_result.stdout
    assert "changeme" not in env_result.stdout


def test_check_config_passes_in_development(tmp_path: Path) -> None:
    result = empulse(tmp_path, "check-config")
    assert result.returncode == 0, result.stdout
    assert "mode: test" in result.stdout


def test_demo_data_that_fails_half_way_leaves_nothing_and_a_rerun_publishes_it_all(
    tmp_path: Path,
) -> None:
    # A cover limit the demo cover exceeds: the upload step is refused after the accounts, the
    # application and its approval exist.
    failed = empulse(
        tmp_path, "demo-data", "--password-stdin", stdin=STRONG_PASSWORD, MAX_COVER_BYTES="1024"
    )
    assert failed.returncode == 2
    assert "payload_too_large" in failed.stderr
    for email in ("admin@demo.example.com", "artist@demo.example.com"):
        assert load_user(tmp_path, email) is None
    files = tmp_path / "files"
    assert not files.exists() or not [p for p in files.rglob("*") if p.is_file()]

    result = empulse(tmp_path, "demo-data", "--password-stdin", stdin=STRONG_PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "published 5 releases (14 tracks) by 3 artists" in result.stdout
    assert '"event"' not in result.stdout  # no log lines mixed into the report
    assert STRONG_PASSWORD not in result.stdout

    async def catalog() -> tuple[set[str], set[str], int]:
        settings = load_settings(EMPULSE_ENV="test", EMPULSE_DATA_DIR=str(tmp_path))
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                kinds = set(await session.scalars(select(Album.release_type)))
                genres = set(await session.scalars(select(Track.genre)))
                moods = await session.scalar(select(func.count(distinct(TrackMood.mood))))
                return kinds, genres, int(moods or 0)
        finally:
            await engine.dispose()

    assert asyncio.run(catalog()) == ({"single", "ep", "lp"}, {"Electronic", "Jazz", "Folk"}, 6)
    for email in ("admin@demo.example.com", "artist@demo.example.com", "valley@demo.example.com"):
        user = load_user(tmp_path, email)
        assert user is not None
        assert verify_password(user.password_hash, STRONG_PASSWORD)

    again = empulse(tmp_path, "demo-data", "--password-stdin", stdin=STRONG_PASSWORD + "\n")
    assert again.returncode == 1
    assert "already loaded" in again.stderr


def test_demo_data_is_refused_in_production(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "empulse.cli", "demo-data"],
        capture_output=True,
        text=True,
        env={**os.environ, "EMPULSE_ENV": "production", "EMPULSE_DATA_DIR": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "not loaded in production" in result.stderr


def test_outbox_lists_the_newest_emails_with_their_links_decoded(tmp_path: Path) -> None:
    """Trying the service locally, a person verifies an address from the command line: the
    link (quoted-printable in the .eml file) is printed whole, with the API call it stands
    for."""
    settings = load_settings(EMPULSE_ENV="test", EMPULSE_DATA_DIR=str(tmp_path))
    token = "t0k3n-" + "x" * 80  # long enough to be folded in the raw message
    url = f"{settings.app_url}/verify-email?token={token}"
    mailer = OutboxMailer(settings.outbox_dir, settings.email_from)
    asyncio.run(mailer.send(emails.verify_address("straße@example.com", url)))

    raw = next(settings.outbox_dir.glob("*.eml")).read_text()
    assert url not in raw  # encoded on disk
    result = empulse(tmp_path, "outbox")
    assert result.returncode == 0, result.stderr
    assert "to straße@example.com" in result.stdout
    assert url in result.stdout
    assert f'POST /api/v1/auth/verify {{"token": "{token}"}}' in result.stdout


def test_outbox_with_nothing_sent_says_so(tmp_path: Path) -> None:
    result = empulse(tmp_path, "outbox")
    assert result.returncode == 0
    assert "no emails" in result.stdout
