"""SqlRateLimitBackend behaves like the in-memory backend, works with the RateLimiter, and costs one
transaction per acquire (or per burst of concurrent acquires)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text

from bot.devkit.clock import VirtualClock
from bot.lms.errors import DailyBudgetExhaustedError, RateLimitedError
from bot.lms.ratelimit import DailyQuota, MemoryBackend, RateLimiter, RateLimitPolicy, Verdict, bucket_start
from storage.db import Database
from storage.ratelimit import SqlRateLimitBackend
from tests.support.ratelimit import DAY, T0, decisions


async def test_same_answers_as_the_memory_backend(db: Database) -> None:
    sql, memory = SqlRateLimitBackend(db), MemoryBackend()
    times = [100.0, 100.5, 101.0, 101.0, 102.0, 130.0, 160.9, 161.0, 161.0, 175.0]
    for now in times:
        expected = await memory.acquire("k", now, 3, 60.0)
        got = await sql.acquire("k", now, 3, 60.0)
        assert got.verdict == expected.verdict and got.wait == pytest.approx(expected.wait)
        assert await sql.count("k", now, 60.0) == await memory.count("k", now, 60.0)
    assert await sql.count("other", 175.0, 60.0) == 0
    assert await decisions(SqlRateLimitBackend(db)) == await decisions(MemoryBackend())
    assert await sql.daily_buckets("zoho:acct", T0 + DAY + 200) == [(T0 + DAY + 40, 2), (T0 + DAY + 160, 1)]


async def test_old_calls_and_buckets_are_pruned(db: Database) -> None:
    sql = SqlRateLimitBackend(db)
    quota = DailyQuota("zoho:a", 100)
    for i in range(5):
        await sql.acquire("k", 100.0 + i * 60, 10, 60.0, quota)
    await sql.acquire("k", 100.0 + DAY + 1000, 10, 60.0, quota)
    async with db.transaction(write=False) as session:
        assert (await session.execute(text("SELECT count(*) FROM rate_limit_calls"))).scalar() == 1
        assert (await session.execute(text("SELECT count(*) FROM rate_limit_daily"))).scalar() == 1


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
    quota = DailyQuota("zoho:day", 2)
    await limiter.acquire("zoho:day:a", daily=quota)
    await limiter.acquire("zoho:day:b", daily=quota)
    with pytest.raises(DailyBudgetExhaustedError):
        await limiter.acquire("zoho:day:c", max_wait=8, daily=quota)
    assert (await limiter.daily_usage(quota)).used == 2


@contextmanager
def counted(db: Database) -> Iterator[dict[str, list[str]]]:
    """Transactions begun and SQL statements sent (BEGIN included) while the block runs."""
    seen: dict[str, list[str]] = {"transactions": [], "statements": []}

    def on_begin(conn: Any) -> None:
        seen["transactions"].append("BEGIN")

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen["statements"].append(statement.split(None, 1)[0].upper())

    engine = db.engine.sync_engine
    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "before_cursor_execute", on_execute)


async def test_one_transaction_per_acquire(db: Database) -> None:
    """The lock check, the window, the daily count and the insert: one short transaction (it was two, with five
    or six statements, before the daily count existed)."""
    limiter = RateLimiter(SqlRateLimitBackend(db), RateLimitPolicy(limit=1000))
    quota = DailyQuota("zoho:acct", 1000)
    await limiter.acquire("zoho:acct:warm-up", daily=quota)
    with counted(db) as seen:
        for _ in range(10):
            await limiter.acquire("zoho:acct:module-progress", daily=quota)
    # SQLite: BEGIN IMMEDIATE, SELECT, INSERT, upsert; PostgreSQL: advisory lock, SELECT, INSERT, upsert.
    print(db.dialect, "per acquire:", seen["statements"][:4])
    assert len(seen["transactions"]) == 10
    assert len(seen["statements"]) == 40


async def test_concurrent_acquires_share_a_transaction_and_decide_as_one_by_one(db: Database) -> None:
    """A burst of acquires (50 commands at once) is one transaction per batch, not one each; the decisions are
    those of the same acquires taken one at a time, in arrival order: the window, the lock and the day hold."""
    sql, memory = SqlRateLimitBackend(db), MemoryBackend()
    quota = DailyQuota("zoho:acct", 8)
    await sql.set_lock("zoho:acct:locked", T0 + 30, T0)
    await memory.set_lock("zoho:acct:locked", T0 + 30, T0)
    # Three endpoints of one account, 3 a minute each, 8 a day together; one endpoint is locked.
    burst = [(f"zoho:acct:{name}", T0 + i * 0.01) for i, name in enumerate(["a", "b", "locked"] * 5)]
    expected = [await memory.acquire(key, now, 3, 60.0, quota) for key, now in burst]
    await sql.acquire("warm-up", T0, 3, 60.0)  # the first call of a pool opens its connection
    with counted(db) as seen:
        got = await asyncio.gather(*(sql.acquire(key, now, 3, 60.0, quota) for key, now in burst))
    assert [(d.verdict, round(d.wait, 6)) for d in got] == [(d.verdict, round(d.wait, 6)) for d in expected]
    assert sum(d.granted for d in got) == 6  # a and b: 3 each; locked: none
    assert len(seen["transactions"]) <= 2  # the first acquire's own, then everything that queued meanwhile
    assert await sql.count("zoho:acct:a", T0 + 1, 60.0) == 3
    assert await sql.daily_buckets("zoho:acct", T0 + 1) == [(bucket_start(T0), 6)]
    # The next minute's calls still see the burst's: the day is spent after 2 more.
    later = await asyncio.gather(*(sql.acquire("zoho:acct:c", T0 + 70 + i, 3, 60.0, quota) for i in range(3)))
    assert [d.verdict for d in later] == [Verdict.GRANTED, Verdict.GRANTED, Verdict.DAILY]
