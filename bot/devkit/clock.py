"""A virtual clock (a bot.clock.Clock) for tests and benchmarks: `sleep` parks the caller; `drive` jumps time to
the next wake-up.

Lets minutes of rate-limit waiting run in milliseconds, with real asyncio concurrency, so limits and
locks can be checked exactly instead of with timed tests.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Iterable
from typing import Any

from bot.clock import Clock


class VirtualClock(Clock):
    """A bot.clock.Clock that moves only when told to (`advance`) or when everything waits on it (`drive`)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def __call__(self) -> float:  # usable where a plain `() -> float` clock is expected
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self._now + seconds, next(self._seq), future))
        await future

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._now:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)

    async def drive(self, awaitables: Iterable[Awaitable[Any]], settle: int = 20) -> list[Any]:
        """Run the awaitables to completion, jumping time whenever all of them are asleep."""
        tasks = [asyncio.ensure_future(a) for a in awaitables]
        while not all(t.done() for t in tasks):
            for _ in range(settle):
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                break
            pending = sum(1 for t in tasks if not t.done())
            asleep = sum(1 for _, _, f in self._waiters if not f.done())
            if asleep < pending:
                await asyncio.sleep(0.001)  # someone is doing real I/O: time stands still meanwhile
                continue
            self._now = max(self._now, self._waiters[0][0])
            self._wake()
        return [t.result() for t in tasks]
