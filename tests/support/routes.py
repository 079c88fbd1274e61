"""Routes that exist only in tests, to drive the platform (body parsing, errors, database) from
the outside; they are mounted on a real app built by `create_app`."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text
from starlette.routing import Mount, Route

from empulse.core.logging import get_logger
from empulse.models import User
from empulse.services import AppServices, DbSession
from empulse.web.ratelimit import RateLimit

log = get_logger("tests.routes")


class EchoIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    count: int = Field(ge=0)
    tags: list[str] = Field(default_factory=list, max_length=10)
    extra: dict[str, Any] | None = None


router = APIRouter(prefix="/api/v1/_test", dependencies=[Depends(RateLimit("default"))])


@router.post("/echo")
async def echo(body: EchoIn) -> EchoIn:
    return body


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("SELECT secret FROM internals -- this text must never leave the server")


@router.get("/users/count")
async def count_users(session: DbSession) -> dict[str, int]:
    total = await session.scalar(select(func.count()).select_from(User))
    return {"users": int(total or 0)}


@router.get("/db-sleep")
async def db_sleep(session: DbSession, seconds: float = 2.0) -> dict[str, bool]:
    """A query that runs long, as on a frozen or overloaded database (PostgreSQL only)."""
    await session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
    return {"ok": True}


@router.post("/deadlock")
async def deadlock(services: AppServices) -> dict[str, bool]:
    """Two transactions that lock two users in opposite orders: PostgreSQL breaks the deadlock
    by failing one of them, whose error this route lets through, as a request would."""
    async with services.sessionmaker() as session:
        first, second = (await session.scalars(select(User.id).limit(2))).all()
    gate = asyncio.Barrier(2)

    async def lock(one: Any, other: Any) -> None:
        async with services.sessionmaker() as session, session.begin():
            await session.execute(select(User).where(User.id == one).with_for_update())
            await gate.wait()
            await session.execute(select(User).where(User.id == other).with_for_update())

    await asyncio.gather(lock(first, second), lock(second, first))
    return {"ok": True}


@router.get("/login-limited", dependencies=[Depends(RateLimit("login"))])
async def login_limited() -> dict[str, bool]:
    return {"ok": True}


@router.get("/slow")
async def slow(seconds: float = 0.5) -> dict[str, float]:
    # Stands for real work that takes a while (a slow query, an upload); the log line tells a
    # test that the request is in flight.
    log.info("slow_request_started", seconds=seconds)
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def a_path_of(route: Route | Mount) -> str:
    """A request path the route matches: each parameter given a value of its kind."""
    samples = {"uuid": "6f1c4e1e-8a3b-4c2d-9e7f-0a1b2c3d4e5f", "int": "7", "path": "a/b.txt"}
    filled = re.sub(r"{(\w+)(?::(\w+))?}", lambda m: samples.get(m.group(2) or "", "x"), route.path)
    return f"{filled}/a/b.txt" if isinstance(route, Mount) else filled


def add_test_routes(app: FastAPI) -> FastAPI:
    app.include_router(router)
    return app
