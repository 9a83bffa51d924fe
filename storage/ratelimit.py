"""A rate-limit budget in the database, shared by every process using it (no Redis needed).

Implements bot.lms.ratelimit.RateLimitBackend. Each check-and-record runs in one transaction serialised per
key: PostgreSQL takes `pg_advisory_xact_lock(hashtext(key))`, SQLite takes its write lock with
BEGIN IMMEDIATE. Calls that left the window are pruned as part of the same transaction.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

from storage.db import Database
from storage.models import RateLimitCallRow, RateLimitLockRow
from storage.repositories._common import upsert


class SqlRateLimitBackend:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def try_acquire(self, key: str, now: float, limit: int, window: float) -> float:
        """Record a call if fewer than `limit` happened in the last `window` s; else the seconds to wait."""
        async with self.db.transaction(locks=[f"ratelimit:{key}"]) as session:
            await session.execute(
                delete(RateLimitCallRow).where(RateLimitCallRow.key == key, RateLimitCallRow.at <= now - window)
            )
            used = await session.scalar(select(func.count()).where(RateLimitCallRow.key == key)) or 0
            if used < limit:
                session.add(RateLimitCallRow(key=key, at=now))
                return 0.0
            # Wait until enough of the oldest calls leave the window to get under `limit`.
            oldest = await session.scalar(
                select(RateLimitCallRow.at)
                .where(RateLimitCallRow.key == key)
                .order_by(RateLimitCallRow.at)
                .offset(used - limit)
                .limit(1)
            )
            return max(0.001, float(oldest if oldest is not None else now) + window - now)

    async def count(self, key: str, now: float, window: float) -> int:
        async with self.db.transaction(write=False) as session:
            used = await session.scalar(
                select(func.count()).where(RateLimitCallRow.key == key, RateLimitCallRow.at > now - window)
            )
            return int(used or 0)

    async def set_lock(self, key: str, until: float, now: float) -> None:
        statement = upsert(self.db, RateLimitLockRow).values(key=key, until=until)
        # Never shorten a lock another process recorded.
        later = func.greatest if self.db.dialect == "postgresql" else func.max
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={"until": later(RateLimitLockRow.until, statement.excluded.until)}
        )
        async with self.db.transaction() as session:
            await session.execute(statement)
            # Locks that ended long ago are of no use to anyone.
            await session.execute(delete(RateLimitLockRow).where(RateLimitLockRow.until < now - 86400))

    async def locked_until(self, key: str) -> float:
        async with self.db.transaction(write=False) as session:
            until = await session.scalar(select(RateLimitLockRow.until).where(RateLimitLockRow.key == key))
            return float(until) if until is not None else 0.0
