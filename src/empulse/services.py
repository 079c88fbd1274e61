"""Process-wide resources built at start-up, and the FastAPI dependencies that hand them out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from limits import RateLimitItem
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from empulse.accounts.data import AccountData
from empulse.config import Settings
from empulse.core.coalesce import Coalescer
from empulse.core.crypto import FieldCipher, Sealer, derive_key
from empulse.core.db import create_engine, create_sessionmaker, session_scope
from empulse.infra.email import Mailer, create_mailer
from empulse.infra.jobs import JobKinds, JobRunner
from empulse.infra.page_cache import PageCache
from empulse.infra.ratelimit import RateLimiter
from empulse.infra.session_cache import SessionCache
from empulse.infra.storage import Storage, create_storage
from empulse.web.caching import PUBLIC_MAX_AGE

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # Autocommit connections and sessions for requests that only read: no BEGIN/COMMIT round
    # trips. Hot single-statement reads take a connection (no ORM session to set up).
    read_engine: AsyncEngine
    read_sessionmaker: async_sessionmaker[AsyncSession]
    rate_limiter: RateLimiter
    rate_limit_items: dict[str, RateLimitItem]
    storage: Storage
    mailer: Mailer
    job_sealer: Sealer
    # W-9 forms at rest: current key encrypts, older keys (during a rotation) still decrypt.
    w9_cipher: FieldCipher
    # App passwords of the Subsonic API (read back to check its token authentication).
    app_password_cipher: FieldCipher
    jwt_secret: str
    csrf_key: bytes
    # Signs the stream URLs of local storage (streaming/service).
    stream_url_key: bytes
    session_cache: SessionCache
    # Rendered public pages of this process (catalog/responses.py, search/endpoints.py).
    page_cache: PageCache
    job_runner: JobRunner
    # Every domain's part of an account: the export shows it, a deletion takes it along.
    account_data: tuple[AccountData, ...]
    # Set when SIGTERM arrives: readiness answers 503 while in-flight requests finish.
    draining: bool = field(default=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _listener: asyncio.Task[None] | None = None
    _runner: asyncio.Task[None] | None = None
    _coalescers: dict[object, Coalescer[Any, Any]] = field(default_factory=dict)

    def coalescer(self, key: object, make: Callable[[], Coalescer[T, R]]) -> Coalescer[T, R]:
        """This process's coalescer for `key` (core/coalesce.py), made on first use: a domain's
        calls that go together (plays/service.py). Shut-down waits for the calls it holds."""
        coalescer = self._coalescers.get(key)
        if coalescer is None:
            coalescer = self._coalescers[key] = make()
        return coalescer

    def start_background(self, *, run_jobs: bool) -> None:
        """Start the session-revocation listener, and the job runner when jobs run here."""
        self._listener = asyncio.create_task(self.session_cache.listen(self._stop))
        if run_jobs:
            self._runner = asyncio.create_task(self.job_runner.run(self._stop))

    async def aclose(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.cancel()  # holds no work; waiting would only wait for its poll
        if self._runner is not None:
            # The job in hand finishes (bounded by its own timeout); then the loop ends.
            await asyncio.wait([self._runner], timeout=30)
            self._runner.cancel()
        for coalescer in self._coalescers.values():
            await coalescer.aclose()
        await self.session_cache.aclose()
        await self.rate_limiter.aclose()
        await self.engine.dispose()


def build_services(
    settings: Settings, job_kinds: JobKinds, account_data: tuple[AccountData, ...]
) -> Services:
    if settings.jwt_secret is None or settings.encryption_key is None:
        raise RuntimeError("secrets are missing; load settings with load_settings()")
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    # Reads run each statement on its own. PostgreSQL is told so (no BEGIN and COMMIT around
    # them); SQLite's driver already reads outside a transaction, and setting its isolation
    # level would cost two trips to its thread on every checkout.
    read_engine = (
        engine
        if settings.database_is_sqlite
        else engine.execution_options(isolation_level="AUTOCOMMIT")
    )
    encryption_key = settings.encryption_key.get_secret_value()
    jwt_secret = settings.jwt_secret.get_secret_value()
    services = Services(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        read_engine=read_engine,
        read_sessionmaker=create_sessionmaker(read_engine),
        rate_limiter=RateLimiter(
            redis_url=settings.redis_url,
            key_prefix=settings.redis_key_prefix,
            timeout=settings.redis_timeout,
            enabled=settings.rate_limits_enabled,
        ),
        rate_limit_items={
            name: RateLimiter.parse(limit) for name, limit in settings.rate_limits.items()
        },
        storage=create_storage(settings, signing_key=derive_key(encryption_key, "file-urls")),
        mailer=create_mailer(settings),
        job_sealer=Sealer(
            derive_key(encryption_key, "jobs"),
            [
                derive_key(key.get_secret_value(), "jobs")
                for key in settings.encryption_keys_previous
            ],
        ),
        w9_cipher=w9_cipher(settings),
        app_password_cipher=field_cipher(settings, "app-password"),
        jwt_secret=jwt_secret,
        csrf_key=derive_key(jwt_secret.encode().hex(), "csrf"),
        stream_url_key=derive_key(encryption_key, "stream-urls"),
        session_cache=SessionCache(
            ttl_seconds=settings.session_cache_seconds,
            redis_url=settings.redis_url,
            key_prefix=settings.redis_key_prefix,
        ),
        # Kept no longer than a shared cache may keep a public answer anyway.
        page_cache=PageCache(settings.page_cache_mb * 2**20, ttl_seconds=PUBLIC_MAX_AGE),
        account_data=account_data,
        job_runner=JobRunner(
            sessionmaker,
            context=None,
            kinds=job_kinds,
            poll_interval=settings.jobs_poll_seconds,
            backoff_base=settings.jobs_backoff_seconds,
            keep_done=timedelta(days=settings.jobs_keep_done_days),
        ),
    )
    services.job_runner.context = services
    return services


def field_cipher(settings: Settings, purpose: str) -> FieldCipher:
    """Field encryption for one kind of data, under ENCRYPTION_KEY (and the older keys)."""
    if settings.encryption_key is None:
        raise RuntimeError("ENCRYPTION_KEY is missing; load settings with load_settings()")
    return FieldCipher(
        purpose,
        settings.encryption_key.get_secret_value(),
        [key.get_secret_value() for key in settings.encryption_keys_previous],
    )


def w9_cipher(settings: Settings) -> FieldCipher:
    return field_cipher(settings, "w9")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(get_services(request).sessionmaker) as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_services(request).read_sessionmaker() as session:
        yield session


# The commit runs when the endpoint function returns, before the response is sent (scope
# "function"), so a client never sees a success for a write that did not commit.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
# For endpoints that only read: each statement stands alone (no transaction to open or commit).
ReadSession = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def _services_dependency(request: Request) -> Services:
    # Async on purpose: FastAPI runs a plain function dependency in a worker thread, a thread
    # hop on every request for an attribute read.
    return get_services(request)


AppServices = Annotated[Services, Depends(_services_dependency)]
