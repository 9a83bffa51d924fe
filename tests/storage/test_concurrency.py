"""Two OS processes, each with its own engine, writing the same rows at the same moment."""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text

from bot.lms.ratelimit import DailyQuota, RateLimiter, RedisBackend
from storage.db import Database
from storage.repositories import LinkRepository, SentReminderRepository, TrackedModuleRepository
from tests.storage import workers


def run_in_two_processes(scenario: str, url: str) -> dict[int, Any]:
    # Not fork: the children must not inherit this process's engines, threads or event loop. A fork server is a
    # fresh process that imports the workers module once; spawning would import it again for every child.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.storage.workers"])
    barrier = ctx.Barrier(2)
    results: Any = ctx.Queue()
    processes = [ctx.Process(target=workers.run, args=(scenario, url, n, barrier, results)) for n in (1, 2)]
    for process in processes:
        process.start()
    try:
        outcome = dict(results.get(timeout=90) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    for worker, result in outcome.items():
        assert not isinstance(result, str), f"worker {worker} failed:\n{result}"
    return outcome


async def test_links_and_tracked_modules_are_neither_lost_nor_duplicated(db: Database, db_url: str) -> None:
    outcome = run_in_two_processes("links_and_modules", db_url)
    changed = Counter((kind, key) for result in outcome.values() for kind, key, did in result if did)
    # Every item was written exactly once in total, whichever process got there first.
    assert all(count == 1 for count in changed.values()), changed.most_common(3)
    links = await LinkRepository(db).list("T1")
    expected_users = {f"U{w}-{i}" for w in (1, 2) for i in range(workers.USERS)} | {
        f"S{i}" for i in range(workers.USERS)
    }
    assert sorted(link.slack_user_id for link in links) == sorted(expected_users)
    assert {link.slack_user_id: link.learner_id for link in links}["S7"] == "LS7"
    modules = await TrackedModuleRepository(db).list("T1")
    expected_modules = {f"M{w}-{j}" for w in (1, 2) for j in range(workers.MODULES)} | {
        f"MS{j}" for j in range(workers.MODULES)
    }
    assert sorted(m.module_id for m in modules) == sorted(expected_modules)
    assert len(changed) == len(expected_users) + len(expected_modules)


async def test_a_learner_raced_for_by_two_users_goes_to_exactly_one(db: Database, db_url: str) -> None:
    outcome = run_in_two_processes("conflicting_links", db_url)
    won = Counter(learner for result in outcome.values() for status, learner in result if status == "won")
    assert set(won) == {f"X{i}" for i in range(workers.USERS)} and set(won.values()) == {1}
    links = await LinkRepository(db).list("T1")
    assert len(links) == workers.USERS


async def test_each_reminder_is_claimed_exactly_once(db: Database, db_url: str) -> None:
    outcome = run_in_two_processes("claims", db_url)
    claimed = [key for result in outcome.values() for key in result]
    assert sorted(claimed) == sorted(f"item-{i}" for i in range(workers.CLAIMS))  # all claimed, none twice
    repo = SentReminderRepository(db)
    assert await repo.find("T1", "U3", "item-13", "2026-11-24") is not None


async def test_shared_rate_limit_is_never_exceeded(db: Database, db_url: str) -> None:
    outcome = run_in_two_processes("rate_limit", db_url)
    granted = sorted(t for result in outcome.values() for t in result)
    # 80 attempts within a few seconds against 15 calls per 30 s: exactly the limit gets through.
    assert len(granted) == workers.RATE_LIMIT
    assert granted[-1] - granted[0] < 30


async def test_the_daily_budget_is_never_exceeded_across_processes(db: Database, db_url: str) -> None:
    outcome = run_in_two_processes("daily_budget", db_url)
    granted = [call for result in outcome.values() for call in result]
    # 120 attempts over 7 endpoints of one account with a budget of 37: exactly 37 get through, between them.
    assert len(granted) == workers.DAILY_BUDGET
    async with db.transaction(write=False) as session:
        stored = await session.scalar(text("SELECT sum(calls) FROM rate_limit_daily WHERE key = 'zoho:shared-day'"))
    assert stored == workers.DAILY_BUDGET


@pytest.mark.redis
async def test_the_daily_budget_is_never_exceeded_across_processes_on_redis(redis_url: str) -> None:
    from redis.asyncio import Redis

    prefix = f"lmsbot-test:{uuid.uuid4().hex}:"
    client = Redis.from_url(redis_url)
    try:
        outcome = run_in_two_processes("daily_budget", f"{redis_url}#{prefix}")
        granted = [call for result in outcome.values() for call in result]
        assert len(granted) == workers.DAILY_BUDGET
        quota = DailyQuota("zoho:shared-day", workers.DAILY_BUDGET)
        assert (await RateLimiter(RedisBackend(client, prefix)).daily_usage(quota)).used == workers.DAILY_BUDGET
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
