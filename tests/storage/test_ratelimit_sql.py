"""SqlRateLimitBackend behaves like the in-memory backend, and works with the RateLimiter."""

from __future__ import annotations

import pytest

from bot.lms.clock import VirtualClock
from bot.lms.errors import RateLimitedError
from bot.lms.ratelimit import MemoryBackend, RateLimiter, RateLimitPolicy
from storage.db import Database
from storage.ratelimit import SqlRateLimitBackend


async def test_same_answers_as_the_memory_backend(db: Database) -> None:
    sql, memory = SqlRateLimitBackend(db), MemoryBackend()
    times = [100.0, 100.5, 101.0, 101.0, 102.0, 130.0, 160.9, 161.0, 161.0, 175.0]
    for now in times:
        expected = await memory.try_acquire("k", now, 3, 60.0)
        assert await sql.try_acquire("k", now, 3, 60.0) == pytest.approx(expected)
        assert await sql.count("k", now, 60.0) == await memory.count("k", now, 60.0)
    assert await sql.count("other", 175.0, 60.0) == 0


async def test_old_calls_are_pruned(db: Database) -> None:
    sql = SqlRateLimitBackend(db)
    for i in range(5):
        await sql.try_acquire("k", 100.0 + i, 10, 60.0)
    await sql.try_acquire("k", 1000.0, 10, 60.0)
    async with db.transaction(write=False) as session:
        from sqlalchemy import text

        assert (await session.execute(text("SELECT count(*) FROM rate_limit_calls"))).scalar() == 1


async def test_locks_only_grow(db: Database) -> None:
    sql = SqlRateLimitBackend(db)
    assert await sql.locked_until("k") == 0.0
    await sql.set_lock("k", 400.0, 100.0)
    await sql.set_lock("k", 300.0, 100.0)
    assert await sql.locked_until("k") == 400.0
    await sql.set_lock("k", 500.5, 100.0)
    assert await sql.locked_until("k") == 500.5
    assert await sql.locked_until("other") == 0.0


async def test_rate_limiter_on_the_database_backend(db: Database) -> None:
    clock = VirtualClock()
    limiter = RateLimiter(SqlRateLimitBackend(db), RateLimitPolicy(limit=3, window=60.0, safety_margin=0), clock)
    for _ in range(3):
        await limiter.acquire("zoho:acct")
    with pytest.raises(RateLimitedError):
        await limiter.acquire("zoho:acct", max_wait=1.0)
    await limiter.report_lock("zoho:acct", 300)
    budget = await limiter.budget("zoho:acct")
    assert budget.used == 3 and budget.locked_for == pytest.approx(300) and budget.remaining == 0
