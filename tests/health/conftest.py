"""Fixtures for the fault tests: a database behind a proxy the test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Backend, Harness
from tests.support.proxy import TcpProxy, proxy_to

BehindAProxy = Callable[..., Awaitable[tuple[Harness, TcpProxy]]]


@pytest.fixture
async def behind_a_proxy(
    postgres_url: str, make_client: Callable[..., Any]
) -> AsyncIterator[BehindAProxy]:
    """Starts an app (with these settings) whose PostgreSQL is reached through a proxy the
    test can cut, freeze and restore."""
    url = make_url(postgres_url)
    with proxy_to(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

        async def start(**overrides: str) -> tuple[Harness, TcpProxy]:
            harness = await make_client(
                Backend("services", {}, postgres_url=postgres_url),
                DATABASE_URL=proxied,
                DATABASE_CONNECT_TIMEOUT="1",
                **overrides,
            )
            return harness, proxy

        yield start
