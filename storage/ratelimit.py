"""A rate-limit budget in the database, shared by every process using it (no Redis needed).

Implements bot.lms.ratelimit.RateLimitBackend. Each acquire is one short transaction serialised per account:
PostgreSQL takes `pg_advisory_xact_lock(hashtext(key))` (of the daily key when there is one, which covers every
endpoint of the account, else of the endpoint key), SQLite takes its write lock with BEGIN IMMEDIATE. In it,
one SELECT reads the lock, the window count and the daily count; a granted call adds its row and bumps its
minute's bucket; rows that left the window (or the day) are pruned only when the same SELECT saw some.
"""

from __future__ import annotations

from sqlalchemy import Double, String, bindparam, delete, func, insert, select

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


class SqlRateLimitBackend:
    def __init__(self, db: Database) -> None:
        self.db = db
        bump = upsert(db, Daily).values(key=bindparam("key"), bucket=bindparam("bucket"), calls=1)
        self._bump = bump.on_conflict_do_update(index_elements=["key", "bucket"], set_={"calls": Daily.calls + 1})

    async def acquire(
        self, key: str, now: float, limit: int, window: float, daily: DailyQuota | None = None
    ) -> Decision:
        since = now - window
        day_since = now - DAY_SECONDS - DAILY_BUCKET_SECONDS  # buckets starting after this may still count
        daily_key = daily.key if daily else ""
        params = {"key": key, "daily_key": daily_key, "since": since, "day_since": day_since}
        async with self.db.transaction(locks=[f"ratelimit:{daily_key or key}"]) as session:
            state = (await session.execute(_STATE, params)).one()
            locked, used, oldest_call, used_today, oldest_bucket = state
            lock_wait = max(0.0, float(locked) - now) if locked is not None else 0.0
            wait = 0.0
            if used >= limit:  # rare: only now read the calls that say how long to wait
                times = [float(t) for t in await session.scalars(_WINDOW, params)]
                wait = max(0.001, window_wait(times, now, limit, window))
            day_wait = 0.0
            if daily is not None and int(used_today) >= daily.limit:
                rows = await session.execute(_BUCKETS, params)
                day_wait = daily_wait(((float(b), int(c)) for b, c in rows), now, daily.limit)
            decision = decide(lock_wait, wait, day_wait)
            if not decision.granted:
                return decision
            await session.execute(_RECORD, {"key": key, "now": now})
            if daily is not None:
                await session.execute(self._bump, {"key": daily_key, "bucket": bucket_start(now)})
                if oldest_bucket is not None and oldest_bucket <= day_since:
                    await session.execute(_PRUNE_DAILY, params)
            if oldest_call is not None and oldest_call <= since:
                await session.execute(_PRUNE_CALLS, params)
            return decision

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
