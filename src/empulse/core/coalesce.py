"""Concurrent calls of one kind served together: a round trip for many requests.

A call made while none is in flight is sent at once; calls made while one is in flight wait
for it and then go together, as one batch. Under load one round trip (and one pass of the
work around it) then serves many requests, and at low load no call waits for another: there
is no timer, so nothing waits to be joined.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# What a batch's run gives each call: its result, or the error to raise in its caller.
Answers = Sequence["R | BaseException"]


class Coalescer(Generic[T, R]):
    """Calls of `run` made together, at most `most` a batch, one batch at a time. `run`
    answers each call of the batch in its place (a result, or an exception for that caller
    alone); if `run` raises, every call of the batch raises it, and the calls queued behind go
    in the next batch, or, with `fail_queued`, fail with it (a store out of reach: they would
    wait as long again).

    A batch runs in a task of its own: a caller cancelled mid-flight (a client gone) does
    not take the other callers' answers with it, and what it asked for is still done."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[Answers[R]]],
        *,
        most: int,
        fail_queued: bool = False,
    ) -> None:
        self._run = run
        self._most = most
        self._fail_queued = fail_queued
        self._queued: list[tuple[T, asyncio.Future[R]]] = []
        self._sender: asyncio.Task[None] | None = None

    @property
    def queued(self) -> int:
        """Calls waiting for the batch in flight to end."""
        return len(self._queued)

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queued.append((item, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
        return await future

    async def _send(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._queued:
                batch = self._queued[: self._most]
                del self._queued[: self._most]
                try:
                    answers: Answers[R] = await self._run([item for item, _ in batch])
                except Exception as exc:
                    if self._fail_queued:
                        batch, self._queued = batch + self._queued, []
                    answers = [exc] * len(batch)
                for (_, future), answer in zip(batch, answers, strict=True):
                    if future.done():  # its caller was cancelled
                        continue
                    if isinstance(answer, BaseException):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        except asyncio.CancelledError:
            # This task itself was cancelled (shut-down): its callers are not left waiting.
            for _, future in batch + self._queued:
                future.cancel()
            raise
        finally:
            # Gone before the queue can take another call (no await since the queue was found
            # empty): a call made next, even by a caller just answered, starts a new batch.
            self._sender = None

    async def aclose(self) -> None:
        """Wait for the calls already made (at shut-down, before their connections close)."""
        if self._sender is not None:
            await asyncio.wait([self._sender])
