"""The sweep against the LMS sandbox and the Slack stand-in over HTTP, on a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.devkit.sandbox import seed
from bot.devkit.sandbox.state import EntityProgress
from bot.lms.ratelimit import Priority
from bot.lms.zoho import Endpoint
from tests.reminders.conftest import MONDAY, PEOPLE, TEAM, MakeWorld, World
from tests.support.slack import text_of

ADA_LEARNER = seed.SAMPLE_LEARNER
PRE_READING = 100004000000049021  # a pending link in Ada's Kick-off


def progress_calls(world: World, learner: int) -> list[str]:
    return [c.path for c in world.state.calls_for(Endpoint.MODULE_PROGRESS) if f"/learners/{learner}/" in c.path]


def complete(world: World, learner: int, entity: int) -> None:
    with world.state.lock:
        world.state.progress[(learner, entity)] = EntityProgress(completed=True)


# --- when -------------------------------------------------------------------------------------------------------


async def test_time_zones_on_both_sides_of_utc(make_world: MakeWorld) -> None:
    sunday = datetime(2026, 3, 29, 19, 59, tzinfo=UTC)  # 08:59 Monday in Auckland, 12:59 Sunday in Los Angeles
    world = await make_world(sunday, people={u: PEOPLE[u] for u in ("U0CLAUDE", "U0KATHERINE")})
    first = await world.sweep()
    assert first.sent == [] and first.prefetched == 1  # Claude's data is fetched a minute ahead
    world.set_time(sunday + timedelta(minutes=1))
    second = await world.sweep()
    assert [(o.user_id, o.period) for o in second.sent] == [("U0CLAUDE", "2026-03-30")]
    assert second.lms_calls == 0  # the prefetched answers were fresh: no waiting at send time
    assert world.posts_to("U0KATHERINE") == 0
    world.set_time(datetime(2026, 3, 30, 15, 59, tzinfo=UTC))
    assert (await world.sweep()).sent == []
    world.set_time(datetime(2026, 3, 30, 16, 0, tzinfo=UTC))  # 09:00 PDT
    third = await world.sweep()
    assert [(o.user_id, o.period) for o in third.sent] == [("U0KATHERINE", "2026-03-30")]
    assert world.posts_to("U0CLAUDE") == 1 and world.posts_to("U0KATHERINE") == 1


@pytest.mark.parametrize(
    "due", [datetime(2026, 3, 30, 7, 0, tzinfo=UTC), datetime(2026, 10, 26, 8, 0, tzinfo=UTC)], ids=["CEST", "CET"]
)
async def test_berlin_gets_the_digest_at_nine_local_after_each_dst_change(make_world: MakeWorld, due: datetime) -> None:
    world = await make_world(due - timedelta(minutes=1), people={"U0ALAN": PEOPLE["U0ALAN"]})
    assert (await world.sweep()).sent == []
    world.set_time(due)
    report = await world.sweep()
    assert [o.user_id for o in report.sent] == ["U0ALAN"]
    sent_at = float(world.dms("U0ALAN")[0]["ts"])  # the stub stamps real time; the schedule used the virtual one
    assert sent_at > 0 and report.started_at.astimezone(schedule_zone("Europe/Berlin")).strftime("%H:%M") == "09:00"


def schedule_zone(name: str) -> Any:
    from bot.reminders.schedule import zone

    return zone(name)


async def test_quiet_hours_and_weekdays(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": ADA_LEARNER, "U0ALAN": PEOPLE["U0ALAN"]})
    await world.prefs("U0ADA", timezone="Europe/London", quiet_start="08:00", quiet_end="10:00")
    await world.prefs("U0ALAN", timezone="Europe/Berlin", weekdays="tue")
    world.set_time(datetime(2026, 3, 30, 8, 30, tzinfo=UTC))  # Ada 09:30 (quiet); Alan's Monday (not his day)
    assert (await world.sweep()).sent == []
    world.set_time(datetime(2026, 3, 30, 9, 0, tzinfo=UTC))  # Ada 10:00: quiet hours over
    assert [o.user_id for o in (await world.sweep()).sent] == ["U0ADA"]
    world.set_time(datetime(2026, 3, 31, 7, 0, tzinfo=UTC))  # Tuesday 09:00 in Berlin
    assert [o.user_id for o in (await world.sweep(only_user="U0ALAN")).sent] == ["U0ALAN"]


async def test_snooze_stop_and_mute(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={u: PEOPLE[u] for u in ("U0ADA", "U0ALAN", "U0GRACE")})
    await world.prefs("U0ADA", snoozed_until=MONDAY + timedelta(days=1, hours=3))
    await world.prefs("U0ALAN", enabled=False)
    await world.services.preferences.mute(TEAM, "U0GRACE", world.tracked["feedback"].id)
    report = await world.sweep(force=True)
    assert [o.user_id for o in report.sent] == ["U0GRACE"]  # snoozed and stopped people get nothing, even forced
    grace = text_of(world.dms("U0GRACE")[0])
    assert "Feedback" not in grace and "Password quiz" in grace
    assert not any("/modules/" + str(seed.BL_FEEDBACK) + "/" in p for p in progress_calls(world, PEOPLE["U0GRACE"]))
    world.set_time(MONDAY + timedelta(days=1, hours=3))  # Tuesday 09:00 London: the snooze is over
    await world.prefs("U0ADA", timezone="Europe/London")
    assert [o.user_id for o in (await world.sweep(only_user="U0ADA")).sent] == ["U0ADA"]


# --- exactly once and in place ----------------------------------------------------------------------------------


async def test_second_forced_sweep_sends_nothing_new_and_dry_run_changes_nothing(make_world: MakeWorld) -> None:
    world = await make_world()
    dry = await world.sweep(force=True, dry_run=True)
    assert len(dry.sent) == 8 and world.slack.calls_for("chat.postMessage") == []
    assert await world.services.reminders.sent_in_period(TEAM, "U0ADA", "2026-03-30") == []  # nothing claimed
    first = await world.sweep(force=True)
    assert sorted(o.user_id for o in first.sent) == sorted(o.user_id for o in dry.sent)
    second = await world.sweep(force=True)
    assert second.sent == [] and second.already == 8
    assert all(world.posts_to(user) == 1 for user in PEOPLE)
    row = await world.services.reminders.find(TEAM, "U0ADA", "digest", "2026-03-30")
    assert row is not None and row.status == "sent" and row.channel_id == "D0ADA" and row.message_ts
    assert "zoho:" in str(row.payload["entries"])  # the items, so a later sweep can tick them off


async def test_completion_between_two_sweeps_updates_the_message_in_place(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": ADA_LEARNER})
    await world.sweep(force=True)
    [message] = world.dms("U0ADA")
    assert "*Pre-reading*" in text_of(message)
    complete(world, ADA_LEARNER, PRE_READING)
    world.set_time(MONDAY + timedelta(hours=2))  # past refresh_after: the sweep re-reads Kick-off for Ada
    report = await world.sweep()
    assert len(report.updated) == 1 and report.sent == []
    [updates] = [c for c in world.slack.calls_for("chat.update") if c.ok]
    assert updates.args["ts"] == message["ts"]
    [after] = world.dms("U0ADA")
    assert "~Pre-reading~" in text_of(after) and "1 done already" in text_of(after)
    assert world.posts_to("U0ADA") == 1  # updated, never re-sent
    assert (await world.sweep()).updated == []  # nothing new: no second edit
    world.set_time(MONDAY + timedelta(days=1, hours=2))  # Tuesday's digest no longer mentions it
    await world.prefs("U0ADA", timezone="Europe/London")
    await world.sweep()
    assert world.posts_to("U0ADA") == 2 and "Pre-reading" not in text_of(world.dms("U0ADA")[-1])


# --- LMS trouble ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("trouble", ["500", "timeout"])
async def test_lms_down_defers_the_learners_it_hits_and_delivers_the_rest(make_world: MakeWorld, trouble: str) -> None:
    world = await make_world(concurrency=1, settings={"lms_timeout_seconds": 0.3})
    if trouble == "500":
        world.state.inject_fault(Endpoint.MODULE_PROGRESS, 500, count=2)  # both tries of the first call
    else:
        world.state.inject_fault(Endpoint.MODULE_PROGRESS, 0, count=2, delay=0.6)  # longer than the timeout
    report = await world.sweep(force=True)
    assert [d.split(":")[0] for d in report.deferred] == ["U0ADA"]  # the first learner in line
    assert len(report.sent) == 7 and not report.errors
    later = await world.sweep(force=True)
    assert [o.user_id for o in later.sent] == ["U0ADA"] and later.deferred == []
    assert all(world.posts_to(user) == 1 for user in PEOPLE)


async def test_a_reported_lms_lock_pauses_the_endpoint_and_the_sweep_resumes(
    make_world: MakeWorld, sandbox_factory: Any
) -> None:
    locking = sandbox_factory(rate_limit=10)  # the LMS allows less than our limiter assumes: it will lock
    world = await make_world(MONDAY, sandbox_server=locking)
    started = world.clock.now()
    report = await world.sweep(force=True)
    assert report.lock_retries >= 1 and not report.errors and report.deferred == []
    assert len(report.sent) == 8
    assert world.clock.now() - started >= 300  # it waited out the 5-minute lock instead of failing
    refusals = [c for c in world.state.calls_for(Endpoint.MODULE_PROGRESS) if c.status == 422]
    assert 1 <= len(refusals) <= 4  # the lock was honoured: no hammering while locked


# --- rate-limit-aware planning ------------------------------------------------------------------------------------


async def test_background_priority_cache_reuse_and_known_modules_not_fetched(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ALAN": PEOPLE["U0ALAN"], "U0MARGARET": PEOPLE["U0MARGARET"]})
    priorities: list[Priority] = []
    acquire = world.services.limiter.acquire

    async def spy(key: str, *, priority: Priority = Priority.INTERACTIVE, **rest: Any) -> None:
        if Endpoint.MODULE_PROGRESS in key or Endpoint.MODULE_SESSIONS in key:
            priorities.append(priority)
        await acquire(key, priority=priority, **rest)

    world.services.limiter.acquire = spy  # type: ignore[method-assign]
    report = await world.sweep(force=True)
    assert priorities and set(priorities) == {Priority.BACKGROUND}  # the interactive reserve stays free
    alan = progress_calls(world, PEOPLE["U0ALAN"])
    # Password Hygiene waits for Phishing Basics, which Alan has not finished; Coaching is locked until a date.
    assert not any(f"/modules/{seed.SP_MODULE_2}/" in p for p in alan)
    assert not any(f"/modules/{seed.BL_COACHING}/" in p for p in alan)
    assert report.known_skips == 3 and report.pairs == 10  # 2 for Alan, Coaching for Margaret
    assert "unlocks when you finish *Phishing Basics*" in text_of(world.dms("U0ALAN")[0])
    # Margaret finished the self-paced modules: known complete, so the next day's sweep does not ask again.
    world.state.clear_calls()
    world.set_time(MONDAY + timedelta(days=1, hours=10))
    await world.sweep(force=True)
    margaret = progress_calls(world, PEOPLE["U0MARGARET"])
    assert not any(f"/modules/{seed.SP_MODULE_1}/" in p or f"/modules/{seed.SP_MODULE_2}/" in p for p in margaret)
    assert any(f"/modules/{seed.BL_FEEDBACK}/" in p for p in margaret)  # pending ones are read again


async def test_interactive_progress_reuses_the_sweeps_answers(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": ADA_LEARNER})
    await world.sweep(force=True)
    world.state.clear_calls()
    statuses = await world.services.learning.progress(TEAM, "U0ADA")
    assert len(statuses) == 5
    asked = {c.path.split("/modules/")[1].split("/")[0] for c in world.state.calls_for(Endpoint.MODULE_PROGRESS)}
    # `/lms progress` took the sweep's answers from the cache; it only asked about the two modules the sweep
    # knew were locked without asking (Feedback waits for Kick-off; Coaching for a date).
    assert asked == {str(seed.BL_FEEDBACK), str(seed.BL_COACHING)}
