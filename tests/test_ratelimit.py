import asyncio
import uuid

import pytest

from bot.lms.clock import VirtualClock
from bot.lms.errors import RateLimitedError
from bot.lms.ratelimit import MemoryBackend, Priority, RateLimiter, RateLimitPolicy, RedisBackend

POLICY = RateLimitPolicy(limit=30, window=60.0, lock_seconds=300.0, interactive_reserve=5)


def max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_100_queued_calls_never_exceed_30_in_any_minute() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(MemoryBackend(), POLICY, clock)
    sent: list[float] = []

    async def call() -> None:
        await limiter.acquire("zoho:acct:module-progress")
        sent.append(clock.now())

    await clock.drive(call() for _ in range(100))
    assert len(sent) == 100
    assert max_in_any_window(sent, 60.0) <= 30
    # Not over-cautious either: 100 calls fit in 4 windows (the first 30 go at once).
    assert sent[-1] - sent[0] <= 3 * POLICY.effective_window + 1
    assert sum(1 for t in sent if t == sent[0]) == 30


async def test_background_work_leaves_a_reserve_for_people() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(MemoryBackend(), POLICY, clock)
    key = "zoho:acct:module-progress"
    for _ in range(25):
        await limiter.acquire(key, priority=Priority.BACKGROUND, max_wait=0)
    with pytest.raises(RateLimitedError):
        await limiter.acquire(key, priority=Priority.BACKGROUND, max_wait=0)
    for _ in range(5):  # a person still gets an answer at once
        await limiter.acquire(key, priority=Priority.INTERACTIVE, max_wait=0)
    with pytest.raises(RateLimitedError) as info:
        await limiter.acquire(key, priority=Priority.INTERACTIVE, max_wait=0)
    assert 0 < info.value.retry_after <= POLICY.effective_window


async def test_reported_lock_stops_every_call_for_the_lock_period() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(MemoryBackend(), POLICY, clock)
    key = "zoho:acct:sessions"
    await limiter.report_lock(key)
    with pytest.raises(RateLimitedError) as info:
        await limiter.acquire(key, max_wait=10)
    assert info.value.retry_after == pytest.approx(300)
    clock.advance(299)
    with pytest.raises(RateLimitedError):
        await limiter.acquire(key, max_wait=0)
    budget = await limiter.budget(key)
    assert budget.remaining == 0 and budget.locked_for == pytest.approx(1)
    clock.advance(1.01)
    await limiter.acquire(key, max_wait=0)
    # Other endpoints were never affected.
    await limiter.acquire("zoho:acct:module-progress", max_wait=0)


async def test_waiting_caller_resumes_after_the_lock() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(MemoryBackend(), POLICY, clock)
    await limiter.report_lock("k", 300)
    start = clock.now()
    await clock.drive([limiter.acquire("k")])
    assert clock.now() - start == pytest.approx(300)


@pytest.mark.redis
async def test_redis_backend_shares_one_budget_between_processes(redis_url: str) -> None:
    from redis.asyncio import Redis

    prefix = f"lmsbot-test:{uuid.uuid4().hex}:"
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    try:
        clock = VirtualClock()
        # Two limiters with separate connections stand for the web and worker processes.
        web, worker = (RateLimiter(RedisBackend(c, prefix), POLICY, clock) for c in clients)
        sent: list[float] = []

        async def call(limiter: RateLimiter) -> None:
            await limiter.acquire("zoho:acct:module-progress")
            sent.append(clock.now())

        await clock.drive([call(web if i % 2 else worker) for i in range(70)])
        assert len(sent) == 70
        assert max_in_any_window(sent, 60.0) <= 30
        await web.report_lock("zoho:acct:x", 300)
        with pytest.raises(RateLimitedError):
            await worker.acquire("zoho:acct:x", max_wait=0)
        assert (await worker.budget("zoho:acct:module-progress")).used <= 30
    finally:
        for c in clients:
            keys = [k async for k in c.scan_iter(match=prefix + "*")]
            if keys:
                await c.delete(*keys)
            await c.aclose()


async def test_limiter_is_safe_under_real_concurrency() -> None:
    limiter = RateLimiter(MemoryBackend(), RateLimitPolicy(limit=10, window=60), None)
    results = await asyncio.gather(*(limiter.acquire("k", max_wait=0) for _ in range(15)), return_exceptions=True)
    assert sum(1 for r in results if r is None) == 10
    assert sum(1 for r in results if isinstance(r, RateLimitedError)) == 5
