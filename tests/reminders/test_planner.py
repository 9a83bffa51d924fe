"""The refresh planner (bot/reminders/planner.py) against the sandbox and the Slack stand-in, on the virtual clock:
calls counted at the sandbox, digests at the Slack stand-in, sweeps every 15 minutes as the scheduler runs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.devkit.sandbox import seed
from bot.devkit.slackstub.workspace import demo_workspace
from bot.lms.zoho import Endpoint
from bot.reminders.report import SAMPLE, Sent, SweepReport
from bot.reminders.types import Outgoing
from tests.reminders.conftest import PEOPLE, TEAM, MakeWorld, World
from tests.support.slack import text_of

FRIDAY = datetime(2026, 3, 27, 10, 0, tzinfo=UTC)
SUNDAY = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # before Monday's first send (Auckland, Sun 20:00 UTC)
STEP = timedelta(minutes=15)
ZONES = {u.id: u.tz for u in demo_workspace().users.values()}
LOCKS = (422, 429)


@dataclass
class Run:
    """What a stretch of scheduled sweeps did: calls by time, digests by (user, period) with when they left."""

    calls: list[tuple[datetime, int]] = field(default_factory=list)  # (sweep time, Zoho calls it made)
    sent: dict[tuple[str, str], datetime] = field(default_factory=dict)
    reports: list[SweepReport] = field(default_factory=list)
    progress_read: dict[datetime, set[str]] = field(default_factory=dict)  # sweep time -> learners read


def zoho_calls(world: World) -> list[int]:
    return [c.status for c in world.state.calls if "token" not in c.endpoint and "/ispring" not in c.path]


async def run(world: World, start: datetime, end: datetime, run_: Run | None = None) -> Run:
    out = run_ or Run()
    moment = start
    while moment <= end:
        world.set_time(moment)
        before = len(zoho_calls(world))
        seen = len(world.state.calls)
        report = await world.sweep()
        out.progress_read[moment] = {
            c.path.split("/learners/")[1].split("/")[0]
            for c in world.state.calls[seen:]
            if c.endpoint == Endpoint.MODULE_PROGRESS
        }
        out.reports.append(report)
        out.calls.append((moment, len(zoho_calls(world)) - before))
        for sent in report.sent:
            if sent.item_key == "digest":
                out.sent[(sent.user_id, sent.period)] = moment
        moment += STEP
    return out


def send_moment(user: str, period: str) -> datetime:
    day = datetime.fromisoformat(period).date()
    return datetime.combine(day, time(9, 0), tzinfo=ZoneInfo(ZONES[user])).astimezone(UTC)


def busiest_day(run_: Run) -> int:
    """The most Zoho calls in any 24 hours of the run."""
    return max(sum(n for t, n in run_.calls if s <= t < s + timedelta(days=1)) for s, _ in run_.calls)


def lateness(run_: Run) -> dict[str, timedelta]:
    return {user: left - send_moment(user, period) for (user, period), left in run_.sent.items()}


async def test_refreshes_happen_ahead_of_the_send_time_within_the_budget(make_world: MakeWorld) -> None:
    world = await make_world(SUNDAY, settings={"zoho_daily_call_budget": 400})
    got = await run(world, SUNDAY, SUNDAY + timedelta(hours=29))
    monday = {u for (u, p) in got.sent if p == "2026-03-30"}
    assert monday == set(PEOPLE), got.sent
    late = lateness(got)
    assert all(timedelta(0) <= d <= timedelta(minutes=5) for d in late.values()), late
    # No digest waited for the LMS: the planner had read each of its answers before the send time.
    learners = {u: str(n) for u, n in PEOPLE.items()}
    waited = [(u, t) for (u, _), t in got.sent.items() if learners[u] in got.progress_read.get(t, set())]
    assert waited == [] and sum(r.refreshed for r in got.reports) > 0
    assert sum(r.as_of for r in got.reports) == 0
    assert busiest_day(got) <= 400 and not [s for s in zoho_calls(world) if s in LOCKS]


async def test_a_tight_budget_goes_to_the_soonest_send_times_and_the_rest_say_as_of(make_world: MakeWorld) -> None:
    world = await make_world(FRIDAY, settings={"zoho_daily_call_budget": 1000})
    await world.sweep(force=True, dry_run=True)  # Friday's answers fill the cache; nothing is sent
    budget = 24
    world.services.settings.zoho_daily_call_budget = budget
    world.services.registry._entries.clear()  # the clients pick the new budget up
    world.state.clear_calls()
    got = await run(world, SUNDAY, SUNDAY + timedelta(hours=29))
    late = lateness(got)
    assert len(late) == 8 and all(timedelta(0) <= d <= timedelta(minutes=5) for d in late.values()), (
        sorted(late.items()),
        [list(r.deferred) for r in got.reports if r.deferred][:3],
    )
    as_of = {u for u in PEOPLE if any("Progress as of Fri 27 Mar" in text_of(m) for m in world.dms(u))}
    fresh = {u for (u, _) in got.sent} - as_of
    when = {u: send_moment(u, "2026-03-30") for u in PEOPLE}
    # Within the budget's first 24 hours (later, Sunday's calls leave the rolling window and free it again):
    # the soonest send times got fresh data, the later ones an "as of" digest, on time all the same; where the
    # budget ran out among people sending at the same time, those who had started something came first.
    first_day = {u for u in PEOPLE if when[u] < SUNDAY + timedelta(days=1)}
    assert "U0CLAUDE" in fresh and as_of & first_day, (fresh, as_of)
    names = {lid: name for lid, name, _ in seed.NAMED}
    started = {u for u, lid in PEOPLE.items() if any(v != "none" for c in seed.NAMED_LEVELS[names[lid]] for v in c)}
    for u in fresh & first_day:
        for v in as_of & first_day:
            assert when[u] < when[v] or (when[u] == when[v] and u in started and v not in started), (u, v)
    assert busiest_day(got) <= budget and not [s for s in zoho_calls(world) if s in LOCKS]


async def test_sticky_completion_and_locked_until_a_date_cost_no_calls(make_world: MakeWorld) -> None:
    margaret = PEOPLE["U0MARGARET"]  # finished both self-paced modules; Coaching is locked until 6 April
    world = await make_world(SUNDAY, people={"U0MARGARET": margaret}, complete_recheck_days=14)
    asked: list[tuple[int, str]] = []
    start = datetime(2026, 3, 30, 14, 0, tzinfo=UTC)  # Los Angeles sends at 16:00 UTC
    for day in range(16):
        moment = start + timedelta(days=day)
        for step in range(0, 12):  # the two hours before her send time and a bit after, every 15 minutes
            world.state.clear_calls()
            world.set_time(moment + step * STEP)
            await world.sweep()
            for call in world.state.calls_for(Endpoint.MODULE_PROGRESS):
                if f"/learners/{margaret}/" in call.path:
                    asked.append((day, call.path.split("/modules/")[1].split("/")[0]))
    first = [d for d, m in asked if m == str(seed.SP_MODULE_1)]
    assert first[0] == 0 and 14 in first and not [d for d in first if 0 < d < 14], asked  # re-checked after 14 days
    coaching = [d for d, m in asked if m == str(seed.BL_COACHING)]
    assert coaching and min(coaching) >= 6, asked  # not before its lock date (6 April)


def test_the_report_keeps_counts_and_a_short_sample_not_the_messages() -> None:
    report = SweepReport(started_at=FRIDAY)
    heard: list[str] = []
    report.stream(heard.append)
    for n in range(1000):
        out = Outgoing(TEAM, f"U{n}", "digest", "2026-03-30", f"digest → U{n}", {"blocks": ["x" * 1000]}, {})
        report.sent.append(out)
        report.deferred.append(f"U{n}: LMS down")
    assert len(report.sent) == 1000 and len(report.deferred) == 1000
    assert len(report.sent.items) == SAMPLE and all(type(s) is Sent for s in report.sent)  # no payloads kept
    assert len(report.deferred.items) == SAMPLE
    assert len(heard) == 2000  # `remind --now` can print every line as it happens
    lines = report.lines()
    assert "sent: … and 950 more" in lines and "deferred: … and 950 more" in lines
    assert len(lines) == 2 * SAMPLE + 2 and report.summary().startswith("sent 1000")
