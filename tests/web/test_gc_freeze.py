"""Start-up objects are kept out of the cyclic garbage collector's full passes while serving."""

from __future__ import annotations

import gc
from collections.abc import Callable

from empulse.app import create_app
from empulse.config import Settings


async def test_startup_objects_are_frozen_while_serving_and_released_at_shutdown(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(), configure_logs=False)
    gc.unfreeze()
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
        # The application's own objects are among the frozen ones: routes, services, engine.
        assert frozen > 10_000
    assert gc.get_freeze_count() == 0
