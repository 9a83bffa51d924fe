"""Reminder sweep benchmark: 1,000 learners (plus the 8 demo people), 5 tracked modules, everyone due.

Everything runs locally over real HTTP: the LMS sandbox (Zoho's documented 30-calls-a-minute threshold and
5-minute lock are enforced), the Slack stand-in, a SQLite database. The sandbox, the rate limiter, the cache and
the engine share one virtual clock, so minutes of rate-limit waiting pass in no real time while the limiter and
the LMS still agree on every window.

Reports: LMS calls made vs. the (learner, module) pairs that needed checking; the sweep's (virtual) duration vs.
the rate-limit bound (calls ÷ 30 a minute); locks tripped (must be 0); Slack calls; and a second sweep the next
day, when answers known complete are reused instead of fetched.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Settings
from bot.container import build_services
from bot.lms.clock import VirtualClock
from bot.lms.ratelimit import Priority, RateLimitPolicy
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.sandbox import seed
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import SandboxServer
from bot.scheduler import build_engine
from bot.slackstub import SlackStub, SlackStubServer, Workspace
from storage import migrate
from storage.crypto import Keyring
from storage.repositories.cache import LmsCacheRepository
from storage.repositories.reminders import SentReminderRepository

LEARNERS = int(__import__("os").environ.get("BENCH_LEARNERS", "1000"))
TEAM = "T0BENCH"
START = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)  # a Monday
TRACKS = (
    ("security-1", seed.SELF_PACED_COURSE, None, seed.SP_MODULE_1),
    ("security-2", seed.SELF_PACED_COURSE, None, seed.SP_MODULE_2),
    ("kickoff", seed.BLENDED_COURSE, seed.BATCH_SPRING, seed.BL_KICKOFF),
    ("feedback", seed.BLENDED_COURSE, seed.BATCH_SPRING, seed.BL_FEEDBACK),
    ("coaching", seed.BLENDED_COURSE, seed.BATCH_SPRING, seed.BL_COACHING),
)
ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata", "Pacific/Auckland", "America/Los_Angeles")
LOCK_STATUSES = (422, 429)


def workspace(learners: dict[int, str]) -> Workspace:
    ws = Workspace(team_id=TEAM)
    for n, (_, name) in enumerate(sorted(learners.items())):
        ws.add_user(f"U{n:06d}", f"user{n}", name, f"user{n}@example.com", ZONES[n % len(ZONES)])
    ws.add_user(ws.bot_user_id, ws.bot_name, "LMS Bot", None, "UTC", is_bot=True, bot_id=ws.bot_id)
    return ws


async def run(sandbox: SandboxServer, slack: SlackStub, slack_url: str, clock: VirtualClock, db_url: str) -> None:
    cfg = sandbox.config
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        lmsbot_env="development",
        lmsbot_encryption_keys=Keyring.generate_key(),
        slack_bot_token=slack.workspace.bot_token,
        slack_api_url=slack_url,
        zoho_people_url=sandbox.url,
        zoho_accounts_url=sandbox.url,
        zoho_client_id=cfg.zoho_client_id,
        zoho_client_secret=cfg.zoho_client_secret,
        zoho_refresh_token=cfg.zoho_refresh_token,
    )
    services = build_services(settings, clock=clock)

    def now() -> datetime:
        return datetime.fromtimestamp(clock.now(), UTC)

    # Rows stamped on the same clock the sweep reads (build_services wires it into the limiter and the cache's
    # reader only).
    services.cache.store = LmsCacheRepository(services.db, clock=now)
    services.reminders = SentReminderRepository(services.db, clock=now)
    try:
        users = {u.real_name: u.id for u in slack.workspace.users.values() if not u.is_bot}
        learners = sandbox.state.learners
        for learner_id, learner in sorted(learners.items()):
            await services.links_repo.link(
                TEAM,
                users[f"{learner.name} #{learner_id}"],
                "zoho",
                str(learner_id),
                email=None,
                method="csv",
                linked_by="bench",
            )
        for alias, course, batch, module in TRACKS:
            await services.modules_repo.track(
                TEAM, "zoho", str(course), str(batch) if batch else None, str(module), alias=alias, created_by="bench"
            )
        engine = build_engine(services, ReminderConfig(_env_file=None, manager_digest=False), clock=now)  # type: ignore[call-arg]
        sandbox.state.clear_calls()
        slack.clear()
        first = await timed(clock, engine.sweep(force=True))
        show("sweep 1 (cold cache, everyone due)", first, sandbox, slack)
        sandbox.state.clear_calls()
        slack.clear()
        clock.advance(timedelta(days=1).total_seconds())  # Tuesday: a new period, everyone due again
        second = await timed(clock, engine.sweep(force=True))
        show(
            "sweep 2 (next day: modules known complete or locked until a date are not fetched)", second, sandbox, slack
        )
    finally:
        await services.aclose()


async def timed(clock: VirtualClock, sweep: object) -> tuple[SweepReport, float, float]:
    wall = time.perf_counter()
    virtual = clock.now()
    [report] = await clock.drive([sweep])  # type: ignore[list-item]
    assert isinstance(report, SweepReport)
    return report, clock.now() - virtual, time.perf_counter() - wall


def show(title: str, result: tuple[SweepReport, float, float], sandbox: SandboxServer, slack: SlackStub) -> None:
    report, simulated, wall = result
    calls = sandbox.state.calls
    lms = [c for c in calls if not c.endpoint.endswith("token")]
    by_endpoint = Counter(c.endpoint for c in lms)
    locks = sum(1 for c in lms if c.status in LOCK_STATUSES)
    busiest = max(by_endpoint.values()) if by_endpoint else 0
    bound = busiest / 30 * 60  # the busiest endpoint's calls at Zoho's 30 a minute
    policy = RateLimitPolicy()
    share = policy.limit_for(Priority.BACKGROUND)
    background = busiest / share * policy.effective_window  # what the sweep may use: the reserve stays free
    slack_calls = Counter(c.method for c in slack.calls)
    print(f"== {title}")
    print(f"learners due: {report.due}; (learner, module) pairs needing a check: {report.pairs:,}")
    print(
        f"LMS calls: {len(lms):,} ({len(lms) / max(report.pairs, 1):.2f} per pair); "
        f"{report.known_skips:,} pairs answered without a call (known complete, locked, not enrolled); "
        f"{report.cache_hits:,} cache hits"
    )
    print("  by endpoint: " + ", ".join(f"{e} {n:,}" for e, n in by_endpoint.most_common()))
    print(
        f"duration: {simulated / 60:.1f} min simulated vs. rate-limit bound {bound / 60:.1f} min "
        f"({busiest:,} calls to the busiest endpoint ÷ 30 a minute); {wall:.1f} s real time"
    )
    print(
        f"  the sweep's own bound: {background / 60:.1f} min at its background share ({share} of {policy.limit} a "
        f"minute, {policy.effective_window:g} s window; {policy.interactive_reserve} a minute stay free for people)"
    )
    print(f"locks tripped: {locks} (must be 0)")
    print(
        f"Slack calls: {sum(slack_calls.values()):,} ("
        + ", ".join(f"{m} {n:,}" for m, n in slack_calls.most_common())
        + f"); digests sent: {len(report.sent):,}, nothing pending: {report.nothing}, errors: {len(report.errors)}"
    )
    if locks:
        raise SystemExit("the sweep tripped the LMS's lock")


def main() -> None:
    started = time.perf_counter()
    clock = VirtualClock(START.timestamp())
    state = seed.build_state("demo", learners=LEARNERS, clock=clock)
    # Generated names repeat ("Alex Smith"): make each Slack real name unique so links can be made by name.
    names = {lid: f"{learner.name} #{lid}" for lid, learner in state.learners.items()}
    with tempfile.TemporaryDirectory(prefix="lmsbot-bench-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(db_url)
        stub = SlackStub(workspace(names))
        with SandboxServer(SandboxConfig(), state=state) as sandbox, SlackStubServer(stub) as slack_server:
            print(f"sandbox: {len(state.learners):,} learners, {len(TRACKS)} tracked modules, Zoho's 30/min enforced")
            asyncio.run(run(sandbox, stub, slack_server.url, clock, db_url))
    print(f"bench finished in {time.perf_counter() - started:.0f} s of real time")


if __name__ == "__main__":
    main()
