"""Reminder scheduler benchmark (issue 10): days of scheduled sweeps on a virtual clock, per cell of a matrix.

Everything runs locally over real HTTP: the LMS sandbox (Zoho's documented 30 calls a minute per endpoint and
5-minute lock are enforced), the Slack stand-in, a SQLite database. Sandbox, rate limiter, cache and engine share
one virtual clock, so a day of sweeps every few minutes passes in far less real time.

Data: per course about 60% complete, 25% not started, 15% in progress (`BENCH_MIX`), 5 tracked modules in 2
courses, send times at 09:00 local in 3 time zones. The data moves as a compliance campaign's does: each working
day `BENCH_PROGRESS` percent of the learners (default 3) do one more mandatory item of a tracked module open to
them (the first left in a course, at a moment of their 09:00-17:00; sessions are never attended), so records
change between sweeps and the bulk path pays for what changed. 0: the data stays as seeded all week.

A cell: a size (`BENCH_SIZES`, default 1000; the issue's matrix is 1000,5000,10000), a budget (`BENCH_BUDGETS`:
essential = lmsbot's 2,000 of a 5,000 cap, enterprise = 10,000 of 25,000), bulk reads on or off (`BENCH_BULK`:
on,off). `BENCH_DAYS` (default 3: day 1, then the
steady state; the issue's run is 7) and `BENCH_SWEEP_MINUTES` (default 15, on the send times' quarter hours;
the scheduler's own default is 5) set the run. Real time is about 1.5 s per 100 learners per simulated day.

Per cell: LMS calls per day by endpoint, calls per (learner, module) per day, budget overruns (24 h windows
over the budget), locks, digests later than 5 minutes (count, worst; a digest never sent counts as late), the
age of the data digests were built from (p50, max), peak RSS, CPU per learner per day, Slack calls by method.
Peak RSS and CPU are the scheduler's own: it runs alone in a child process (bench/isolate.py), the sandbox and the
Slack stand-in in the bench process. `BENCH_ISOLATE=0` runs everything in one process as before (figures then
the whole bench process's). `BENCH_JOBS` (default 1) runs that many cells at once, each in its own process: the
issue's matrix (12 cells, 7 days, 5-minute sweeps) takes hours in one process; cells side by side share the cores,
so their times (not their counts) are then upper bounds.
`make bench` runs it; it is not part of `make test`.
"""

from __future__ import annotations

import asyncio
import bisect
import multiprocessing
import os
import random
import resource
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from isolate import run_scheduler, shared_time

import bot.reminders.engine as engine_module
from bot.config import Settings
from bot.container import build_services
from bot.devkit.clock import VirtualClock
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.sandbox.state import SandboxState
from bot.devkit.slackstub import SlackStub, SlackStubServer, Workspace
from bot.reminders import schedule
from bot.reminders.report import Sent, SweepReport
from bot.reminders.settings import ReminderConfig
from bot.scheduler import build_engine
from bot.services.slack_gateway import TIER_PER_MINUTE, Pacer
from storage import migrate
from storage.crypto import Keyring
from storage.repositories.cache import LmsCacheRepository
from storage.repositories.preferences import ReminderPreferences
from storage.repositories.reminders import SentReminderRepository

TEAM = "T0BENCH"
START = datetime(2026, 3, 30, 0, 0, tzinfo=UTC)  # a Monday, 00:00 UTC
TRACKS = (
    ("security-1", seed.SELF_PACED_COURSE, None, seed.SP_MODULE_1),
    ("security-2", seed.SELF_PACED_COURSE, None, seed.SP_MODULE_2),
    ("kickoff", seed.BLENDED_COURSE, seed.BATCH_SPRING, seed.BL_KICKOFF),
    ("feedback", seed.BLENDED_COURSE, seed.BATCH_SPRING, seed.BL_FEEDBACK),
    ("coaching", seed.BLENDED_COURSE, seed.BATCH_SPRING, seed.BL_COACHING),
)
ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata")
BUDGETS = {"essential": 2000, "enterprise": 10000}
LOCK_STATUSES = (422, 429)
LATE = timedelta(minutes=5)
WORKDAYS = ReminderPreferences(TEAM, "-").weekday_set  # the learners' reminder days: the defaults


def env_list(name: str, default: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


@dataclass
class Cell:
    learners: int
    budget: str
    bulk: bool
    days: int
    sweep_minutes: float
    # results
    calls_by_day: list[Counter[str]] = field(default_factory=list)
    rolling: list[tuple[float, int]] = field(default_factory=list)  # (time, calls) per sweep
    locks: int = 0
    expected: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (user, period) -> send moment
    left: dict[tuple[str, str], datetime] = field(default_factory=dict)  # -> the sweep that sent it
    nothing: int = 0
    ages: Counter[int] = field(default_factory=Counter)
    slack: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    cpu: float = 0.0
    rss_mb: float = 0.0
    rss_of: str = "whole bench process"
    learned: int = 0  # items the learners did in the LMS during the run (BENCH_PROGRESS)


SINK: list[Sent] = []


@dataclass
class _StreamedReport(SweepReport):
    """The engine's report, with every sent message told to the bench (the report itself keeps a sample)."""

    def __post_init__(self) -> None:
        self.sent.tell = SINK.append


def workspace(learners: dict[int, str]) -> tuple[Workspace, dict[str, str]]:
    ws = Workspace(team_id=TEAM)
    zones: dict[str, str] = {}
    for n, (_, name) in enumerate(sorted(learners.items())):
        zones[f"U{n:06d}"] = ZONES[n % len(ZONES)]
        ws.add_user(f"U{n:06d}", f"user{n}", name, f"user{n}@example.com", ZONES[n % len(ZONES)])
    ws.add_user(ws.bot_user_id, ws.bot_name, "LMS Bot", None, "UTC", is_bot=True, bot_id=ws.bot_id)
    return ws, zones


class Learning:
    """The learners' own progress over the run (BENCH_PROGRESS): who does an item when, decided up front from the
    seed; what they do is decided when it happens (the first mandatory item left in a tracked module open to
    them), so it follows what they did before."""

    def __init__(self, state: SandboxState, zones: dict[int, str], days: int, percent: float) -> None:
        self.state = state
        events: list[tuple[float, int]] = []
        for day in range(days):
            for learner_id, zone in sorted(zones.items()):
                rng = random.Random(f"bench:learn:{day}:{learner_id}")
                if rng.random() * 100 >= percent:
                    continue
                local_day = (START + timedelta(days=day)).astimezone(ZoneInfo(zone)).date()
                if schedule.weekday(local_day) not in WORKDAYS:
                    continue
                at = datetime.combine(local_day, clock_time(9, 0), tzinfo=ZoneInfo(zone)) + timedelta(
                    seconds=rng.uniform(0, 8 * 3600)
                )
                events.append((at.timestamp(), learner_id))
        events.sort()
        self.events = events
        self.done = 0  # events applied so far

    def __call__(self, until: float) -> int:
        """Apply what happens up to `until`; how many items were done."""
        end = bisect.bisect_right(self.events, (until, 2**63))
        items = 0
        for at, learner_id in self.events[self.done : end]:
            rng = random.Random(f"bench:learn:{at}:{learner_id}")
            courses = sorted({(course, batch) for _, course, batch, _ in TRACKS})
            rng.shuffle(courses)
            for course, batch in courses:
                modules = [m for _, c, b, m in TRACKS if (c, b) == (course, batch)]
                if any(seed.do_next_item(self.state, learner_id, course, batch, m, rng) for m in modules):
                    items += 1
                    break
        self.done = end
        return items


@dataclass
class _LocalState:
    """The sandbox's state as drive() uses it, in one process (BENCH_ISOLATE=0)."""

    state: SandboxState
    learn: Learning

    @property
    def learners(self) -> dict[int, Any]:
        return self.state.learners  # type: ignore[return-value]

    @property
    def calls(self) -> list[Any]:
        return self.state.calls  # type: ignore[return-value]

    def clear_calls(self) -> None:
        self.state.clear_calls()


@dataclass
class _LocalSandbox:
    url: str
    config: SandboxConfig
    state: _LocalState


async def drive(cell: Cell, sandbox: Any, slack: SlackStub, url: str, clock: VirtualClock, db: str) -> None:
    """The run, against `sandbox` (url, config, state with learners, calls, clear_calls and learn(until))."""
    cfg = sandbox.config
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db,
        lmsbot_env="development",
        lmsbot_encryption_keys=Keyring.generate_key(),
        slack_bot_token=slack.workspace.bot_token,
        slack_api_url=url,
        zoho_people_url=sandbox.url,
        zoho_accounts_url=sandbox.url,
        zoho_client_id=cfg.zoho_client_id,
        zoho_client_secret=cfg.zoho_client_secret,
        zoho_refresh_token=cfg.zoho_refresh_token,
        zoho_daily_call_budget=BUDGETS[cell.budget],
        zoho_bulk_reads="auto" if cell.bulk else "off",
    )
    services = build_services(settings, clock=clock)

    def now() -> datetime:
        return datetime.fromtimestamp(clock.now(), UTC)

    services.cache.store = LmsCacheRepository(services.db, clock=now)
    services.reminders = SentReminderRepository(services.db, clock=now)
    # Slack's per-minute tiers in virtual minutes, as the stand-in counts them (run_cell): a day of sweeps
    # passes in minutes, and a pacer waiting real minutes would leave the scheduler idle (the tests do the same).
    services.slack.pacer = Pacer(TIER_PER_MINUTE, clock=clock.now, sleep=clock.sleep)
    try:
        users = {u.real_name: u.id for u in slack.workspace.users.values() if not u.is_bot}
        zones = {u.id: u.tz for u in slack.workspace.users.values() if not u.is_bot}
        for learner_id, learner in sorted(sandbox.state.learners.items()):
            user = users[f"{learner.name} #{learner_id}"]
            await services.links_repo.link(
                TEAM, user, "zoho", str(learner_id), email=None, method="csv", linked_by="bench"
            )
            await services.preferences.update(TEAM, user, timezone=zones[user])
        for alias, course, batch, module in TRACKS:
            await services.modules_repo.track(
                TEAM, "zoho", str(course), str(batch) if batch else None, str(module), alias=alias, created_by="bench"
            )
        config = ReminderConfig(_env_file=None, manager_digest=False, sweep_minutes=cell.sweep_minutes)  # type: ignore[call-arg]
        engine = build_engine(services, config, clock=now)
        sandbox.state.clear_calls()
        slack.clear()
        engine_module.SweepReport = _StreamedReport  # type: ignore[misc]
        step = timedelta(minutes=cell.sweep_minutes)
        moment = START
        end = START + timedelta(days=cell.days)
        for day in range(cell.days + 1):  # every learner's 09:00 of each of their reminder days
            for user, zone in zones.items():
                local_day = (START + timedelta(days=day)).astimezone(ZoneInfo(zone)).date()
                at = datetime.combine(local_day, clock_time(9, 0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
                # The default days are Monday to Friday: no digest is due at the weekend (days 6-7 of a week).
                if START <= at < end and schedule.weekday(local_day) in WORKDAYS:
                    cell.expected[(user, local_day.isoformat())] = at
        cell.calls_by_day = [Counter() for _ in range(cell.days)]
        while moment < end:
            clock.advance(moment.timestamp() - clock.now())
            cell.learned += sandbox.state.learn(moment.timestamp())
            SINK.clear()
            [report] = await clock.drive([engine.sweep()])
            assert isinstance(report, SweepReport)
            for sent in SINK:
                if sent.item_key == "digest":
                    cell.left.setdefault((sent.user_id, sent.period), moment)
            cell.nothing += report.nothing
            cell.ages.update(report.data_age_hours)
            calls = [c for c in sandbox.state.calls if not c.endpoint.endswith("token")]
            for c in calls:
                index = min(cell.days - 1, int((c.at - START.timestamp()) // 86400))
                cell.calls_by_day[index][c.endpoint] += 1
                cell.locks += c.status in LOCK_STATUSES
            cell.rolling.append((moment.timestamp(), len(calls)))
            sandbox.state.clear_calls()
            moment += step
        cell.slack = Counter(c.method for c in slack.calls)
    finally:
        engine_module.SweepReport = SweepReport  # type: ignore[misc]
        await services.aclose()


def run_cell(cell: Cell) -> Cell:
    started, cpu = time.perf_counter(), time.process_time()
    isolate = os.environ.get("BENCH_ISOLATE", "1") != "0"
    now = shared_time(START.timestamp())
    clock = VirtualClock(START.timestamp())
    mix = tuple(int(v) for v in env_list("BENCH_MIX", "60,25,15"))
    sandbox_clock = (lambda: now.value) if isolate else clock
    state = seed.build_state("demo", learners=cell.learners, clock=sandbox_clock, mix=(mix[0], mix[1], mix[2]))
    names = {lid: f"{learner.name} #{lid}" for lid, learner in state.learners.items()}
    ws, _ = workspace(names)
    zones = {lid: ZONES[n % len(ZONES)] for n, lid in enumerate(sorted(names))}  # as workspace() gives them
    learning = Learning(state, zones, cell.days, float(os.environ.get("BENCH_PROGRESS", "3")))
    with tempfile.TemporaryDirectory(prefix="lmsbot-bench-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(db)
        stub = SlackStub(ws)
        stub.rate_clock = sandbox_clock if isolate else clock.now  # Slack's tiers count virtual minutes
        with SandboxServer(SandboxConfig(), state=state) as sandbox, SlackStubServer(stub) as slack_server:
            if isolate:  # the scheduler alone in a child process: its peak RSS and CPU are its own
                measured = run_scheduler(drive, cell, sandbox, stub, slack_server.url, now, db, learning)
                cell.wall = time.perf_counter() - started
                cell.cpu, cell.rss_mb, cell.rss_of = measured.cpu, measured.peak_rss_mb, "scheduler process"
                return cell
            local = _LocalSandbox(sandbox.url, sandbox.config, _LocalState(state, learning))
            asyncio.run(drive(cell, local, stub, slack_server.url, clock, db))
    cell.wall = time.perf_counter() - started
    cell.cpu = time.process_time() - cpu
    cell.rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return cell


def overruns(cell: Cell) -> int:
    budget = BUDGETS[cell.budget]
    times = cell.rolling
    count, total, lo = 0, 0, 0
    for t, n in times:
        total += n
        while times[lo][0] <= t - 86400:
            total -= times[lo][1]
            lo += 1
        count += total > budget
    return count


def percentile(hist: Counter[int], q: float) -> int | None:
    total = sum(hist.values())
    if not total:
        return None
    seen = 0
    for hours in sorted(hist):
        seen += hist[hours]
        if seen >= q * total:
            return hours
    return max(hist)


def report(cell: Cell) -> list[str]:
    pairs = cell.learners * len(TRACKS)
    first = cell.calls_by_day[0] if cell.calls_by_day else Counter()
    steady = cell.calls_by_day[1:]
    steady_calls = sum(sum(c.values()) for c in steady) / max(len(steady), 1)
    late: list[timedelta] = []
    for key, due in cell.expected.items():
        left = cell.left.get(key)
        if left is None:
            continue  # nothing pending (no message) or not a send day: checked against `nothing` below
        late.append(left - due)
    missing = len(cell.expected) - len(cell.left) - cell.nothing
    over = [d for d in late if d > LATE]
    worst = max(late, default=timedelta(0))
    endpoints: Counter[str] = Counter()
    for day in steady:
        endpoints.update(day)
    bulk = "on" if cell.bulk else "off"
    name = f"{cell.learners:,} learners · {cell.budget} ({BUDGETS[cell.budget]:,}/day) · bulk {bulk}"
    lines = [
        f"== {name} · {cell.days} days, sweeps every {cell.sweep_minutes:g} min",
        f"  day 1: {sum(first.values()):,} LMS calls ({sum(first.values()) / pairs:.3f} per (learner, module)): "
        + ", ".join(f"{e} {n:,}" for e, n in first.most_common()),
        f"  days 2–{cell.days}: {steady_calls:,.0f} a day ({steady_calls / pairs:.3f} per (learner, module)): "
        + ", ".join(f"{e} {n / max(len(steady), 1):,.0f}" for e, n in endpoints.most_common()),
        f"  budget overruns: {overruns(cell)} · locks: {cell.locks} · learners did {cell.learned:,} items in the LMS"
        f" meanwhile (BENCH_PROGRESS {os.environ.get('BENCH_PROGRESS', '3')}% a working day)",
        f"  digests: {len(cell.left):,} sent, {cell.nothing:,} with nothing pending; later than 5 min: "
        f"{len(over):,} (worst {worst.total_seconds() / 60:.0f} min); never sent: {max(missing, 0):,}",
        f"  data age at send: p50 {percentile(cell.ages, 0.5)} h, max {max(cell.ages, default=None)} h",
        f"  peak RSS {cell.rss_mb:.0f} MB ({cell.rss_of}) · CPU {cell.cpu / cell.learners / cell.days * 1000:.1f}"
        f" ms per learner per day · {cell.wall:.0f} s real time",
        "  Slack: " + ", ".join(f"{m} {n:,}" for m, n in cell.slack.most_common()),
    ]
    return lines


def main() -> None:
    sizes = [int(v) for v in env_list("BENCH_SIZES", "1000")]
    budgets = env_list("BENCH_BUDGETS", "essential,enterprise")
    bulk = [v == "on" for v in env_list("BENCH_BULK", "on,off")]
    days = int(os.environ.get("BENCH_DAYS", "3"))
    minutes = float(os.environ.get("BENCH_SWEEP_MINUTES", "15"))
    cells = [Cell(size, budget, on, days, minutes) for size in sizes for budget in budgets for on in bulk]
    jobs = int(os.environ.get("BENCH_JOBS", "1"))
    if jobs <= 1:
        for cell in cells:
            print("\n".join(report(run_cell(cell))), flush=True)
        return
    # Cells side by side, one process each (each its own sandbox, Slack stand-in and database; RSS and CPU
    # are then each cell's own process's), printed in matrix order as they finish.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for done in pool.map(run_cell, cells):
            print("\n".join(report(done)), flush=True)


if __name__ == "__main__":
    main()
