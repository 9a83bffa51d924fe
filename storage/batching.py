"""Group commit: concurrent calls of one storage operation share a transaction.

Fifty people typing `/lms progress` at once make hundreds of small reads and writes (a cache entry, a rate-limit
slot, a delivery record), and on SQLite every write of a process queues for the one write lock. Each round trip
costs far more than the statement in it, so calls that arrive while a batch is in flight wait for the next batch
and run together, in one transaction, in the order they came. A lone call runs at once: nothing waits for a
batch to fill.

A batch that fails for a reason of its own (not the database being unavailable) is run again one item at a time,
so one bad item fails only its own caller.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from storage.errors import DatabaseUnavailable

Item = TypeVar("Item")
Result = TypeVar("Result")
# Runs a batch (one transaction) and returns one result per item, in order.
Flush = Callable[[Sequence[Item]], Awaitable[Sequence[Result]]]


class _Queue(Generic[Item, Result]):
    def __init__(self) -> None:
        self.pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self.draining = False


class Coalescer(Generic[Item, Result]):
    """`await coalescer(item)` runs `flush([item, …])` with every item that arrived meanwhile."""

    def __init__(self, flush: Flush[Item, Result], *, max_batch: int = 500) -> None:
        self._flush = flush
        self._max_batch = max_batch
        # One queue per event loop: futures belong to their loop (tests and the CLI may run several).
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue[Item, Result]] = (
            weakref.WeakKeyDictionary()
        )
        self._tasks: set[asyncio.Task[None]] = set()  # strong references: the loop keeps only weak ones

    async def __call__(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[Result] = loop.create_future()
        queue.pending.append((item, future))
        if not queue.draining:
            queue.draining = True
            task = loop.create_task(self._drain(queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # A caller that is cancelled stops waiting; its item still runs with its batch (a write is never half done).
        return await future

    async def _drain(self, queue: _Queue[Item, Result]) -> None:
        try:
            while queue.pending:
                batch, queue.pending = queue.pending[: self._max_batch], queue.pending[self._max_batch :]
                await self._run(batch)
        finally:
            queue.draining = False
            if queue.pending:  # only when this task was cancelled (the loop is closing): nobody is left hanging
                _fail(queue.pending, None)
                queue.pending = []

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = list(await self._flush([item for item, _ in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} gave {len(results)} results")
        except DatabaseUnavailable as exc:
            _fail(batch, exc)
            return
        except Exception as exc:  # noqa: BLE001 - handed to the callers
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for one in batch:  # one bad item must not fail the others: each alone
                await self._run([one])
            return
        except BaseException:
            _fail(batch, None)
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


def _fail(batch: Sequence[tuple[object, asyncio.Future[Result]]], exc: BaseException | None) -> None:
    """Each caller still waiting gets `exc` (None: is cancelled)."""
    for _, future in batch:
        if future.done():
            continue
        if exc is None:
            future.cancel()
        else:
            future.set_exception(exc)
