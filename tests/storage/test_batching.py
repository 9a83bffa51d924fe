"""Group commit: concurrent calls share a batch, in arrival order; one bad item fails only its own caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from storage.batching import Coalescer
from storage.errors import DatabaseUnavailable


class Recorder:
    def __init__(self, fail_on: str | None = None, unavailable: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.unavailable = unavailable

    async def flush(self, items: Sequence[str]) -> list[str]:
        self.batches.append(list(items))
        await asyncio.sleep(0)  # a real flush awaits its transaction: later callers queue meanwhile
        if self.unavailable:
            raise DatabaseUnavailable("connection refused")
        if self.fail_on in items:
            raise ValueError(f"cannot store {self.fail_on}")
        return [item.upper() for item in items]


async def test_a_lone_call_runs_at_once_and_concurrent_calls_share_a_batch() -> None:
    recorder = Recorder()
    coalesce = Coalescer[str, str](recorder.flush)
    assert await coalesce("a") == "A"
    assert recorder.batches == [["a"]]
    got = await asyncio.gather(*(coalesce(x) for x in "bcdef"))
    assert got == ["B", "C", "D", "E", "F"]  # each caller gets its own result
    assert recorder.batches[1:] == [["b", "c", "d", "e", "f"]]  # in arrival order, one batch


async def test_calls_arriving_during_a_batch_go_into_the_next_one() -> None:
    recorder = Recorder()
    coalesce = Coalescer[str, str](recorder.flush)
    first = asyncio.ensure_future(coalesce("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the batch of "a" is in flight now
    rest = await asyncio.gather(coalesce("b"), coalesce("c"))
    assert await first == "A" and rest == ["B", "C"]
    assert recorder.batches == [["a"], ["b", "c"]]


async def test_one_bad_item_fails_only_its_caller() -> None:
    recorder = Recorder(fail_on="bad")
    coalesce = Coalescer[str, str](recorder.flush)
    got = await asyncio.gather(coalesce("a"), coalesce("bad"), coalesce("c"), return_exceptions=True)
    assert got[0] == "A" and got[2] == "C"
    assert isinstance(got[1], ValueError) and "cannot store bad" in str(got[1])
    assert recorder.batches == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]  # the batch, then each alone


async def test_an_unavailable_database_fails_the_batch_without_retrying_each() -> None:
    recorder = Recorder(unavailable=True)
    coalesce = Coalescer[str, str](recorder.flush)
    got = await asyncio.gather(coalesce("a"), coalesce("b"), return_exceptions=True)
    assert all(isinstance(g, DatabaseUnavailable) for g in got)
    assert recorder.batches == [["a", "b"]]
    recorder.unavailable = False
    assert await coalesce("c") == "C"  # and the next call runs again


async def test_a_cancelled_caller_does_not_stop_the_batch() -> None:
    recorder = Recorder()
    coalesce = Coalescer[str, str](recorder.flush)
    waiting = asyncio.ensure_future(coalesce("a"))
    other = asyncio.ensure_future(coalesce("b"))
    await asyncio.sleep(0)
    waiting.cancel()
    assert await other == "B"
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert recorder.batches == [["a", "b"]]
