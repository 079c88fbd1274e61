"""The Subsonic API's methods, by subject; each module adds its own to `call.METHODS`."""

from __future__ import annotations


def register_all() -> None:
    from empulse.subsonic.methods import (  # noqa: F401  (importing registers)
        annotation,
        browsing,
        lists,
        media,
        playlists,
        queue,
        searching,
        system,
    )
