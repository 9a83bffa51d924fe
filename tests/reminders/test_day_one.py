"""Day one for learners (issue 11): a session that has ended is never a to-do (missed ones are told once, apart,
with what to do), a session later today says "today at …", and session times are Slack date tokens (each
reader's own zone) whose fallback names the LMS's zone — the same session at the same time everywhere."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from bot.sandbox import seed
from bot.sandbox.state import Entity, SandboxState, Session
from bot.slackstub.render import render_message
from tests.reminders.conftest import MONDAY, PEOPLE, MakeWorld

TOKEN = re.compile(r"<!date\^(\d+)\^([^|>]*)\|([^>]*)>")


def add_session(
    state: SandboxState, module_id: int, name: str, day: date, start: time, end: time, *, entity: bool
) -> int:
    """A spring-batch session (and, with `entity`, a mandatory item in the module for its learners)."""
    sid = max(state.sessions) + 1000
    state.sessions[sid] = Session(
        sid, seed.BATCH_SPRING, module_id, name, name, day, start, end, "Online", "Zoom", sid + 1, "Henry", 2192250
    )
    if entity:
        course = state.courses[seed.BLENDED_COURSE]
        [module] = [m for m in course.modules if m.module_id == module_id]
        module.entities.append(Entity(sid, name, "session", mandatory=True, batch_id=seed.BATCH_SPRING))
    return sid


async def test_a_missed_session_is_told_once_apart_never_pending(make_world: MakeWorld) -> None:
    # Ada was absent from both past kick-off sessions (20 and 27 March): Zoho still lists them as not done.
    world = await make_world(MONDAY, people={"U0ADA": seed.SAMPLE_LEARNER})
    await world.sweep(force=True)
    [digest] = world.dms("U0ADA")
    seen = render_message(digest)
    assert seen.startswith("Hi Ada :wave: — 2 mandatory items waiting in 2 modules.")  # the sessions are not counted
    assert digest["text"] == "Reminder: 2 LMS items waiting for you"
    assert "⏳ :spiral_calendar_pad:" not in seen  # no "to do" line, and no "Open in LMS" for them
    assert (
        "⚠ Missed\n⚠ Sess (Kick-off) — Fri 20 Mar 2026 14:00 UTC–14:30 UTC · no other session is planned: ask your trainer how to catch up"
        in seen
    )
    assert "⚠ Goal-setting workshop (Kick-off) — Fri 27 Mar 2026 10:00 UTC–11:30 UTC" in seen
    # The next day (and the day after) the digest leaves them out: they were told once.
    for days in (1, 2):
        world.set_time(MONDAY + timedelta(days=days))
        await world.sweep(force=True)
        latest = render_message(world.dms("U0ADA")[-1])
        assert latest.startswith("Hi Ada :wave: — 2 mandatory items waiting in 2 modules."), days
        assert "Missed" not in latest and "Sess" not in latest.replace("Sess, Goal", ""), days
    assert len(world.dms("U0ADA")) == 3


async def test_a_missed_session_points_to_the_modules_next_one(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": seed.SAMPLE_LEARNER})
    add_session(
        world.state, seed.BL_KICKOFF, "Kick-off catch-up", date(2026, 4, 8), time(9, 0), time(10, 0), entity=False
    )
    await world.sweep(force=True)
    seen = render_message(world.dms("U0ADA")[0])
    assert (
        "⚠ Sess (Kick-off) — Fri 20 Mar 2026 14:00 UTC–14:30 UTC · next one: Kick-off catch-up Wed 8 Apr 2026 09:00 UTC–10:00 UTC"
        in seen
    )
    assert "ask your trainer" not in seen


async def test_nothing_else_waiting_the_missed_session_is_still_told_once(make_world: MakeWorld) -> None:
    world = await make_world(
        MONDAY,
        people={"U0ADA": seed.SAMPLE_LEARNER},
        tracks=(("kickoff", seed.BLENDED_COURSE, seed.BATCH_SPRING, seed.BL_KICKOFF),),
    )
    # Ada opens the pre-reading: only the two missed sessions are left in Kick-off.
    world.state.progress[(seed.SAMPLE_LEARNER, 100004000000049021)].completed = True
    world.state.progress[(seed.SAMPLE_LEARNER, 100004000000049021)].status = "Completed"
    await world.sweep(force=True)
    [digest] = world.dms("U0ADA")
    seen = render_message(digest)
    assert seen.startswith("Hi Ada — nothing is due. 🎉") and "⚠ Missed" in seen
    world.set_time(MONDAY + timedelta(days=1))
    report = await world.sweep(force=True)
    assert report.nothing == 1 and len(world.dms("U0ADA")) == 1  # nothing new to say: no DM


async def test_a_session_later_today_says_today_at_in_each_readers_zone(make_world: MakeWorld) -> None:
    # Grace lives in New York; the LMS keeps its times in UTC. Her check-in is today 16:00–16:30 UTC (12:00 EDT).
    world = await make_world(MONDAY.replace(hour=12), people={"U0GRACE": PEOPLE["U0GRACE"]})
    add_session(world.state, seed.BL_FEEDBACK, "Check-in", MONDAY.date(), time(16, 0), time(16, 30), entity=True)
    await world.sweep(force=True)
    [digest] = [m for m in world.dms("U0GRACE") if m["text"].startswith("Reminder:")]
    seen = render_message(digest)
    [line] = [x for x in seen.splitlines() if "Check-in" in x and x.startswith("⏳")]
    assert (
        line == "⏳ :spiral_calendar_pad: Check-in — Session · today at 16:00 UTC–16:30 UTC"
    )  # no "no attendance yet"
    raw = str(digest["blocks"])
    start = int(datetime(2026, 3, 30, 16, 0, tzinfo=UTC).timestamp())
    assert f"<!date^{start}^{{date_short_pretty}} at {{time}}|today at 16:00 UTC>" in raw  # Slack shows 12:00 to her


async def test_one_session_one_time_in_the_lms_zone_everywhere(make_world: MakeWorld) -> None:
    # The LMS runs on Berlin time: Feedback lab "11:00" on Thursday 2 April is 09:00 UTC (summer time).
    world = await make_world(MONDAY, people={"U0GRACE": PEOPLE["U0GRACE"]}, settings={"lms_timezone": "Europe/Berlin"})
    await world.sweep(force=True)
    [digest] = world.dms("U0GRACE")
    seen = render_message(digest)
    assert "⏳ :spiral_calendar_pad: Feedback lab — Session · Thu 2 Apr 2026 11:00 CEST–13:00 CEST" in seen
    assert "🗓 Feedback lab — Thu 2 Apr 2026 11:00 CEST–13:00 CEST · Zoom" in seen.replace(":spiral_calendar_pad:", "🗓")
    lab = [m for m in TOKEN.finditer(str(digest["blocks"])) if "Apr 2026 11:00" in m[3]]
    assert len(lab) == 2 and {int(m[1]) for m in lab} == {int(datetime(2026, 4, 2, 9, 0, tzinfo=UTC).timestamp())}
