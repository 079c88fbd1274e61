"""Database kit: the declarative base, engine and session factories, the unit of work.

PostgreSQL (asyncpg) when `DATABASE_URL` names it, SQLite (aiosqlite) otherwise. One request or
job is one unit of work: services `flush()`, the session dependency commits when the endpoint
returned and rolls back when it raised.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import namedtuple
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Generic, TypeVar, cast

import asyncpg
import orjson
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    MetaData,
    Select,
    any_,
    bindparam,
    event,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator, TypeEngine, Uuid
from sqlalchemy.util import await_only, greenlet_spawn

from empulse.config import Settings
from empulse.core import folding
from empulse.core.errors import AppError, ServiceUnavailable

# Stable constraint names, so migrations can address them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def time_ordered_id() -> uuid.UUID:
    """A UUID version 7 (RFC 9562): the Unix time in milliseconds, then 74 random bits. For the
    key of a table written in time order and never updated (the plays ledger): each new key
    lands at the right-hand edge of its index, on pages already in memory, rather than on a
    random page that each insert reads and, the first time after a checkpoint, writes whole
    to the WAL."""
    value = (time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF) << 80
    value |= int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # the version, 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the variant, RFC 9562's
    return uuid.UUID(int=value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, uuid.UUID: Uuid(as_uuid=True)}


class TimestampedMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_on_connect(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work during a write; foreign keys are off by default in SQLite;
    # busy_timeout makes a writer wait for the lock instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # The search index's triggers and queries fold text with these (core/folding).
    folding.register(dbapi_connection)


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            # A file has no server to go away: a ping would only cost a trip to the driver's
            # thread on every checkout.
            pool_pre_ping=False,
            json_deserializer=orjson.loads,
            connect_args={"timeout": settings.database_connect_timeout},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    engine = create_async_engine(
        url,
        # Not SQLAlchemy's pre-ping: on asyncpg it costs three round trips (BEGIN, ";",
        # ROLLBACK) on every checkout. `_ping_idle_connection` below does one, and only for
        # connections that sat idle; a busy connection that broke is caught by disconnect
        # detection, which invalidates the whole pool at once.
        pool_pre_ping=False,
        # JSON columns are read on every catalog row (images, audio facts, credits, moods);
        # orjson parses them several times faster than the standard library.
        json_deserializer=orjson.loads,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        pool_recycle=1800,
        connect_args={
            "timeout": settings.database_connect_timeout,
            "command_timeout": settings.database_statement_timeout_ms / 1000 + 1,
            "server_settings": {
                "statement_timeout": str(settings.database_statement_timeout_ms),
                "idle_in_transaction_session_timeout": "60000",
                "application_name": "empulse",
            },
        },
    )
    event.listen(engine.sync_engine, "checkin", _remember_checkin)
    event.listen(engine.sync_engine, "checkout", _ping_idle_connection)
    return engine


# A connection idle longer than this is pinged before use: long enough that a busy pool never
# pings, short enough that a database restart during a quiet period is noticed before a request
# runs into the dead socket.
PING_AFTER_IDLE_SECONDS = 2.0


def _remember_checkin(_: Any, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_idle_connection(dbapi_connection: Any, record: ConnectionPoolEntry, _: Any) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        await_only(dbapi_connection.driver_connection.fetchrow(";"))
    except Exception as exc:
        # The pool discards this connection and checks out (or opens) another one.
        raise DisconnectionError("idle connection failed its ping") from exc


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def _raised_inside_database_driver(exc: BaseException) -> bool:
    # A refused or reset connection surfaces as a bare OSError from the driver, unwrapped by
    # SQLAlchemy when it happens while the pool opens a connection.
    traceback = exc.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("sqlalchemy.", "asyncpg.", "aiosqlite.")):
            return True
        traceback = traceback.tb_next
    return False


def is_unavailable_error(exc: BaseException) -> bool:
    """True when the error means the database cannot be reached or answered too late."""
    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, OSError | TimeoutError):
        return _raised_inside_database_driver(exc)
    if isinstance(exc, InterfaceError | OperationalError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        # SQLAlchemy's asyncpg adapter wraps the driver's exception: the original is the cause.
        driver_error = exc.orig.__cause__ if exc.orig is not None else None
        names = {type(exc.orig).__name__, type(driver_error).__name__}
        # asyncpg: server shutting down, statement_timeout hit, too many connections.
        return bool(
            names
            & {
                "CannotConnectNowError",
                "QueryCanceledError",
                "AdminShutdownError",
                "TooManyConnectionsError",
                "ConnectionDoesNotExistError",
            }
        )
    return False


def is_transient_conflict(exc: BaseException) -> bool:
    """True when a concurrent transaction got in the way: PostgreSQL gave up on this one (a
    deadlock it broke, or a serialization failure), or a row the ORM loaded was deleted before
    its update (an account deleted while its owner or an admin changed it). The same request
    sent again answers from the new state."""
    if isinstance(exc, StaleDataError):
        return True
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    driver_error = exc.orig.__cause__
    sqlstate = getattr(driver_error, "sqlstate", None) or getattr(exc.orig, "sqlstate", None)
    return sqlstate in {"40P01", "40001"}  # deadlock_detected, serialization_failure


class DatabaseConflict(ServiceUnavailable):
    code = "concurrent_change"
    title = "Concurrent change"

    def __init__(self) -> None:
        super().__init__(
            "Another change to the same data got in the way. Send the request again.",
            headers={"Retry-After": "1"},
        )


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    title = "Database unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The database is not reachable right now. Try again shortly.",
            headers={"Retry-After": "5"},
        )


# The unit of work's two hooks, kept in the session's `info`.
_AFTER_COMMIT = "empulse.after_commit"
_KEEP_DESPITE_REFUSAL = "empulse.keep_despite_refusal"


def after_commit(session: AsyncSession, action: Callable[[], Awaitable[None]]) -> None:
    """Run `action` once this unit of work has committed, and never if it rolls back: what
    others must hear of a change only when it stands (sessions revoked, for every process's
    session cache). Runs before the response is sent."""
    session.sync_session.info.setdefault(_AFTER_COMMIT, []).append(action)


def keep_despite_refusal(session: AsyncSession) -> None:
    """Commit this unit of work although the request ends in a refusal (an `AppError`): the
    one way a failure keeps its writes. For what the refusal itself must leave behind: a failed
    sign-in's count, lockout and audit record, the session a replayed refresh token revokes,
    the audit record of a wrong password confirmation. Any other error still rolls back."""
    session.sync_session.info[_KEEP_DESPITE_REFUSAL] = True


@asynccontextmanager
async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block ends, roll back on any error (or commit a refusal
    marked with `keep_despite_refusal`); then the `after_commit` actions. The one place in the
    code that commits: a request's session, the job runner's bookkeeping and the upload's own
    transactions are each one of these."""
    async with sessionmaker() as session:
        try:
            yield session
        except AppError:
            if session.sync_session.info.pop(_KEEP_DESPITE_REFUSAL, False):
                await _commit(session)
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await _commit(session)


async def _commit(session: AsyncSession) -> None:
    await session.commit()
    for action in session.sync_session.info.pop(_AFTER_COMMIT, ()):
        await action()


def unplanned(name: str, kind: TypeEngine[Any] | None = None) -> ColumnElement[Any]:
    """A parameter (an integer unless `kind` says otherwise) as a scalar subquery, for a
    statement run often on PostgreSQL. The planner then plans for an unknown limit or list of
    ids whatever the value, so the statement's generic plan costs no more than one made for
    the value, and PostgreSQL keeps it instead of planning every execution again (for a
    search or a play, planning cost more than running). An array compares as
    `column = ANY(CAST(unplanned(...) AS type))`: the cast makes the subquery's value the
    array."""
    return select(bindparam(name, type_=kind or Integer())).scalar_subquery()


def among(column: Any, dialect: str, name: str = "ids") -> ColumnElement[bool]:
    """`column` is one of the parameter `name`'s ids: one array on PostgreSQL (the same
    statement for any number of ids, so nothing is rendered per id and the driver keeps one
    prepared statement), an expanding IN elsewhere."""
    if dialect == "postgresql":
        return cast(ColumnElement[bool], column == any_(bindparam(name, type_=ARRAY(Uuid()))))
    return cast(ColumnElement[bool], column.in_(bindparam(name, expanding=True)))


R = TypeVar("R")


class HotRead(Generic[R]):
    """One Core select, for the most frequent reads, run on the pool's own driver connection.

    SQLAlchemy's `Connection.execute` costs ~90 µs of CPU per statement on asyncpg (its
    execution context, result object and greenlet hops), and `engine.connect()` another ~70 µs
    (bench/db_read.py): more than the round trip on a fast network, and a large part of the
    cost of a read such as `GET /auth/me`. Here the statement is compiled once per dialect,
    with its bind and result processors, and run with asyncpg's `fetchrow` on a connection
    checked out of the same pool (so the idle-connection ping and every pool setting still
    apply). Failures answer as on the ordinary path: a statement timeout or no answer in time
    is a 503 at once (running it again would wait as long again); any other driver error drops
    the connection and runs the ordinary path on another one, whose disconnect handling and
    error mapping then apply unchanged. On other databases the ordinary path is the only one.

    Rows come back as named tuples, the same from either path, typed as `R`: a protocol naming
    the selected columns (models/user.UserCredentials), given where the read is declared.

    `rows` reads every row on a connection the caller already holds (a session's), so a
    request that runs several such reads pays for no checkout of its own."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self.row_type = namedtuple("Row", statement.selected_columns.keys())  # type: ignore[misc]
        self._compiled: dict[str, _CompiledRead] = {}

    async def first(self, engine: AsyncEngine, **params: Any) -> R | None:
        """The first row, or None, on a connection of `engine`'s pool held for this read."""
        rows = await self._on_pool(engine, params, every=False)
        return rows[0] if rows else None

    async def all(self, engine: AsyncEngine, **params: Any) -> list[R]:
        """Every row, on a connection of `engine`'s pool held for this read."""
        return await self._on_pool(engine, params, every=True)

    async def _on_pool(self, engine: AsyncEngine, params: dict[str, Any], every: bool) -> list[R]:
        dialect = engine.dialect
        if dialect.driver != "asyncpg":
            return await self._ordinary(engine, params)
        compiled = self._compiled_for(dialect)
        raw = await engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            args = compiled.args(params)
            if every:
                records = await driver.fetch(compiled.sql, *args)
            else:
                record = await driver.fetchrow(compiled.sql, *args)
                records = [] if record is None else [record]
        except asyncpg.QueryCanceledError as exc:
            # The server cancelled the statement (statement_timeout): the connection is fine,
            # and running the statement again would only wait as long again.
            await greenlet_spawn(raw.close)
            raise DatabaseUnavailable from exc
        except BaseException as exc:
            # Failed or cancelled half-way, the connection's state is unknown: it is dropped
            # (invalidating also gives it back to the pool).
            await greenlet_spawn(raw.invalidate, exc)
            return await self._after_failure(exc, engine, params)
        await greenlet_spawn(raw.close)
        return [cast(R, self.row_type(*compiled.values(record))) for record in records]

    async def rows(self, connection: AsyncConnection, **params: Any) -> list[R]:
        """Every row, on `connection` (on asyncpg, its driver connection). A statement timeout,
        no answer in time or a lost connection is a 503; the connection is dropped after any
        failure but a statement timeout, and anything else raised as the driver raised it (the
        session's own reads would have failed alike).

        On an autocommit connection (a read session's) each statement stands alone, as the
        session's own do. In a transaction the statement runs in it; SQLAlchemy begins the
        driver's transaction only at its first statement, so a transaction not begun yet is
        read the ordinary way, which begins it."""
        dialect = connection.dialect
        if dialect.driver == "asyncpg":
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            if getattr(raw.dbapi_connection, "autocommit", False) or driver.is_in_transaction():
                return await self._rows_on_driver(connection, driver, dialect, params)
        result = await connection.execute(self.statement, params)
        return [cast(R, self.row_type(*row)) for row in result]

    async def _rows_on_driver(
        self, connection: AsyncConnection, driver: Any, dialect: Dialect, params: dict[str, Any]
    ) -> list[R]:
        compiled = self._compiled_for(dialect)
        try:
            records = await driver.fetch(compiled.sql, *compiled.args(params))
        except asyncpg.QueryCanceledError as exc:
            raise DatabaseUnavailable from exc
        except BaseException as exc:
            await connection.invalidate(exc if isinstance(exc, Exception) else None)
            if isinstance(exc, Exception) and _connection_lost(exc):
                raise DatabaseUnavailable from exc
            raise
        return [cast(R, self.row_type(*compiled.values(record))) for record in records]

    async def _after_failure(
        self, exc: BaseException, engine: AsyncEngine, params: dict[str, Any]
    ) -> list[R]:
        if isinstance(exc, TimeoutError):  # no answer within the command timeout
            raise DatabaseUnavailable from exc
        if not isinstance(exc, Exception):
            raise exc
        # A connection lost or refused: the ordinary path, on another connection.
        return await self._ordinary(engine, params)

    async def _ordinary(self, engine: AsyncEngine, params: dict[str, Any]) -> list[R]:
        async with engine.connect() as connection:
            result = await connection.execute(self.statement, params)
        return [cast(R, self.row_type(*row)) for row in result]

    def _compiled_for(self, dialect: Dialect) -> _CompiledRead:
        return self._compiled.get(dialect.name) or self._compile(dialect)

    def _compile(self, dialect: Dialect) -> _CompiledRead:
        compiled = self.statement.compile(dialect=dialect)
        names = list(compiled.positiontup or [])
        binds: list[Callable[[Any], Any] | None] = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        ]
        results: list[Callable[[Any], Any] | None] = [
            _result_processor(column.type, dialect) for column in self.statement.selected_columns
        ]
        # Binds the statement fixes itself (literals, constants in `values()`) keep their value.
        fixed = {
            name: compiled.binds[name].effective_value
            for name in names
            if not compiled.binds[name].required
        }
        read = _CompiledRead(compiled.string, names, binds, results, fixed)
        self._compiled[dialect.name] = read
        return read


class HotWrite(HotRead[R]):
    """One Core statement that writes, for the most frequent writes: PostgreSQL runs several
    inserts and updates as one statement, atomically, in one round trip and its own
    transaction: with data-modifying CTEs (`WITH a AS (UPDATE ... RETURNING), b AS (INSERT
    ... SELECT FROM a) SELECT ...`, a sign-in), or as a function of the schema's whose steps
    must each see what the one before waited for (a play, plays/ddl.py). Compiled once and run
    on the driver's connection as a `HotRead` is.

    Only on asyncpg (`applies`): elsewhere the caller writes through its unit of work. A failure
    is never run again on another connection, since a write whose answer was lost may have
    committed: a statement timeout or a lost connection answers 503 (the client may retry the
    whole request), anything else is raised as the driver raised it. Only after a statement
    timeout is the connection kept."""

    @staticmethod
    def applies(engine: AsyncEngine) -> bool:
        return engine.dialect.driver == "asyncpg"

    async def _after_failure(
        self, exc: BaseException, engine: AsyncEngine, params: dict[str, Any]
    ) -> list[R]:
        if _connection_lost(exc):
            raise DatabaseUnavailable from exc
        raise exc

    async def _ordinary(self, engine: AsyncEngine, params: dict[str, Any]) -> list[R]:
        raise RuntimeError("HotWrite runs on asyncpg only; check HotWrite.applies first")


def _result_processor(kind: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    impl = kind.dialect_impl(dialect)
    # A float column comes back as a float; asyncpg's processor for it would need the
    # column's type oid from a description, which a statement compiled once has not got.
    if isinstance(impl, Float) and not impl.asdecimal:
        return None
    return impl.result_processor(dialect, None)


def _connection_lost(exc: BaseException) -> bool:
    """No answer in time, a broken socket, or the server ending the session (SQLSTATE class 08,
    connection exception, or 57, operator intervention: a shutdown, `pg_terminate_backend`)."""
    if isinstance(exc, (TimeoutError, OSError, asyncpg.InterfaceError)):
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return isinstance(exc, asyncpg.PostgresError) and state[:2] in ("08", "57")


@dataclass(frozen=True)
class _CompiledRead:
    sql: str
    names: list[str]
    binds: list[Callable[[Any], Any] | None]
    results: list[Callable[[Any], Any] | None]
    fixed: dict[str, Any]

    def args(self, params: dict[str, Any]) -> list[Any]:
        given = (params[name] if name in params else self.fixed[name] for name in self.names)
        return [
            value if process is None else process(value)
            for process, value in zip(self.binds, given, strict=True)
        ]

    def values(self, record: Sequence[Any]) -> Sequence[Any]:
        if self.unprocessed:  # every column as the driver decoded it (a play's 8, 50 a batch)
            return record
        return [
            value if process is None else process(value)
            for process, value in zip(self.results, record, strict=True)
        ]

    @cached_property
    def unprocessed(self) -> bool:
        return all(process is None for process in self.results)
