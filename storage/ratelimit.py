"""A rate-limit budget in the database, shared by every process using it (no Redis needed).

Implements bot.lms.ratelimit.RateLimitBackend. Each acquire is one short transaction serialised per account (or
shares one with the acquires that arrived together, decided in their order):
PostgreSQL takes `pg_advisory_xact_lock(hashtext(key))` (of the daily key when there is one, which covers every
endpoint of the account, else of the endpoint key), SQLite takes its write lock with BEGIN IMMEDIATE. In it,
one SELECT reads the lock, the window count and the daily count; a granted call adds its row and bumps its
minute's bucket; rows that left the window (or the day) are pruned only when the same SELECT saw some.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Double, String, bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lms.ratelimit import (
    DAILY_BUCKET_SECONDS,
    DAY_SECONDS,
    DailyQuota,
    Decision,
    bucket_start,
    daily_wait,
    decide,
    window_wait,
)
from storage.batching import Coalescer
from storage.db import Database
from storage.models import RateLimitCallRow, RateLimitDailyRow, RateLimitLockRow
from storage.repositories._common import upsert

Calls, Daily, Locks = RateLimitCallRow, RateLimitDailyRow, RateLimitLockRow

# Built once: an acquire runs on every LMS call, and building these per call cost more than running them.
_KEY, _DAILY_KEY = bindparam("key", type_=String), bindparam("daily_key", type_=String)
_SINCE, _DAY_SINCE = bindparam("since", type_=Double), bindparam("day_since", type_=Double)
_STATE = select(
    select(Locks.until).where(Locks.key == _KEY).scalar_subquery(),
    select(func.count()).where(Calls.key == _KEY, Calls.at > _SINCE).scalar_subquery(),
    select(func.min(Calls.at)).where(Calls.key == _KEY).scalar_subquery(),
    select(func.coalesce(func.sum(Daily.calls), 0))
    .where(Daily.key == _DAILY_KEY, Daily.bucket > _DAY_SINCE)
    .scalar_subquery(),
    select(func.min(Daily.bucket)).where(Daily.key == _DAILY_KEY).scalar_subquery(),
)
_WINDOW = select(Calls.at).where(Calls.key == _KEY, Calls.at > _SINCE).order_by(Calls.at)
_BUCKETS = select(Daily.bucket, Daily.calls).where(Daily.key == _DAILY_KEY, Daily.bucket > _DAY_SINCE)
_RECORD = insert(Calls).values(key=_KEY, at=bindparam("now"))
_PRUNE_CALLS = delete(Calls).where(Calls.key == _KEY, Calls.at <= _SINCE)
_PRUNE_DAILY = delete(Daily).where(Daily.key == _DAILY_KEY, Daily.bucket <= _DAY_SINCE)


@dataclass(frozen=True, slots=True)
class _Acquire:
    key: str
    now: float
    limit: int
    window: float
    daily: DailyQuota | None


@dataclass(slots=True)
class _Window:
    """One endpoint key's state in a batch: as read, plus the calls granted so far in the batch."""

    locked: float
    since: float  # `count` and `times` hold the calls after this moment
    count: int
    oldest: float | None
    granted: list[float] = field(default_factory=list)
    times: list[float] | None = None  # read only once the window is full (to say how long to wait)

    def used(self, since: float) -> int:
        if self.times is None:  # counted from an earlier `since`: never fewer than the true count
            return self.count + len(self.granted)
        return sum(1 for t in self.times if t > since) + sum(1 for t in self.granted if t > since)


@dataclass(slots=True)
class _Day:
    """One account's daily buckets in a batch: the live total as read, plus the calls granted in the batch."""

    since: float
    total: int
    oldest: float | None
    granted: dict[int, int] = field(default_factory=dict)
    buckets: list[tuple[float, int]] | None = None

    def used(self) -> int:
        return self.total + sum(self.granted.values())


class SqlRateLimitBackend:
    """Acquires that arrive together (a burst of commands) share one transaction (storage.batching): their
    decisions are taken in arrival order on the state read once, as if each had its own transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        bump = upsert(db, Daily).values(key=bindparam("key"), bucket=bindparam("bucket"), calls=bindparam("calls"))
        self._bump = bump.on_conflict_do_update(
            index_elements=["key", "bucket"], set_={"calls": Daily.calls + bump.excluded.calls}
        )
        self._acquire = Coalescer[_Acquire, Decision](self._acquire_many)

    async def acquire(
        self, key: str, now: float, limit: int, window: float, daily: DailyQuota | None = None
    ) -> Decision:
        return await self._acquire(_Acquire(key, now, limit, window, daily))

    async def _acquire_many(self, requests: Sequence[_Acquire]) -> list[Decision]:
        locks = {f"ratelimit:{r.daily.key if r.daily else r.key}" for r in requests}
        windows: dict[str, _Window] = {}
        days: dict[str, _Day] = {}
        decisions: list[Decision] = []
        async with self.db.transaction(locks=locks) as session:
            for r in requests:
                decisions.append(await self._decide(session, r, windows, days))
            await self._record(session, windows, days)
        return decisions

    async def _decide(
        self, session: AsyncSession, r: _Acquire, windows: dict[str, _Window], days: dict[str, _Day]
    ) -> Decision:
        since = r.now - r.window
        day_since = r.now - DAY_SECONDS - DAILY_BUCKET_SECONDS  # buckets starting after this may still count
        daily_key = r.daily.key if r.daily else ""
        if r.key not in windows or (r.daily is not None and daily_key not in days):
            params = {"key": r.key, "daily_key": daily_key, "since": since, "day_since": day_since}
            locked, used, oldest_call, used_today, oldest_bucket = (await session.execute(_STATE, params)).one()
            lock_until = float(locked) if locked is not None else 0.0
            windows.setdefault(r.key, _Window(lock_until, since, int(used), oldest_call))
            if r.daily is not None:
                days.setdefault(daily_key, _Day(day_since, int(used_today), oldest_bucket))
        w = windows[r.key]
        wait = 0.0
        if w.used(since) >= r.limit:  # rare: only now read the calls that say how long to wait
            if w.times is None:
                params = {"key": r.key, "since": w.since}
                w.times = [float(t) for t in await session.scalars(_WINDOW, params)]
            if w.used(since) >= r.limit:
                live = sorted(t for t in [*w.times, *w.granted] if t > since)
                wait = max(0.001, window_wait(live, r.now, r.limit, r.window))
        day_wait = 0.0
        d = days.get(daily_key) if r.daily is not None else None
        if r.daily is not None and d is not None and d.used() >= r.daily.limit:
            if d.buckets is None:
                rows = await session.execute(_BUCKETS, {"daily_key": daily_key, "day_since": d.since})
                d.buckets = [(float(b), int(c)) for b, c in rows]
            merged: dict[float, int] = dict(d.buckets)
            for start, calls in d.granted.items():
                merged[float(start)] = merged.get(float(start), 0) + calls
            day_wait = daily_wait(merged.items(), r.now, r.daily.limit)
        decision = decide(max(0.0, w.locked - r.now), wait, day_wait)
        if decision.granted:
            w.granted.append(r.now)
            if d is not None:
                start = bucket_start(r.now)
                d.granted[start] = d.granted.get(start, 0) + 1
        return decision

    async def _record(self, session: AsyncSession, windows: dict[str, _Window], days: dict[str, _Day]) -> None:
        """The granted calls and their buckets; rows that left the window (or the day), when some were seen."""
        calls = [{"key": key, "now": at} for key, w in windows.items() for at in w.granted]
        if calls:
            await session.execute(_RECORD, calls)
        bumps = [{"key": key, "bucket": b, "calls": n} for key, d in days.items() for b, n in d.granted.items()]
        if bumps:
            await session.execute(self._bump, bumps)
        for key, d in days.items():
            if d.granted and d.oldest is not None and d.oldest <= d.since:
                await session.execute(_PRUNE_DAILY, {"daily_key": key, "day_since": d.since})
        for key, w in windows.items():
            if w.granted and w.oldest is not None and w.oldest <= w.since:
                await session.execute(_PRUNE_CALLS, {"key": key, "since": w.since})

    async def count(self, key: str, now: float, window: float) -> int:
        async with self.db.transaction(write=False) as session:
            used = await session.scalar(select(func.count()).where(Calls.key == key, Calls.at > now - window))
            return int(used or 0)

    async def daily_buckets(self, key: str, now: float) -> list[tuple[float, int]]:
        async with self.db.transaction(write=False) as session:
            rows = await session.execute(
                select(Daily.bucket, Daily.calls)
                .where(Daily.key == key, Daily.bucket > now - DAY_SECONDS - DAILY_BUCKET_SECONDS)
                .order_by(Daily.bucket)
            )
            return [(float(bucket), int(calls)) for bucket, calls in rows]

    async def set_lock(self, key: str, until: float, now: float) -> None:
        statement = upsert(self.db, Locks).values(key=key, until=until)
        # Never shorten a lock another process recorded.
        later = func.greatest if self.db.dialect == "postgresql" else func.max
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={"until": later(Locks.until, statement.excluded.until)}
        )
        async with self.db.transaction() as session:
            await session.execute(statement)
            # Locks that ended long ago are of no use to anyone.
            await session.execute(delete(Locks).where(Locks.until < now - 86400))

    async def locked_until(self, key: str) -> float:
        async with self.db.transaction(write=False) as session:
            until = await session.scalar(select(Locks.until).where(Locks.key == key))
            return float(until) if until is not None else 0.0
