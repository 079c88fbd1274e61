"""Calls made while one is in flight go together in the next batch."""

from __future__ import annotations

import asyncio

import pytest

from empulse.core.coalesce import Answers, Coalescer


class Held:
    """A `run` whose batches each wait until released, recording what each carried."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.fail_on = fail_on

    async def __call__(self, items: list[int]) -> Answers[int]:
        self.batches.append(items)
        self.started.set()
        await self.release.wait()
        if self.fail_on in items:
            raise RuntimeError("refused")
        return [ValueError(item) if item < 0 else item * 10 for item in items]


async def until_queued(coalescer: Coalescer[int, int], count: int) -> None:
    """The calls just made have each taken their place (one pass of the event loop)."""
    await asyncio.sleep(0)
    assert coalescer.queued == count


async def test_the_first_call_goes_alone_and_those_made_meanwhile_go_together() -> None:
    run = Held()
    coalescer = Coalescer(run, most=3)
    first = asyncio.create_task(coalescer(1))
    await run.started.wait()
    rest = [asyncio.create_task(coalescer(n)) for n in (2, 3, -4, 5)]
    await until_queued(coalescer, 4)
    run.release.set()
    assert await first == 10
    assert await asyncio.gather(*rest[:2], rest[3]) == [20, 30, 50]
    with pytest.raises(ValueError, match="-4"):  # an answer for that caller alone
        await rest[2]
    assert run.batches == [[1], [2, 3, -4], [5]]  # at most three a batch


async def test_a_cancelled_caller_takes_nothing_from_the_others() -> None:
    run = Held()
    coalescer = Coalescer(run, most=10)
    first = asyncio.create_task(coalescer(1))
    await run.started.wait()
    gone, kept = asyncio.create_task(coalescer(2)), asyncio.create_task(coalescer(3))
    await until_queued(coalescer, 2)
    gone.cancel()
    run.release.set()
    assert (await first, await kept) == (10, 30)
    assert run.batches == [[1], [2, 3]]  # what the cancelled caller asked for is still done
    await coalescer.aclose()


@pytest.mark.parametrize("fail_queued", [False, True])
async def test_a_failed_batch_fails_its_calls_and_the_queue_as_asked(fail_queued: bool) -> None:
    run = Held(fail_on=1)
    coalescer = Coalescer(run, most=10, fail_queued=fail_queued)
    first = asyncio.create_task(coalescer(1))
    await run.started.wait()
    queued = asyncio.create_task(coalescer(2))
    await until_queued(coalescer, 1)
    run.release.set()
    with pytest.raises(RuntimeError, match="refused"):
        await first
    if fail_queued:
        with pytest.raises(RuntimeError, match="refused"):
            await queued
        assert run.batches == [[1]]
    else:
        assert await queued == 20
        assert run.batches == [[1], [2]]


@pytest.mark.timeout(5)
async def test_a_call_made_as_soon_as_a_batch_is_answered_is_sent() -> None:
    """The caller of the batch just answered calls again before the batch's task has ended:
    that call starts a batch of its own instead of waiting, for ever, on a task that is
    finishing (the time-out ends it)."""
    run = Held()
    run.release.set()
    coalescer = Coalescer(run, most=10)
    for n in range(1, 4):
        # Awaited directly: the caller resumes before the batch's task has ended.
        assert await coalescer(n) == n * 10
    assert run.batches == [[1], [2], [3]]
