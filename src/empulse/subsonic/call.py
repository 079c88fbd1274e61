"""One /rest call as a method sees it, and the table of methods (each module of `methods/`
adds its own with `@method`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from empulse.audit.service import RequestMeta
from empulse.services import Services
from empulse.subsonic.envelope import Format
from empulse.subsonic.params import Params
from empulse.subsonic.service import Caller


@dataclass(slots=True)
class Call:
    request: Request
    services: Services
    params: Params
    caller: Caller
    fmt: Format
    # The player's name (`c`), for now-playing and the play queue.
    client: str

    @property
    def meta(self) -> RequestMeta:
        return RequestMeta.of(self.request)

    def url(self, key: str) -> str:
        return self.services.storage.public_url(key)


# A method answers the envelope's body (the dict beside `status`), or a whole response (media).
Handler = Callable[[Call], Awaitable[dict[str, Any] | Response]]


@dataclass(frozen=True, slots=True)
class Method:
    handler: Handler
    # Answered without credentials (getOpenSubsonicExtensions, as the extension asks).
    public: bool = False


METHODS: dict[str, Method] = {}


def method(*names: str, public: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            METHODS[name] = Method(handler, public)
        return handler

    return register
