"""Code run in separate OS processes (forked from a fresh fork server: each builds its own engine) by
test_concurrency."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from bot.lms.errors import DailyBudgetExhaustedError
from bot.lms.ratelimit import DailyQuota, RateLimitBackend, RateLimiter, RateLimitPolicy, RedisBackend
from storage.db import Database
from storage.errors import LinkConflict
from storage.ratelimit import SqlRateLimitBackend
from storage.repositories import LinkRepository, SentReminderRepository, TrackedModuleRepository

USERS, MODULES, CLAIMS = 50, 20, 100
RATE_LIMIT, RATE_ATTEMPTS = 15, 40
DAILY_BUDGET, DAILY_ATTEMPTS = 37, 60


def run(scenario: str, url: str, worker: int, barrier: Barrier, results: Queue[Any]) -> None:
    try:
        results.put((worker, asyncio.run(_main(scenario, url, worker, barrier))))
    except BaseException:  # noqa: BLE001 - a worker process reports every failure to the parent
        results.put((worker, traceback.format_exc()))


async def _main(scenario: str, url: str, worker: int, barrier: Barrier) -> Any:
    if url.startswith("redis://"):
        return await _main_redis(scenario, url, worker, barrier)
    db = Database(url)
    try:
        async with db.engine.connect():  # connect before the start line, not after it
            pass
        barrier.wait(timeout=60)
        return await SCENARIOS[scenario](db, worker)
    finally:
        await db.dispose()


async def _main_redis(scenario: str, url: str, worker: int, barrier: Barrier) -> Any:
    """`url` is `redis://…#<key prefix>`: both processes share the prefix, the parent cleans it up."""
    from redis.asyncio import Redis

    address, _, prefix = url.partition("#")
    client = Redis.from_url(address)
    try:
        await client.ping()  # connect before the start line, not after it
        barrier.wait(timeout=60)
        return await RATE_SCENARIOS[scenario](RedisBackend(client, prefix), worker)
    finally:
        await client.aclose()


async def _gather(jobs: list[Callable[[], Awaitable[Any]]], parallel: int = 4) -> list[Any]:
    gate = asyncio.Semaphore(parallel)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def links_and_modules(db: Database, worker: int) -> list[tuple[str, str, bool]]:
    links, modules = LinkRepository(db), TrackedModuleRepository(db)

    def link(user: str, learner: str) -> Callable[[], Awaitable[tuple[str, str, bool]]]:
        async def job() -> tuple[str, str, bool]:
            result = await links.link("T1", user, "zoho", learner, email=None, method="csv", linked_by="UADMIN")
            return ("link", user, result.changed)

        return job

    def track(module: str, alias: str) -> Callable[[], Awaitable[tuple[str, str, bool]]]:
        async def job() -> tuple[str, str, bool]:
            _, changed = await modules.track("T1", "zoho", "C1", None, module, alias=alias, created_by=f"W{worker}")
            return ("track", module, changed)

        return job

    jobs: list[Callable[[], Awaitable[tuple[str, str, bool]]]] = []
    for i in range(USERS):
        jobs.append(link(f"U{worker}-{i}", f"L{worker}-{i}"))  # distinct per process
        jobs.append(link(f"S{i}", f"LS{i}"))  # the same in both processes
    for j in range(MODULES):
        jobs.append(track(f"M{worker}-{j}", f"own{worker}-{j}"))
        jobs.append(track(f"MS{j}", f"shared{j}"))
    return list(await _gather(jobs))


async def conflicting_links(db: Database, worker: int) -> list[tuple[str, str]]:
    """Both processes try to link the same learners to *different* users: each learner ends up with one."""
    links = LinkRepository(db)
    outcome: list[tuple[str, str]] = []

    def job(i: int) -> Callable[[], Awaitable[None]]:
        async def run_one() -> None:
            try:
                await links.link("T1", f"W{worker}-U{i}", "zoho", f"X{i}", email=None, method="self", linked_by="x")
                outcome.append(("won", f"X{i}"))
            except LinkConflict:
                outcome.append(("conflict", f"X{i}"))

        return run_one

    await _gather([job(i) for i in range(USERS)])
    return outcome


async def claims(db: Database, worker: int) -> list[str]:
    repo = SentReminderRepository(db)

    def job(i: int) -> Callable[[], Awaitable[str | None]]:
        async def run_one() -> str | None:
            claim = await repo.claim("T1", f"U{i % 10}", f"item-{i}", "2026-11-24", stale_after=timedelta(minutes=5))
            return f"item-{i}" if claim else None

        return run_one

    return [key for key in await _gather([job(i) for i in range(CLAIMS)]) if key]


async def rate_limit(db: Database, worker: int) -> list[float]:
    backend = SqlRateLimitBackend(db)
    granted: list[float] = []
    for _ in range(RATE_ATTEMPTS):
        now = time.time()
        if (await backend.acquire("zoho:shared", now, RATE_LIMIT, 30.0)).granted:
            granted.append(now)
    return granted


async def daily_budget(backend: RateLimitBackend, worker: int) -> list[str]:
    """Both processes spend one account's daily budget through many endpoints at once (4 in flight each)."""
    limiter = RateLimiter(backend, RateLimitPolicy(limit=1000))
    quota = DailyQuota("zoho:shared-day", DAILY_BUDGET)

    def job(i: int) -> Callable[[], Awaitable[str | None]]:
        async def run_one() -> str | None:
            key = f"zoho:shared-day:endpoint-{i % 7}"
            try:
                await limiter.acquire(key, max_wait=0, daily=quota)
            except DailyBudgetExhaustedError:
                return None
            return f"W{worker}-{i}"

        return run_one

    return [call for call in await _gather([job(i) for i in range(DAILY_ATTEMPTS)]) if call]


async def daily_budget_sql(db: Database, worker: int) -> list[str]:
    return await daily_budget(SqlRateLimitBackend(db), worker)


SCENARIOS: dict[str, Callable[[Database, int], Awaitable[Any]]] = {
    "links_and_modules": links_and_modules,
    "conflicting_links": conflicting_links,
    "claims": claims,
    "rate_limit": rate_limit,
    "daily_budget": daily_budget_sql,
}
RATE_SCENARIOS: dict[str, Callable[[RateLimitBackend, int], Awaitable[Any]]] = {"daily_budget": daily_budget}
