"""Client-side rate limiting so that we never trip the LMS's lock, nor spend more than our share of its day.

Zoho allows 30 calls a minute per API and then locks that API for 5 minutes. We keep a sliding-window log
per key (account + endpoint), slightly wider than the LMS's own window so that network jitter cannot push
31 calls into one of its minutes, and we remember locks the LMS reports so no call is sent while locked.

Zoho also caps a whole organisation's calls per day, shared with every other integration it runs, and does
not say when that count resets. So a `DailyQuota` per account counts every call over any rolling 24 hours in
per-minute buckets (one small row or hash field per minute, not one per call), and a call is only sent while
the count is under the quota: whatever Zoho's reset time, we never exceed our share.

Each acquire is one atomic step in the backend: the lock check, the window count, the daily count and the
record of the call (one transaction in the database, one Lua script in Redis), so the budget holds across
processes and costs one round trip.

Backends: in-process (default), Redis or the database (both shared by the web and worker processes).
Existing limiter libraries were considered, but none lets us inject a clock (needed to test a 5-minute lock
in milliseconds), honour an externally reported lock, and count a rolling day in the same atomic step.
"""

from __future__ import annotations

import asyncio
import math
import uuid
import weakref
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from bot import metrics
from bot.clock import Clock, SystemClock
from bot.lms.errors import DailyBudgetExhaustedError, RateLimitedError

if TYPE_CHECKING:
    from redis.asyncio import Redis

DAY_SECONDS = 86400
# Calls are counted per minute of the day: a minute's calls leave the rolling 24 hours together, when the
# last of them is 24 h old, so the count is never below the true one and each key keeps at most 1,441 buckets.
DAILY_BUCKET_SECONDS = 60


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
    # The share of a daily quota background work may not touch, so people still get answers late in the day.
    daily_interactive_share: float = 0.1

    def limit_for(self, priority: Priority) -> int:
        if priority is Priority.BACKGROUND:
            return max(1, self.limit - self.interactive_reserve)
        return self.limit

    def daily_limit_for(self, priority: Priority, quota: int) -> int:
        if priority is Priority.BACKGROUND:
            return max(1, quota - math.ceil(quota * self.daily_interactive_share))
        return quota

    @property
    def effective_window(self) -> float:
        return self.window + self.safety_margin


@dataclass(frozen=True, slots=True)
class DailyQuota:
    """At most `limit` calls over any rolling 24 hours for one account (`key`), every endpoint together."""

    key: str
    limit: int


class Verdict(StrEnum):
    GRANTED = "granted"
    LOCKED = "locked"  # the LMS reported a lock for the key
    WINDOW = "window"  # the per-minute window is full
    DAILY = "daily"  # the account's daily quota is spent


@dataclass(frozen=True, slots=True)
class Decision:
    """The backend's answer to one acquire: granted (and recorded), or how long until it could be."""

    verdict: Verdict = Verdict.GRANTED
    wait: float = 0.0

    @property
    def granted(self) -> bool:
        return self.verdict is Verdict.GRANTED


def bucket_start(now: float) -> int:
    return int(now // DAILY_BUCKET_SECONDS) * DAILY_BUCKET_SECONDS


def bucket_live(start: float, now: float) -> bool:
    """Whether some call of the bucket starting at `start` may still be within 24 h of `now`."""
    return start + DAILY_BUCKET_SECONDS + DAY_SECONDS > now


def window_wait(times: Sequence[float], now: float, limit: int, window: float) -> float:
    """Seconds until fewer than `limit` of `times` (ascending, all within the window) remain; 0 if already."""
    if len(times) < limit:
        return 0.0
    return times[len(times) - limit] + window - now


def daily_wait(buckets: Iterable[tuple[float, int]], now: float, limit: int) -> float:
    """Seconds until the live buckets (any order) hold fewer than `limit` calls; 0 if they already do."""
    live = sorted((start, calls) for start, calls in buckets if bucket_live(start, now))
    excess = sum(calls for _, calls in live) - limit + 1
    for start, calls in live:
        if excess <= 0:
            break
        excess -= calls
        if excess <= 0:
            return start + DAILY_BUCKET_SECONDS + DAY_SECONDS - now
    return 0.0


def decide(lock_wait: float, window: float, daily: float) -> Decision:
    """The binding refusal (the longest wait) among the checks, or a grant when none refuses."""
    checks = ((lock_wait, Verdict.LOCKED), (window, Verdict.WINDOW), (daily, Verdict.DAILY))
    wait, verdict = max(checks, key=lambda item: item[0])
    return Decision(verdict, wait) if wait > 0 else Decision()


class RateLimitBackend(Protocol):
    async def acquire(
        self, key: str, now: float, limit: int, window: float, daily: DailyQuota | None = None
    ) -> Decision:
        """In one atomic step: unless `key` is locked, its last `window` s hold `limit` calls, or `daily`'s key
        holds `daily.limit` calls in its live buckets, record a call (in both); else say how long to wait."""

    async def count(self, key: str, now: float, window: float) -> int: ...

    async def daily_buckets(self, key: str, now: float) -> list[tuple[float, int]]:
        """The live per-minute buckets of a daily key: (start, calls), oldest first."""

    async def set_lock(self, key: str, until: float, now: float) -> None: ...

    async def locked_until(self, key: str) -> float: ...


class MemoryBackend:
    """Per-process budget. Safe within one event loop: every check-and-record runs without awaiting."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._locks: dict[str, float] = {}
        self._daily: dict[str, dict[int, int]] = {}

    def _prune(self, key: str, now: float, window: float) -> deque[float]:
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - window:
            calls.popleft()
        return calls

    def _live(self, key: str, now: float) -> dict[int, int]:
        buckets = self._daily.setdefault(key, {})
        for start in [s for s in buckets if not bucket_live(s, now)]:
            del buckets[start]
        return buckets

    async def acquire(
        self, key: str, now: float, limit: int, window: float, daily: DailyQuota | None = None
    ) -> Decision:
        calls = self._prune(key, now, window)
        buckets = self._live(daily.key, now) if daily else {}
        decision = decide(
            max(0.0, self._locks.get(key, 0.0) - now),
            window_wait(calls, now, limit, window),  # not copied: read only, and a burst's window is long
            daily_wait(buckets.items(), now, daily.limit) if daily else 0.0,
        )
        if decision.granted:
            calls.append(now)
            if daily:
                start = bucket_start(now)
                buckets[start] = buckets.get(start, 0) + 1
        return decision

    async def count(self, key: str, now: float, window: float) -> int:
        return len(self._prune(key, now, window))

    async def daily_buckets(self, key: str, now: float) -> list[tuple[float, int]]:
        return sorted((float(s), c) for s, c in self._live(key, now).items())

    async def set_lock(self, key: str, until: float, now: float) -> None:
        self._locks[key] = max(until, self._locks.get(key, 0.0))

    async def locked_until(self, key: str) -> float:
        return self._locks.get(key, 0.0)


# KEYS: the call log (sorted set), the lock, and optionally the daily buckets (hash: minute start -> calls).
# ARGV: now, window, limit, member, then daily limit, the current bucket, bucket seconds, day seconds.
_ACQUIRE_LUA = """
local now, window, limit, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local wait, verdict = 0, 'granted'
local locked = tonumber(redis.call('GET', KEYS[2]) or '0')
if locked > now then wait, verdict = locked - now, 'locked' end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  local w = tonumber(oldest[2]) + window - now
  if w > wait then wait, verdict = w, 'window' end
end
if #KEYS == 3 then
  local dlimit, bucket, size, day = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
  local fields = redis.call('HGETALL', KEYS[3])
  local live, total = {}, 0
  for i = 1, #fields, 2 do
    local start, calls = tonumber(fields[i]), tonumber(fields[i + 1])
    if start + size + day <= now then
      redis.call('HDEL', KEYS[3], fields[i])
    else
      live[#live + 1] = {start, calls}
      total = total + calls
    end
  end
  if total >= dlimit then
    table.sort(live, function(a, b) return a[1] < b[1] end)
    local excess = total - dlimit + 1
    for _, item in ipairs(live) do
      excess = excess - item[2]
      if excess <= 0 then
        local w = item[1] + size + day - now
        if w > wait then wait, verdict = w, 'daily' end
        break
      end
    end
  end
  if verdict == 'granted' then
    redis.call('HINCRBY', KEYS[3], bucket, 1)
    redis.call('PEXPIRE', KEYS[3], (size + day) * 1000 + 60000)
  end
end
if verdict == 'granted' then
  redis.call('ZADD', KEYS[1], now, member)
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
end
return {verdict, tostring(wait)}
"""


_Script = tuple[list[str], list[str | int | float]]  # one acquire's keys and arguments for _ACQUIRE_LUA


class _Pipelined:
    """Acquires of one event loop that arrive while a pipeline is in flight go out together in the next one.

    A burst of 50 commands makes a few hundred acquires at once: one script call each took a connection each
    (redis-py's pool refuses the 101st: "Too many connections") and a round trip each. In one pipeline Redis
    still runs every script atomically, in arrival order, so each decision is the one it would have been alone.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[_Script, asyncio.Future[Decision]]] = []
        self.task: asyncio.Task[None] | None = None


class RedisBackend:
    """A budget shared by every process using the same Redis: one atomic Lua script per call, the scripts of the
    calls that arrive together sent in one pipeline (one round trip, one connection)."""

    MAX_PIPELINE = 500

    def __init__(self, redis: Redis, prefix: str = "lmsbot:ratelimit:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_ACQUIRE_LUA)
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pipelined] = weakref.WeakKeyDictionary()

    async def acquire(
        self, key: str, now: float, limit: int, window: float, daily: DailyQuota | None = None
    ) -> Decision:
        keys = [self._prefix + "calls:" + key, self._prefix + "lock:" + key]
        args: list[str | int | float] = [now, window, limit, f"{now:.6f}:{uuid.uuid4().hex}"]
        if daily is not None:
            keys.append(self._prefix + "daily:" + daily.key)
            args += [daily.limit, str(bucket_start(now)), DAILY_BUCKET_SECONDS, DAY_SECONDS]
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Pipelined()
        future: asyncio.Future[Decision] = loop.create_future()
        queue.pending.append(((keys, args), future))
        if queue.task is None:
            queue.task = loop.create_task(self._drain(queue))
        # A caller cancelled while waiting stops waiting; its script still runs with its pipeline (it may count a
        # call never sent: never one too many).
        return await future

    async def _drain(self, queue: _Pipelined) -> None:
        batch: list[tuple[_Script, asyncio.Future[Decision]]] = []
        try:
            while queue.pending:
                batch, queue.pending = queue.pending[: self.MAX_PIPELINE], queue.pending[self.MAX_PIPELINE :]
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for (keys, args), _ in batch:
                            await self._script(keys=keys, args=args, client=pipe)
                        answers = await pipe.execute()
                except Exception as exc:  # noqa: BLE001 - handed to the callers
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), (verdict, wait) in zip(batch, answers, strict=True):
                    if not future.done():
                        future.set_result(Decision(Verdict(_text(verdict)), float(_text(wait))))
        finally:
            queue.task = None
            for _, future in [*batch, *queue.pending]:  # still waiting only if this task was cancelled
                if not future.done():
                    future.cancel()
            queue.pending = []

    async def count(self, key: str, now: float, window: float) -> int:
        zkey = self._prefix + "calls:" + key
        return int(await self._redis.zcount(zkey, f"({now - window}", "+inf"))

    async def daily_buckets(self, key: str, now: float) -> list[tuple[float, int]]:
        fields = await self._redis.hgetall(self._prefix + "daily:" + key)
        buckets = ((float(_text(s)), int(_text(c))) for s, c in fields.items())
        return sorted(b for b in buckets if bucket_live(b[0], now))

    async def set_lock(self, key: str, until: float, now: float) -> None:
        lkey = self._prefix + "lock:" + key
        current = await self.locked_until(key)
        if until > current:  # expire a little after the lock so Redis cleans up after itself
            await self._redis.set(lkey, repr(until), px=max(1, math.ceil((until - now) * 1000)) + 1000)

    async def locked_until(self, key: str) -> float:
        value = await self._redis.get(self._prefix + "lock:" + key)
        return float(value) if value is not None else 0.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


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


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """An account's daily quota as admins see it: the rolling 24 h count and today's projection."""

    key: str
    used: int  # calls in the last 24 hours
    limit: int
    used_today: int  # since midnight in the limiter's zone
    projected_today: int  # at today's pace, by midnight
    zone: str

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class RateLimiter:
    def __init__(
        self,
        backend: RateLimitBackend | None = None,
        policy: RateLimitPolicy | None = None,
        clock: Clock | None = None,
        zone: tzinfo | None = None,
    ) -> None:
        self.backend: RateLimitBackend = backend or MemoryBackend()
        self.policy = policy or RateLimitPolicy()
        self.clock: Clock = clock or SystemClock()
        self.zone: tzinfo = zone or UTC  # how "try again after HH:MM" and "today" are told

    async def acquire(
        self,
        key: str,
        *,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
        daily: DailyQuota | None = None,
    ) -> None:
        """Wait for a slot for one call to `key` (and, with `daily`, within the account's daily quota).

        Raises RateLimitedError at once when the wait would exceed `max_wait` (None: wait as long as it
        takes), so a person gets an answer instead of a spinner. A spent daily quota frees up over hours:
        it raises DailyBudgetExhaustedError unless the wait fits in `max_wait`; with no `max_wait`
        (background work) it refuses at once rather than hold a sweep for hours.
        """
        limit = self.policy.limit_for(priority)
        window = self.policy.effective_window
        quota = DailyQuota(daily.key, self.policy.daily_limit_for(priority, daily.limit)) if daily else None
        if daily is not None:
            metrics.saw_daily(self, daily)
        start = self.clock.now()
        while True:
            now = self.clock.now()
            decision = await self.backend.acquire(key, now, limit, window, quota)
            if decision.granted:
                return
            wait, waited = decision.wait, now - start
            if decision.verdict is Verdict.DAILY:
                if max_wait is None or waited + wait > max_wait:
                    metrics.ratelimit_refused(key, decision.verdict.value)
                    raise DailyBudgetExhaustedError(retry_after=wait, try_again_after=self._clock_time(now + wait, now))
            elif max_wait is not None and waited + wait > max_wait:
                metrics.ratelimit_refused(key, decision.verdict.value)
                reason = (
                    "the LMS has locked this endpoint"
                    if decision.verdict is Verdict.LOCKED
                    else f"{limit} calls a minute are already used"
                )
                raise RateLimitedError(f"Rate limit: {reason}; retry in {math.ceil(wait)} s", retry_after=wait)
            metrics.ratelimit_wait(key, decision.verdict.value, wait)
            await self.clock.sleep(wait)

    async def report_lock(self, key: str, seconds: float | None = None) -> float:
        """The LMS said it is locked: send nothing to `key` for `seconds` (default: the lock period)."""
        duration = self.policy.lock_seconds if seconds is None else seconds
        metrics.lms_lock(key)
        now = self.clock.now()
        await self.backend.set_lock(key, now + duration, now)
        return duration

    async def budget(self, key: str, priority: Priority = Priority.INTERACTIVE) -> Budget:
        now = self.clock.now()
        used = await self.backend.count(key, now, self.policy.effective_window)
        locked_for = max(0.0, await self.backend.locked_until(key) - now)
        return Budget(key=key, used=used, limit=self.policy.limit_for(priority), locked_for=locked_for)

    async def daily_usage(self, quota: DailyQuota) -> DailyUsage:
        now = self.clock.now()
        buckets = await self.backend.daily_buckets(quota.key, now)
        local = datetime.fromtimestamp(now, self.zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        day_length = ((midnight + timedelta(days=1)).timestamp() - midnight.timestamp()) or DAY_SECONDS
        since = midnight.timestamp()
        today = sum(calls for start, calls in buckets if start >= since)
        # Today's average pace carried to midnight; the first hour counts as an hour so a few early calls do
        # not project as thousands.
        elapsed = max(now - since, 3600.0)
        projected = max(today, round(today * day_length / elapsed))
        return DailyUsage(
            key=quota.key,
            used=sum(calls for _, calls in buckets),
            limit=quota.limit,
            used_today=today,
            projected_today=projected,
            zone=local.tzname() or "UTC",
        )

    def _clock_time(self, moment: float, now: float) -> str:
        """ "14:05 CET", and "tomorrow" when it is (a spent daily budget usually frees up about a day later)."""
        local, today = datetime.fromtimestamp(moment, self.zone), datetime.fromtimestamp(now, self.zone).date()
        when = f"{local:%H:%M} {local.tzname() or ''}".strip()
        return when if local.date() == today else f"{when} tomorrow"
