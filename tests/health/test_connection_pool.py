"""The database pool: a burst larger than the pool waits for connections instead of opening
(and then closing) more of them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from empulse.services import Services
from tests.auth.helpers import bearer, signed_in
from tests.conftest import Backend


async def test_a_burst_beyond_the_pool_size_reuses_the_pooled_connections(
    backend_services: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(backend_services, DATABASE_POOL_SIZE="2")
    session = await signed_in(harness, "pool@example.com")
    services: Services = harness.app.state.services
    opened: list[object] = []
    event.listen(services.engine.sync_engine, "connect", lambda *_: opened.append(_))

    responses = await asyncio.gather(
        *(harness.client.get("/api/v1/auth/me", headers=bearer(session)) for _ in range(12))
    )

    assert [response.status_code for response in responses] == [200] * 12
    assert services.engine.pool.size() == 2  # type: ignore[attr-defined]
    assert services.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    # At most the two pooled connections were ever opened (fewer if they already existed).
    assert len(opened) <= 2
