"""One script of acquires that every rate-limit backend must answer exactly as the in-memory one does."""

from __future__ import annotations

from bot.lms.ratelimit import DailyQuota, Decision, RateLimitBackend

DAY = 86400.0
T0 = 1_700_000_000.0


def _steps() -> list[tuple[str, float, int, DailyQuota | None]]:
    quota = DailyQuota("zoho:acct", 6)
    steps: list[tuple[str, float, int, DailyQuota | None]] = []
    # The window: 3 calls a minute on one endpoint.
    for dt in (0.0, 0.5, 1.0, 1.0, 2.0, 30.0, 60.9, 61.0, 61.0, 75.0):
        steps.append(("zoho:acct:a", T0 + dt, 3, quota))
    # The day: other endpoints of the same account share its 6 calls, then wait for the oldest minute to age out.
    for dt in (100.0, 200.0, 300.0, DAY - 1.0, DAY + 30.0, DAY + 60.0, DAY + 61.0, DAY + 200.0):
        steps.append((f"zoho:acct:b{int(dt) % 7}", T0 + dt, 30, quota))
    # Another account and a key without a daily quota are untouched.
    steps.append(("zoho:other:a", T0 + 100.0, 3, DailyQuota("zoho:other", 1)))
    steps.append(("zoho:other:a", T0 + 101.0, 3, DailyQuota("zoho:other", 1)))
    steps.append(("ispring:x:a", T0 + 101.0, 3, None))
    return steps


async def decisions(backend: RateLimitBackend) -> list[Decision]:
    out: list[Decision] = []
    for key, now, limit, quota in _steps():
        decision = await backend.acquire(key, now, limit, 60.0, quota)
        out.append(Decision(decision.verdict, round(decision.wait, 6)))
    return out
