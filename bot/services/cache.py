"""LMS answers cached in the database: reused across learners, surfaces and processes.

A fresh copy is served without calling the LMS; an older one is refreshed; and when the LMS cannot answer
(rate-limited, locked, down) the last copy is served with a note saying how old it is, instead of an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, TypeAdapter

from bot import metrics
from bot.lms.errors import (
    DailyBudgetExhaustedError,
    LMSError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    UnreachableError,
)
from bot.services.types import Freshness

log = logging.getLogger(__name__)

T = TypeVar("T")
Entry = tuple[Any, datetime]  # a stored payload and when it was fetched

# Failures after which a cached copy is better than nothing (an unreadable answer included: a maintenance
# page, a stalled or oversized answer says nothing about the data we already have).
TRANSIENT: tuple[type[LMSError], ...] = (RateLimitedError, UnreachableError, ServerError, ProtocolError)


class CacheStore(Protocol):
    async def get(self, key: str) -> tuple[Any, datetime] | None: ...

    async def put(self, key: str, payload: Any) -> None: ...


class Codec(Generic[T]):
    """How a typed LMS answer goes into the cache and comes back (JSON with the LMS's own field names)."""

    def __init__(self, kind: Any) -> None:
        self._adapter: TypeAdapter[T] = TypeAdapter(kind)

    def dump(self, value: T) -> Any:
        return _dump(value)

    def load(self, payload: Any) -> T:
        return self._adapter.validate_python(payload)


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


class LmsCache:
    """Reads and stores LMS answers. A read for someone waiting (`background=True`) hands the fresh answer back
    before it is stored: the store (one transaction shared with the other answers arriving meanwhile) and the
    listeners run just after, and until it is stored this process reads the answer from memory."""

    def __init__(self, store: CacheStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._listeners: list[Callable[[str], None]] = []
        self._storing: dict[str, tuple[Entry, asyncio.Task[None]]] = {}  # key -> answer being stored
        self._tasks: set[asyncio.Task[None]] = set()  # strong references: the loop keeps only weak ones

    def on_stored(self, listener: Callable[[str], None]) -> None:
        """Call `listener(key)` whenever an answer freshly loaded from the LMS is stored (fresher data arrived)."""
        self._listeners.append(listener)

    async def fetch(
        self,
        key: str,
        loader: Callable[[], Awaitable[T]],
        codec: Codec[T],
        *,
        max_age: float,
        background: bool = False,
    ) -> tuple[T, Freshness]:
        """The value for `key`: cached if younger than `max_age` s, else loaded (and cached; with `background`,
        cached just after it is returned).

        When loading fails transiently and a copy exists, the copy is returned marked stale with the reason.
        """
        return await self.fetch_read(key, await self._get(key), loader, codec, max_age=max_age, background=background)

    async def entries(self, *keys: str) -> list[Entry | None]:
        """The stored entries of `keys`, read together (one query), for `decode` and `fetch_read`."""
        return list(await asyncio.gather(*(self._get(key) for key in keys)))

    async def _get(self, key: str) -> Entry | None:
        storing = self._storing.get(key)
        return storing[0] if storing is not None else await self.store.get(key)

    async def fetch_read(
        self,
        key: str,
        cached: Entry | None,
        loader: Callable[[], Awaitable[T]],
        codec: Codec[T],
        *,
        max_age: float,
        background: bool = False,
    ) -> tuple[T, Freshness]:
        """`fetch`, with `key`'s entry already read (by `entries`)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        if cached is not None:
            payload, fetched_at = cached
            if (now - fetched_at).total_seconds() <= max_age:
                try:
                    loaded = codec.load(payload)
                except ValueError:
                    log.warning("dropping an unreadable cache entry for %s", key)
                    cached = None
                else:
                    metrics.cache_lookup("hit")
                    return loaded, Freshness(fetched_at=fetched_at)
        metrics.cache_lookup("miss")
        try:
            value = await loader()
        except TRANSIENT as exc:
            if cached is None:
                raise
            metrics.cache_lookup("stale")
            payload, fetched_at = cached
            log.info("serving cached %s: %s", key, exc)
            return codec.load(payload), Freshness(fetched_at=fetched_at, stale=True, reason=plain_reason(exc))
        if background:
            self._store_later(key, codec.dump(value), now)
        else:
            await self._store(key, codec.dump(value))
        return value, Freshness(fetched_at=now)

    async def _store(self, key: str, payload: Any) -> None:
        await self.store.put(key, payload)
        for listener in self._listeners:
            try:
                listener(key)
            except Exception:  # a listener's trouble never fails the read that fed it
                log.exception("cache listener failed for %s", key)

    def _store_later(self, key: str, payload: Any, fetched_at: datetime) -> None:
        entry: Entry = (payload, fetched_at)

        async def store() -> None:
            try:
                await self._store(key, payload)
            except Exception:  # the answer was served; the next read asks the LMS again
                log.warning("could not store the LMS answer for %s", key, exc_info=True)
            finally:
                if self._storing.get(key, (None,))[0] is entry:
                    del self._storing[key]

        task = asyncio.get_running_loop().create_task(store())
        self._storing[key] = (entry, task)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every answer handed back before it was stored is stored (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def peek(self, key: str, codec: Codec[T]) -> tuple[T, Freshness] | None:
        """The cached copy, however old, without calling the LMS (for planning and App Home)."""
        return decode(await self._get(key), codec)

    async def put(self, key: str, value: T, codec: Codec[T]) -> None:
        storing = self._storing.get(key)
        if storing is not None:  # stored in the background right now: this later value must land after it
            await asyncio.gather(storing[1], return_exceptions=True)
        await self.store.put(key, codec.dump(value))


def decode(cached: Entry | None, codec: Codec[T]) -> tuple[T, Freshness] | None:
    """A stored entry as `peek` returns it (None when missing or unreadable)."""
    if cached is None:
        return None
    payload, fetched_at = cached
    try:
        return codec.load(payload), Freshness(fetched_at=fetched_at)
    except ValueError:
        return None


def plain_reason(exc: LMSError) -> str:
    """Why the LMS could not answer, in words for a Slack reply."""
    who = exc.provider or "The LMS"
    if isinstance(exc, DailyBudgetExhaustedError):
        return f"the LMS's daily API budget for this workspace is used up; fresh data after {exc.try_again_after}"
    if isinstance(exc, RateLimitedError):
        minutes = max(1, round(exc.retry_after / 60))
        return f"{who} is rate-limited; fresh data in about {minutes} min"
    if isinstance(exc, UnreachableError):
        return f"{who} is not answering right now"
    if isinstance(exc, ProtocolError):
        return f"{who} sent an answer lmsbot cannot read"
    return f"{who} had a server error"
