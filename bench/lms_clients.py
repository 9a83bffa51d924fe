"""LMS client benchmark against the local sandbox (no network beyond 127.0.0.1).

Reports:
- rate limiter: 300 queued calls to one endpoint on a virtual clock — calls in the busiest 60 s window
  (must be <= 30) and the simulated time taken vs. the theoretical bound (calls / 30 per minute);
- HTTP: module-progress latency p50/p99 through the full client stack (auth, limiter, parsing);
- iSpring: all module results for 1,000 learners, XML vs. JSON, records per second;
- parsing: documented progress samples parsed per second.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path

from bot.config import Settings
from bot.devkit.clock import VirtualClock
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.server import SandboxConfig, SandboxServer
from bot.lms.factory import LmsClients
from bot.lms.ratelimit import MemoryBackend, RateLimiter, RateLimitPolicy
from bot.lms.zoho_models import ModuleProgress

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "zoho_progress_blended.json"


def settings(server: SandboxServer, **extra: object) -> Settings:
    cfg = server.config
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        zoho_people_url=server.url,
        zoho_accounts_url=server.url,
        zoho_client_id=cfg.zoho_client_id,
        zoho_client_secret=cfg.zoho_client_secret,
        zoho_refresh_token=cfg.zoho_refresh_token,
        ispring_api_url=server.url + "/ispring",
        ispring_client_id=cfg.ispring_client_id,
        ispring_client_secret=cfg.ispring_client_secret,
        **extra,
    )


async def limiter_bench() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(MemoryBackend(), RateLimitPolicy(), clock)
    sent: list[float] = []

    async def call() -> None:
        await limiter.acquire("bench:module-progress")
        sent.append(clock.now())

    start = time.perf_counter()
    await clock.drive(call() for _ in range(300))
    wall = time.perf_counter() - start
    busiest = max(sum(1 for t in sent if s <= t < s + 60) for s in sent)
    simulated = max(sent) - min(sent)
    bound = (300 / 30 - 1) * 60  # the last batch of 30 can start after 9 full minutes
    print(f"limiter: 300 calls, busiest 60 s window {busiest} calls (limit 30)")
    print(f"limiter: simulated {simulated:.0f} s vs bound {bound:.0f} s (+{simulated / bound - 1:.1%} safety margin)")
    print(f"limiter: computed in {wall * 1000:.0f} ms of real time")


async def http_bench(server: SandboxServer) -> None:
    # A generous limiter so this measures the stack, not the 30-a-minute budget.
    limiter = RateLimiter(MemoryBackend(), RateLimitPolicy(limit=100_000))
    async with LmsClients(settings(server), limiter=limiter) as lms:
        await lms.zoho.module_progress(str(seed.SELF_PACED_COURSE), str(seed.SP_MODULE_1), str(seed.SAMPLE_LEARNER))
        latencies = []
        for _ in range(200):
            t0 = time.perf_counter()
            await lms.zoho.module_progress(
                str(seed.BLENDED_COURSE),
                str(seed.BL_KICKOFF),
                str(seed.SAMPLE_LEARNER),
                batch_id=str(seed.BATCH_SPRING),
            )
            latencies.append((time.perf_counter() - t0) * 1000)
    q = statistics.quantiles(latencies, n=100)
    print(f"http: module-progress x200 p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms")
    for fmt in ("xml", "json"):
        async with LmsClients(settings(server, ispring_response_format=fmt), limiter=limiter) as lms:
            t0 = time.perf_counter()
            results = await lms.ispring.module_results()
            elapsed = time.perf_counter() - t0
        print(f"ispring: {len(results)} results ({fmt}) in {elapsed * 1000:.0f} ms, {len(results) / elapsed:,.0f}/s")


def parse_bench() -> None:
    raw = json.loads(FIXTURE.read_text())
    n = 5000
    t0 = time.perf_counter()
    for _ in range(n):
        ModuleProgress.model_validate(raw)
    elapsed = time.perf_counter() - t0
    print(f"parse: {n} blended progress samples in {elapsed * 1000:.0f} ms, {n / elapsed:,.0f}/s")


def main() -> None:
    asyncio.run(limiter_bench())
    with SandboxServer(SandboxConfig(learners=1000, rate_limit=100_000)) as server:
        asyncio.run(http_bench(server))
    parse_bench()


if __name__ == "__main__":
    main()
