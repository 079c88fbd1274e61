"""Which sessions are live, without a database round trip on every request.

Each process remembers, for `SESSION_CACHE_SECONDS`, the sessions it has seen to be live.
Revoking a session (logout, password change, disabling a user) drops it from this process's
memory at once and, when Redis is configured, publishes its id so every other process drops it
too within the Redis round trip. While the Redis subscription is down, or silent for a few
seconds (a network partition closes no socket, so the subscription is pinged), the cache is not
trusted: every request asks the database. A revocation is thus honoured everywhere within the
Redis round trip, or within those few seconds when Redis is cut off. Without Redis (one
embedded process) local invalidation is immediate; several processes without Redis see a
revocation within the cache lifetime.

Other credentials checked against the database (the Subsonic API's app passwords and keys) are
remembered the same way, under their owner's id: revoking that id (a revoked app password, a
password reset, a disabled account) makes every process check the database again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from empulse.core.logging import get_logger

log = get_logger("empulse.sessions")

_MAX_ENTRIES = 100_000
_HEARTBEAT_SECONDS = 1.0
_SILENCE_SECONDS = 3.0


class SessionCache:
    def __init__(self, *, ttl_seconds: float, redis_url: str | None, key_prefix: str) -> None:
        self.ttl = ttl_seconds
        self.channel = f"{key_prefix}:sessions:revoked"
        self._live_until: dict[uuid.UUID, float] = {}
        self._credentials: dict[str, tuple[uuid.UUID, Any]] = {}
        self._redis = (
            aioredis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            if redis_url
            else None
        )
        self._subscribed = self._redis is None

    def is_known_live(self, session_id: uuid.UUID) -> bool:
        if not self._subscribed or self.ttl <= 0:
            return False
        until = self._live_until.get(session_id)
        return until is not None and until > time.monotonic()

    def remember_live(self, session_id: uuid.UUID) -> None:
        if self.ttl <= 0:
            return
        if len(self._live_until) >= _MAX_ENTRIES:
            self._live_until.clear()
        self._live_until[session_id] = time.monotonic() + self.ttl

    def remember_credential(self, key: str, owner_id: uuid.UUID, value: Any) -> None:
        """Remember what checking credential `key` found, while `owner_id` stays live."""
        if self.ttl <= 0:
            return
        if len(self._credentials) >= _MAX_ENTRIES:
            self._credentials.clear()
        self._credentials[key] = (owner_id, value)
        self.remember_live(owner_id)

    def known_credential(self, key: str) -> Any | None:
        """What was found for `key`, unless its owner was revoked or the lifetime ran out."""
        found = self._credentials.get(key)
        if found is None or not self.is_known_live(found[0]):
            return None
        return found[1]

    async def revoked(self, session_ids: Iterable[uuid.UUID]) -> None:
        """Forget these sessions here and tell every other process. Call after the commit."""
        ids = [str(session_id) for session_id in session_ids]
        for session_id in ids:
            self._live_until.pop(uuid.UUID(session_id), None)
        if self._redis is None or not ids:
            return
        try:
            await self._redis.publish(self.channel, ",".join(ids))
        except Exception as exc:  # the others fall back to their short cache lifetime
            log.warning("session_revocation_not_published", error=type(exc).__name__)

    async def listen(self, stop: asyncio.Event) -> None:
        """Follow revocations published by other processes until `stop` is set.

        The cache is trusted only from Redis's confirmation of the subscription on, and only
        while the subscription answers: it is pinged every `_HEARTBEAT_SECONDS`, and silence for
        `_SILENCE_SECONDS` (a network partition, which closes no socket) counts as an outage."""
        if self._redis is None:
            return
        loop = asyncio.get_running_loop()
        delay = 0.5
        while not stop.is_set():
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                heard = pinged = loop.time()
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=_HEARTBEAT_SECONDS)
                    now = loop.time()
                    if message is not None:
                        heard = now
                        self._handle(message)
                        delay = 0.5
                    if now - heard > _SILENCE_SECONDS:
                        raise TimeoutError("the revocation channel went silent")
                    if now - pinged >= _HEARTBEAT_SECONDS:
                        await pubsub.ping()
                        pinged = now
            except Exception as exc:
                if self._subscribed:
                    log.warning("session_revocations_unsubscribed", error=type(exc).__name__)
                self._subscribed = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            finally:
                self._subscribed = self._subscribed and not stop.is_set()
                try:
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                except Exception as exc:  # closing a broken connection may fail too
                    log.debug("pubsub_close_failed", error=type(exc).__name__)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "subscribe":
            self._live_until.clear()  # anything revoked while we were away
            self._subscribed = True
        elif kind == "message":
            for raw in message["data"].decode().split(","):
                self._live_until.pop(uuid.UUID(raw), None)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
