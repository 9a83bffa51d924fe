import asyncio
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.devkit.clock import VirtualClock
from bot.lms.errors import DailyBudgetExhaustedError, RateLimitedError
from bot.lms.ratelimit import (
    DailyQuota,
    Decision,
    MemoryBackend,
    Priority,
    RateLimiter,
    RateLimitPolicy,
    RedisBackend,
    Verdict,
)
from tests.support.ratelimit import T0, decisions

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


# --- the daily budget ------------------------------------------------------------------------------------------

DAY = 86400.0
ACCOUNT = DailyQuota("zoho:acct", 100)


def calls_in_any_day(times: list[float]) -> int:
    return max_in_any_window(times, DAY)


async def test_daily_budget_is_never_exceeded_over_any_24_hours() -> None:
    # Midnight UTC: the day boundary must not matter, the count is rolling.
    clock = VirtualClock(start=1_700_006_400.0)
    limiter = RateLimiter(MemoryBackend(), POLICY, clock)
    sent: list[float] = []
    refused = 0
    # 3 calls every 10 minutes for 3 days, over 30 endpoints: 432 wanted a day, 100 allowed.
    for step in range(3 * 144):
        for i in range(3):
            try:
                await limiter.acquire(f"zoho:acct:e{(step * 3 + i) % 30}", max_wait=0, daily=ACCOUNT)
                sent.append(clock.now())
            except DailyBudgetExhaustedError:
                refused += 1
        clock.advance(600)
    assert calls_in_any_day(sent) == 100  # the whole budget is used, never more
    assert refused > 0 and len(sent) + refused == 3 * 144 * 3
    # Not over-cautious: as the first day's calls age out, the next day's go through.
    assert sum(1 for t in sent if t >= sent[0] + DAY) >= 100


async def test_daily_refusal_says_when_to_try_again() -> None:
    clock = VirtualClock(start=1_700_000_000.0)  # 2023-11-14 22:13:20 UTC
    limiter = RateLimiter(MemoryBackend(), POLICY, clock, zone=ZoneInfo("Europe/Berlin"))
    quota = DailyQuota("zoho:acct", 3)
    for i in range(3):
        await limiter.acquire(f"zoho:acct:e{i}", daily=quota)
        clock.advance(3600)
    with pytest.raises(DailyBudgetExhaustedError) as info:
        await limiter.acquire("zoho:acct:e9", max_wait=8, daily=quota)
    # The first call's minute (22:13 UTC) leaves the rolling day at 22:14 UTC the next day: 23:14 in Berlin.
    assert info.value.retry_after == pytest.approx(DAY - 3 * 3600 + 40)
    assert info.value.message == (
        "The LMS's daily API budget for this workspace is used up; try again after 23:14 CET"  # later the same day
    )
    clock.advance(info.value.retry_after)
    await limiter.acquire("zoho:acct:e9", max_wait=0, daily=quota)


async def test_background_work_leaves_a_tenth_of_the_day_to_people() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(MemoryBackend(), RateLimitPolicy(limit=1000), clock)
    for _ in range(90):
        await limiter.acquire("zoho:acct:x", priority=Priority.BACKGROUND, daily=ACCOUNT)
    # No wait limit is no licence to wait hours: background work is refused at once.
    with pytest.raises(DailyBudgetExhaustedError):
        await asyncio.wait_for(limiter.acquire("zoho:acct:x", priority=Priority.BACKGROUND, daily=ACCOUNT), 1)
    for _ in range(10):
        await limiter.acquire("zoho:acct:x", max_wait=0, daily=ACCOUNT)
    with pytest.raises(DailyBudgetExhaustedError):
        await limiter.acquire("zoho:acct:x", max_wait=0, daily=ACCOUNT)


async def test_daily_usage_counts_the_last_24_hours_and_projects_today() -> None:
    start = datetime(2026, 12, 1, 18, 0, tzinfo=UTC).timestamp()  # yesterday 18:00
    clock = VirtualClock(start=start)
    limiter = RateLimiter(MemoryBackend(), RateLimitPolicy(limit=1000), clock)
    for _ in range(30):
        await limiter.acquire("zoho:acct:x", daily=ACCOUNT)
    clock.advance(12 * 3600)  # today 06:00
    for _ in range(60):
        await limiter.acquire("zoho:acct:y", daily=ACCOUNT)
    usage = await limiter.daily_usage(ACCOUNT)
    assert (usage.used, usage.limit, usage.remaining, usage.used_today) == (90, 100, 10, 60)
    assert usage.projected_today == 240 and usage.zone == "UTC"  # 60 in 6 h: 240 by midnight
    clock.advance(12 * 3600 + 60)  # yesterday's calls have left the rolling day
    assert (await limiter.daily_usage(ACCOUNT)).used == 60


async def test_locks_windows_and_the_day_are_one_decision() -> None:
    """The backend answers with the binding reason; the limiter waits for the lock, not just the window."""
    clock = VirtualClock()
    backend = MemoryBackend()
    policy = RateLimitPolicy(limit=2, window=60, safety_margin=0)
    limiter = RateLimiter(backend, policy, clock)
    await limiter.acquire("k", daily=ACCOUNT)
    await limiter.acquire("k", daily=ACCOUNT)
    assert await backend.acquire("k", clock.now(), 2, 60.0, ACCOUNT) == Decision(Verdict.WINDOW, 60.0)
    await limiter.report_lock("k", 300)
    assert await backend.acquire("k", clock.now(), 2, 60.0, ACCOUNT) == Decision(Verdict.LOCKED, 300.0)
    # The clock stands 20 s into a minute: that minute's calls leave the rolling day 24 h 40 s from now.
    assert await backend.acquire("k", clock.now(), 5, 60.0, DailyQuota("zoho:acct", 2)) == Decision(
        Verdict.DAILY, DAY + 40.0
    )
    assert [b[1] for b in await backend.daily_buckets("zoho:acct", clock.now())] == [2]


async def test_the_script_of_decisions() -> None:
    answers = await decisions(MemoryBackend())
    verdicts = [d.verdict.value[0] for d in answers]  # g(ranted), w(indow), d(aily)
    assert "".join(verdicts) == "gggwwwgggd" + "dddddggg" + "gdg"
    assert answers[3].wait == pytest.approx(59.0)  # the call at T0 leaves the window at T0 + 60
    # The first minute's calls (the bucket starting 20 s before T0) leave the rolling day at T0 + 24 h 40 s.
    assert answers[10].wait == pytest.approx(DAY + 40 - 100)


@pytest.mark.redis
async def test_redis_backend_answers_like_the_memory_backend(redis_url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    prefix = f"lmsbot-test:{uuid.uuid4().hex}:"
    try:
        assert await decisions(RedisBackend(client, prefix)) == await decisions(MemoryBackend())
        buckets = await RedisBackend(client, prefix).daily_buckets("zoho:acct", T0 + DAY + 200)
        assert buckets == [(T0 + DAY + 40, 2), (T0 + DAY + 160, 1)]  # minutes start 20 s before T0 + n min
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.mark.redis
async def test_redis_backend_takes_a_burst_of_acquires_and_decides_them_in_order(redis_url: str) -> None:
    """Fifty commands at once make a few hundred acquires: each used to take a connection of its own (redis-py's
    pool refuses the 101st, so `/lms progress` failed). They go out pipelined now, decided in arrival order as if
    one by one: the window and the daily quota hold exactly."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    prefix = f"lmsbot-test:{uuid.uuid4().hex}:"
    quota = DailyQuota("zoho:acct", 170)
    burst = [(f"zoho:acct:{name}", T0 + i * 0.001) for i, name in enumerate(["progress", "progress", "plans"] * 100)]
    memory = MemoryBackend()
    expected = [await memory.acquire(key, now, 90, 60.0, quota) for key, now in burst]
    try:
        backend = RedisBackend(client, prefix)
        got = await asyncio.gather(*(backend.acquire(key, now, 90, 60.0, quota) for key, now in burst))
        assert [(d.verdict, round(d.wait, 3)) for d in got] == [(d.verdict, round(d.wait, 3)) for d in expected]
        # progress: its 90 a minute; plans: the 80 the day had left after that (170).
        assert [
            sum(d.granted for (k, _), d in zip(burst, got, strict=True) if k.endswith(e)) for e in ("progress", "plans")
        ] == [90, 80]
        assert {d.verdict for d in got} == {Verdict.GRANTED, Verdict.WINDOW, Verdict.DAILY}
        assert sum(c for _, c in await backend.daily_buckets("zoho:acct", T0 + 1)) == 170
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
