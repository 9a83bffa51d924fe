"""Issue 11 items 7 and 8: one message, not three (session reminders due in the digest's sweep go into the
digest; those at another time still come on their own), and "Open in LMS" opens the item, once per module."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from bot.sandbox import seed
from bot.slackstub.render import render_message
from tests.reminders.conftest import MONDAY, PEOPLE, TEAM, MakeWorld, World
from tests.reminders.test_day_one import add_session
from tests.reminders.test_features import feedback_lab, session_dms


async def sent_log(world: World, user: str, keys: list[str]) -> dict[tuple[str, str], str]:
    rows = await world.engine.state.recent(TEAM, keys, MONDAY - timedelta(days=30))
    return {(r.item_key, r.period): r.status for r in rows if r.slack_user_id == user}


async def test_session_reminders_due_with_the_digest_go_into_it(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0GRACE": PEOPLE["U0GRACE"]})
    starts, lab_id, _ = feedback_lab(world)  # Thursday 2 April, 11:00 UTC = 07:00 in New York
    # Grace's digest comes at 07:00 in New York: on Wednesday that is exactly the lab's day-before reminder.
    await world.prefs("U0GRACE", timezone="America/New_York", send_time="07:00")
    # And a session of her own starting within the hour of that digest (its "starting soon" is due too).
    soon_id = add_session(
        world.state, seed.BL_FEEDBACK, "Feedback clinic", date(2026, 4, 1), time(11, 40), time(12, 0), entity=True
    )
    world.set_time(starts - timedelta(days=1))
    await world.sweep()
    [message] = world.dms("U0GRACE")  # one DM, not three
    seen = render_message(message)
    assert message["text"].startswith("Reminder: ") and "Session tomorrow: Feedback lab" in message["text"]
    assert "Session soon: Feedback clinic" in message["text"]
    assert "Feedback clinic starts soon" in seen and "Feedback lab is coming up" in seen
    # The sent log holds both session reminders as delivered, under the keys their own DMs would have had.
    keys = [f"session:{lab_id}:day-before", f"session:{soon_id}:soon"]
    log = await sent_log(world, "U0GRACE", keys)
    assert log == {(keys[0], "2026-04-02"): "sent", (keys[1], "2026-04-01"): "sent"}
    world.set_time(starts - timedelta(days=1) + timedelta(minutes=5))
    await world.sweep()
    assert len(world.dms("U0GRACE")) == 1  # nothing sent again by the next sweep
    # The next morning the lab's "starting soon" falls at another time (06:15 in New York): its own DM.
    world.set_time(starts - timedelta(minutes=45))
    await world.sweep()
    assert session_dms(world, "U0GRACE") == ["Session soon: Feedback lab"]
    assert len(world.dms("U0GRACE")) == 2


async def test_a_session_reminder_at_another_time_still_comes_on_its_own(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0GRACE": PEOPLE["U0GRACE"]})
    starts, _, _ = feedback_lab(world)
    await world.prefs("U0GRACE", timezone="America/New_York", send_time="09:00")
    world.set_time(starts - timedelta(hours=23, minutes=55))  # 07:05 in New York: no digest yet
    await world.sweep()
    assert session_dms(world, "U0GRACE") == ["Session tomorrow: Feedback lab"]
    world.set_time(starts - timedelta(hours=22))  # 09:00: the digest, which does not say it again as a reminder
    await world.sweep()
    digest = world.dms("U0GRACE")[-1]
    assert digest["text"].startswith("Reminder: ") and "Session tomorrow" not in digest["text"]
    assert "Feedback lab is coming up" not in render_message(digest)
    assert len(world.dms("U0GRACE")) == 2


async def test_a_forced_sweep_sends_one_message(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0GRACE": PEOPLE["U0GRACE"]})
    starts, _, _ = feedback_lab(world)
    world.set_time(starts - timedelta(hours=20))
    report = await world.sweep(force=True)
    assert len(world.dms("U0GRACE")) == 1, [o.summary for o in report.sent]
    assert "Session tomorrow: Feedback lab" in world.dms("U0GRACE")[0]["text"]
    assert datetime.fromtimestamp(world.clock.now(), UTC) < starts
