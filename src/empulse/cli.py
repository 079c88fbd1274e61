"""The `empulse` command: serve, worker, migrate, check-config, create-admin, demo-data, keys,
version."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated
from urllib.parse import parse_qs, urlsplit

import typer

from empulse import __version__
from empulse.config import Settings, Severity, check_settings, load_settings

if TYPE_CHECKING:
    from empulse.artists.keys import RotationReport

# Markdown: a docstring's paragraphs are wrapped to the terminal, not broken where the source is.
app = typer.Typer(
    help="EmPulse backend.", no_args_is_help=True, add_completion=False, rich_markup_mode="markdown"
)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(envvar="EMPULSE_HOST", help="Address to bind.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="EMPULSE_PORT", help="Port to bind.")] = 8000,
    workers: Annotated[
        int, typer.Option(envvar="EMPULSE_WORKERS", min=1, help="Worker processes.")
    ] = 1,
    shutdown_timeout: Annotated[
        int,
        typer.Option(envvar="EMPULSE_SHUTDOWN_TIMEOUT", help="Seconds to let requests finish."),
    ] = 30,
) -> None:
    """Start the HTTP server (applies pending migrations first outside production)."""
    from empulse import server

    server.run(
        load_settings(), host=host, port=port, workers=workers, shutdown_timeout=shutdown_timeout
    )


@app.command()
def worker() -> None:
    """Run background jobs (emails, sweeps) until SIGTERM.

    Set EMPULSE_JOBS_IN_PROCESS=false on the API processes when workers run the jobs.
    """
    from empulse.core.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    import signal

    from empulse.account_data import ACCOUNT_DATA
    from empulse.config import ensure_safe
    from empulse.core.migrations import warn_if_unmaintained
    from empulse.services import build_services
    from empulse.tasks import JOB_KINDS

    ensure_safe(settings)
    await _ensure_migrated(settings)
    services = build_services(settings, JOB_KINDS, ACCOUNT_DATA)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await warn_if_unmaintained(services.engine)
        # The job in hand finishes before the loop sees `stop`.
        await services.job_runner.run(stop)
    finally:
        await services.aclose()


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from empulse.core.migrations import upgrade_to_head

    settings = load_settings()
    upgrade_to_head(settings)
    typer.echo(f"database is up to date ({settings.redacted_database_url()})")


@app.command()
def outbox(
    limit: Annotated[int, typer.Option(min=1, help="How many of the newest emails.")] = 5,
) -> None:
    """List the newest emails of the local outbox (embedded mode), with their links, and the
    API call each link stands for: verify an address or reset a password without a web app."""
    from empulse.auth.service import CHANGE_EMAIL_PATH, RESET_PATH, VERIFY_PATH
    from empulse.infra.email import read_outbox

    settings = load_settings()
    if settings.smtp is not None:
        typer.echo("mail goes over SMTP here (SMTP_HOST is set): there is no local outbox")
        raise typer.Exit(1)
    messages = read_outbox(settings.outbox_dir, limit)
    if not messages:
        typer.echo(f"no emails in {settings.outbox_dir}")
        return
    calls = {
        VERIFY_PATH: 'POST /api/v1/auth/verify {{"token": "{token}"}}',
        RESET_PATH: 'POST /api/v1/auth/reset-password {{"token": "{token}", "password": "…"}}',
        CHANGE_EMAIL_PATH: 'POST /api/v1/auth/confirm-email {{"token": "{token}"}}',
    }
    for message in messages:
        typer.echo(f"{message.sent_at}  to {message.to}\n  {message.subject}")
        for link in message.links:
            typer.echo(f"  {link}")
            parts = urlsplit(link)
            token = parse_qs(parts.query).get("token", [None])[0]
            call = calls.get(parts.path)
            if token and call:
                typer.echo(f"    = {call.format(token=token)}")
        typer.echo("")


@app.command("check-config")
def check_config() -> None:
    """Say whether the configuration is complete and safe for its mode; exit 1 if not."""
    settings = load_settings()
    checks = check_settings(settings)
    typer.echo(f"mode: {settings.env.value}")
    for check in checks:
        typer.echo(f"{check.severity.value:8} {check.name}: {check.detail}")
    if any(check.severity is Severity.ERROR for check in checks):
        raise typer.Exit(1)


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The admin's email address.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Display name for a new account.")] = None,
) -> None:
    """Create an admin account, or promote the existing user with this email."""
    from empulse.core.emails import InvalidEmailError, typed_address
    from empulse.core.passwords import WeakPasswordError

    settings = load_settings()
    try:
        normalised = typed_address(email)
    except InvalidEmailError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not asyncio.run(_user_exists(settings, normalised)):
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    try:
        created = asyncio.run(_create_admin(settings, normalised, password, name))
    except (WeakPasswordError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{'created' if created else 'promoted'} admin {normalised}")


async def _ensure_migrated(settings: Settings) -> None:
    from empulse.core.db import create_engine
    from empulse.core.migrations import pending, upgrade_to_head

    engine = create_engine(settings)
    try:
        if not await pending(settings, engine):
            return
    finally:
        await engine.dispose()
    if settings.is_production:
        typer.echo("error: the database has pending migrations; run `empulse migrate`", err=True)
        raise typer.Exit(1)
    await asyncio.to_thread(upgrade_to_head, settings)


async def _user_exists(settings: Settings, email: str) -> bool:
    from empulse.accounts import repository
    from empulse.core.db import create_engine, create_sessionmaker

    await _ensure_migrated(settings)
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            return await repository.get_by_email(session, email) is not None
    finally:
        await engine.dispose()


async def _create_admin(
    settings: Settings, email: str, password: str | None, name: str | None
) -> bool:
    from empulse.core.db import create_engine, create_sessionmaker, session_scope
    from empulse.users.service import create_or_promote_admin

    await _ensure_migrated(settings)
    engine = create_engine(settings)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            result = await create_or_promote_admin(
                session, email=email, password=password, name=name
            )
        return result.created
    finally:
        await engine.dispose()


@app.command("demo-data")
def demo_data(
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the accounts' password from stdin.")
    ] = False,
) -> None:
    """Load demo accounts (an admin, a listener, three artists) and their published releases.

    Made through the API itself, so every rule applies. Refused in production, and when the
    demo accounts exist.
    """
    import secrets

    from empulse import demo
    from empulse.core.logging import configure_logging
    from empulse.core.passwords import WeakPasswordError

    settings = load_settings()
    if settings.is_production:
        typer.echo("error: demo data is not loaded in production", err=True)
        raise typer.Exit(2)
    configure_logging("WARNING")
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else secrets.token_urlsafe(12)
    try:
        asyncio.run(_ensure_migrated(settings))
        loaded = asyncio.run(demo.load(settings, password))
    except demo.DemoDataExists as exc:
        typer.echo(f"error: demo data is already loaded ({exc})", err=True)
        raise typer.Exit(1) from exc
    except (WeakPasswordError, demo.DemoStepFailed) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"published {loaded.releases} releases ({loaded.tracks} tracks) by {loaded.artists} artists"
    )
    for email in loaded.accounts:
        typer.echo(f"account {email}")
    if not password_stdin:
        typer.echo(f"password (every account): {password}")


keys = typer.Typer(
    help="Encryption keys for data at rest (W-9s): generate, status, rotate.",
    no_args_is_help=True,
)
app.add_typer(keys, name="keys")


@keys.command("generate")
def keys_generate() -> None:
    """Print a new random key (64 hex characters) for ENCRYPTION_KEY."""
    import secrets

    from empulse.core.crypto import key_id

    key = secrets.token_hex(32)
    typer.echo(key)
    typer.echo(f"key id {key_id(key)}", err=True)


@keys.command("status")
def keys_status() -> None:
    """Show the configured keys and how many W-9s and app passwords each one encrypts."""
    settings = load_settings()
    usage, known = asyncio.run(_key_usage(settings))
    typer.echo(f"current key:   {known[0]}")
    typer.echo(f"older keys:    {', '.join(known[1:]) or 'none'}")
    unknown = False
    for what, counts in usage.items():
        for key, count in sorted(counts.items(), key=lambda item: item[0] not in known):
            role = "current" if key == known[0] else "older" if key in known else "UNKNOWN"
            typer.echo(f"  {key}  {role:8} {count} {what}")
            unknown = unknown or key not in known
    if unknown:
        typer.echo("error: some rows are under a key that is not configured", err=True)
        raise typer.Exit(1)


@keys.command("rotate")
def keys_rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Rows re-encrypted per transaction.")
    ] = 100,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many rows (rotate in slices).")
    ] = None,
) -> None:
    """Re-encrypt every W-9 and every app password under ENCRYPTION_KEY.

    The old key must be in ENCRYPTION_KEYS_PREVIOUS. Each batch commits, so an interrupted run
    can simply be started again. Exits 1 if any row could not be decrypted.
    """
    from empulse.core.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    reports = asyncio.run(_rotate(settings, batch_size, limit))
    for report in reports:
        typer.echo(
            f"{report.what}: rotated {report.rotated}, failed {len(report.failed)}; "
            f"now {report.current} under key {report.key_id}, {report.remaining} under older keys"
        )
        for failure in report.failed:
            typer.echo(
                f"error: {report.what} row {failure.row_id} (key {failure.key_id}): "
                f"{failure.reason}",
                err=True,
            )
    if any(report.failed for report in reports):
        raise typer.Exit(1)


async def _key_usage(settings: Settings) -> tuple[dict[str, dict[str, int]], list[str]]:
    from empulse.artists.keys import W9S, keys_in_use
    from empulse.core.db import create_engine, create_sessionmaker
    from empulse.services import w9_cipher
    from empulse.subsonic.keys import APP_PASSWORDS

    await _ensure_migrated(settings)
    engine = create_engine(settings)
    try:
        sessionmaker = create_sessionmaker(engine)
        usage = {
            "W-9(s)": await keys_in_use(sessionmaker, W9S),
            "app password(s)": await keys_in_use(sessionmaker, APP_PASSWORDS),
        }
    finally:
        await engine.dispose()
    return usage, w9_cipher(settings).known_key_ids


async def _rotate(settings: Settings, batch_size: int, limit: int | None) -> list[RotationReport]:
    from empulse.artists.keys import W9S, rotate
    from empulse.core.db import create_engine, create_sessionmaker
    from empulse.services import field_cipher, w9_cipher
    from empulse.subsonic.keys import APP_PASSWORDS

    def progress(report: RotationReport) -> None:
        typer.echo(
            f"... {report.what}: {report.rotated} rotated, {len(report.failed)} failed", err=True
        )

    await _ensure_migrated(settings)
    engine = create_engine(settings)
    try:
        sessionmaker = create_sessionmaker(engine)
        w9 = await rotate(
            sessionmaker,
            w9_cipher(settings),
            W9S,
            batch_size=batch_size,
            limit=limit,
            progress=progress,
        )
        left = None if limit is None else limit - w9.rotated - len(w9.failed)
        if left is not None and left <= 0:
            return [w9]
        passwords = await rotate(
            sessionmaker,
            field_cipher(settings, "app-password"),
            APP_PASSWORDS,
            batch_size=batch_size,
            limit=left,
            progress=progress,
        )
        return [w9, passwords]
    finally:
        await engine.dispose()


@app.command("media-backfill")
def media_backfill() -> None:
    """Queue the media pipeline for every uploaded track that has none.

    Tracks uploaded before the pipeline existed have no renditions, loudness or waveform (they
    stream as uploaded). The job runners (`empulse worker`, or the API's own) process them.
    """
    settings = load_settings()
    typer.echo(f"queued {asyncio.run(_media_backfill(settings))} tracks")


async def _media_backfill(settings: Settings) -> int:
    from empulse.core.db import create_engine, create_sessionmaker
    from empulse.media.service import queue_unprocessed

    await _ensure_migrated(settings)
    engine = create_engine(settings)
    try:
        return await queue_unprocessed(create_sessionmaker(engine))
    finally:
        await engine.dispose()


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
