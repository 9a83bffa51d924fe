"""A rate-limit budget in the database, shared by every process using it (no Redis needed).

Implements bot.lms.ratelimit.RateLimitBackend. Each acquire is one short transaction serialised per account:
PostgreSQL takes `pg_advisory_xact_lock(hashtext(key))` (of the daily key when there is one, which covers every
endpoint of the account, else of the endpoint key), SQLite takes its write lock with BEGIN IMMEDIATE. In it,
one SELECT reads the lock, the window count and the daily count; a granted call adds its row and bumps its
minute's bucket; rows that left the window (or the day) are pruned only when the same SELECT saw some.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

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


class SqlRateLimitBackend:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def acquire(
        self, key: str, now: float, limit: int, window: float, daily: DailyQuota | None = None
    ) -> Decision:
        since = now - window
        day_since = now - DAY_SECONDS - DAILY_BUCKET_SECONDS  # buckets starting after this may still count
        daily_key = daily.key if daily else ""
        async with self.db.transaction(locks=[f"ratelimit:{daily_key or key}"]) as session:
            state = (
                await session.execute(
                    select(
                        select(Locks.until).where(Locks.key == key).scalar_subquery(),
                        select(func.count()).where(Calls.key == key, Calls.at > since).scalar_subquery(),
                        select(func.min(Calls.at)).where(Calls.key == key).scalar_subquery(),
                        select(func.coalesce(func.sum(Daily.calls), 0))
                        .where(Daily.key == daily_key, Daily.bucket > day_since)
                        .scalar_subquery(),
                        select(func.min(Daily.bucket)).where(Daily.key == daily_key).scalar_subquery(),
                    )
                )
            ).one()
            locked, used, oldest_call, used_today, oldest_bucket = state
            lock_wait = max(0.0, float(locked) - now) if locked is not None else 0.0
            wait = 0.0
            if used >= limit:  # rare: only now read the calls that say how long to wait
                times = await session.scalars(
                    select(Calls.at).where(Calls.key == key, Calls.at > since).order_by(Calls.at)
                )
                wait = max(0.001, window_wait([float(t) for t in times], now, limit, window))
            day_wait = 0.0
            if daily is not None and int(used_today) >= daily.limit:
                rows = await session.execute(
                    select(Daily.bucket, Daily.calls).where(Daily.key == daily_key, Daily.bucket > day_since)
                )
                day_wait = daily_wait(((float(b), int(c)) for b, c in rows), now, daily.limit)
            decision = decide(lock_wait, wait, day_wait)
            if not decision.granted:
                return decision
            session.add(Calls(key=key, at=now))
            if daily is not None:
                bump = upsert(self.db, Daily).values(key=daily_key, bucket=bucket_start(now), calls=1)
                bump = bump.on_conflict_do_update(index_elements=["key", "bucket"], set_={"calls": Daily.calls + 1})
                await session.execute(bump)
                if oldest_bucket is not None and oldest_bucket <= day_since:
                    await session.execute(delete(Daily).where(Daily.key == daily_key, Daily.bucket <= day_since))
            if oldest_call is not None and oldest_call <= since:
                await session.execute(delete(Calls).where(Calls.key == key, Calls.at <= since))
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
