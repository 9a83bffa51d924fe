"""Client-side rate limiting so that we never trip the LMS's lock.

Zoho allows 30 calls a minute per API and then locks that API for 5 minutes. We keep a sliding-window log
per key (account + endpoint), slightly wider than the LMS's own window so that network jitter cannot push
31 calls into one of its minutes, and we remember locks the LMS reports so no call is sent while locked.

Backends: in-process (default) or Redis (shared by the web and worker processes). Existing limiter
libraries were considered, but none lets us inject a clock (needed to test a 5-minute lock in
milliseconds) and honour an externally reported lock.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from bot.lms.errors import RateLimitedError

if TYPE_CHECKING:
    from redis.asyncio import Redis


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock seconds: comparable between processes, which the shared Redis backend needs."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Priority(StrEnum):
    INTERACTIVE = "interactive"  # a person is waiting: may use the whole budget
    BACKGROUND = "background"  # sweeps: leave `interactive_reserve` calls for people


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    limit: int = 30
    window: float = 60.0
    lock_seconds: float = 300.0
    interactive_reserve: int = 5
    # Extra seconds on our window: calls we space 60 s apart may arrive closer together at the LMS.
    safety_margin: float = 2.0

    def limit_for(self, priority: Priority) -> int:
        if priority is Priority.BACKGROUND:
            return max(1, self.limit - self.interactive_reserve)
        return self.limit

    @property
    def effective_window(self) -> float:
        return self.window + self.safety_margin


class RateLimitBackend(Protocol):
    async def try_acquire(self, key: str, now: float, limit: int, window: float) -> float:
        """Record a call if fewer than `limit` happened in the last `window` s; else the seconds to wait."""

    async def count(self, key: str, now: float, window: float) -> int: ...

    async def set_lock(self, key: str, until: float, now: float) -> None: ...

    async def locked_until(self, key: str) -> float: ...


class MemoryBackend:
    """Per-process budget. Safe within one event loop: every check-and-record runs without awaiting."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._locks: dict[str, float] = {}

    def _prune(self, key: str, now: float, window: float) -> deque[float]:
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - window:
            calls.popleft()
        return calls

    async def try_acquire(self, key: str, now: float, limit: int, window: float) -> float:
        calls = self._prune(key, now, window)
        if len(calls) < limit:
            calls.append(now)
            return 0.0
        # Wait until enough of the oldest calls leave the window to get under `limit`.
        return calls[len(calls) - limit] + window - now

    async def count(self, key: str, now: float, window: float) -> int:
        return len(self._prune(key, now, window))

    async def set_lock(self, key: str, until: float, now: float) -> None:
        self._locks[key] = max(until, self._locks.get(key, 0.0))

    async def locked_until(self, key: str) -> float:
        return self._locks.get(key, 0.0)


_ACQUIRE_LUA = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if n < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class RedisBackend:
    """A budget shared by every process using the same Redis: one atomic Lua script per call."""

    def __init__(self, redis: Redis, prefix: str = "lmsbot:ratelimit:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_ACQUIRE_LUA)

    async def try_acquire(self, key: str, now: float, limit: int, window: float) -> float:
        member = f"{now:.6f}:{uuid.uuid4().hex}"
        result = await self._script(keys=[self._prefix + "calls:" + key], args=[now, window, limit, member])
        return float(result)

    async def count(self, key: str, now: float, window: float) -> int:
        zkey = self._prefix + "calls:" + key
        return int(await self._redis.zcount(zkey, f"({now - window}", "+inf"))

    async def set_lock(self, key: str, until: float, now: float) -> None:
        lkey = self._prefix + "lock:" + key
        current = await self.locked_until(key)
        if until > current:  # expire a little after the lock so Redis cleans up after itself
            await self._redis.set(lkey, repr(until), px=max(1, math.ceil((until - now) * 1000)) + 1000)

    async def locked_until(self, key: str) -> float:
        value = await self._redis.get(self._prefix + "lock:" + key)
        return float(value) if value is not None else 0.0


@dataclass(frozen=True, slots=True)
class Budget:
    """What is left for a key right now (shown by `/lms status`)."""

    key: str
    used: int
    limit: int
    locked_for: float

    @property
    def remaining(self) -> int:
        return 0 if self.locked_for > 0 else max(0, self.limit - self.used)


class RateLimiter:
    def __init__(
        self,
        backend: RateLimitBackend | None = None,
        policy: RateLimitPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.backend: RateLimitBackend = backend or MemoryBackend()
        self.policy = policy or RateLimitPolicy()
        self.clock: Clock = clock or SystemClock()

    async def acquire(
        self,
        key: str,
        *,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> None:
        """Wait for a slot for one call to `key`.

        Raises RateLimitedError at once when the wait would exceed `max_wait` (None: wait as long as it
        takes), so a person gets an answer instead of a spinner.
        """
        limit = self.policy.limit_for(priority)
        window = self.policy.effective_window
        start = self.clock.now()
        while True:
            now = self.clock.now()
            locked_until = await self.backend.locked_until(key)
            if locked_until > now:
                wait = locked_until - now
                reason = "the LMS has locked this endpoint"
            else:
                wait = await self.backend.try_acquire(key, now, limit, window)
                if wait <= 0:
                    return
                reason = f"{limit} calls a minute are already used"
            if max_wait is not None and (now - start) + wait > max_wait:
                raise RateLimitedError(f"Rate limit: {reason}; retry in {math.ceil(wait)} s", retry_after=wait)
            await self.clock.sleep(wait)

    async def report_lock(self, key: str, seconds: float | None = None) -> float:
        """The LMS said it is locked: send nothing to `key` for `seconds` (default: the lock period)."""
        duration = self.policy.lock_seconds if seconds is None else seconds
        now = self.clock.now()
        await self.backend.set_lock(key, now + duration, now)
        return duration

    async def budget(self, key: str, priority: Priority = Priority.INTERACTIVE) -> Budget:
        now = self.clock.now()
        used = await self.backend.count(key, now, self.policy.effective_window)
        locked_for = max(0.0, await self.backend.locked_until(key) - now)
        return Budget(key=key, used=used, limit=self.policy.limit_for(priority), locked_for=locked_for)
