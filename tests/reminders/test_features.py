"""Sessions (day before, shortly before; learners and trainers), "now unlocked", iSpring deadlines, and the
weekly overdue digest for managers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.devkit.sandbox import seed
from tests.reminders.conftest import MONDAY, PEOPLE, TEAM, MakeWorld, World
from tests.reminders.test_engine import text_of

TRAINER_ERECNO = "219225000000036453"  # every sandbox session's trainerErecno


def feedback_lab(world: World) -> tuple[datetime, str, str]:
    [lab] = [s for s in world.state.sessions.values() if s.name == "Feedback lab" and s.batch_id == seed.BATCH_SPRING]
    return datetime.combine(lab.day, lab.start, tzinfo=UTC), str(lab.session_id), lab.trainer


def session_dms(world: World, user: str) -> list[str]:
    return [m["text"] for m in world.dms(user) if m["text"].startswith(("Session", "You are running"))]


def session_told(world: World, user: str) -> list[str]:
    """Session reminders as they reached someone: a DM of their own, or told in the digest sent at that moment."""
    told: list[str] = []
    for message in world.dms(user):
        text = message["text"]
        if text.startswith(("Session", "You are running")):
            told.append(text)
        else:
            told += [f"Session {part.removeprefix('Session ')}" for part in text.split(" · ")[1:]]
    return told


@pytest.mark.parametrize("trainer_by", ["erecno link", "real name"])
async def test_session_reminders_day_before_and_shortly_before(make_world: MakeWorld, trainer_by: str) -> None:
    world = await make_world(MONDAY)
    starts, _, trainer_name = feedback_lab(world)
    world.slack.workspace.add_user("U0TRAINER", "trainer", trainer_name if trainer_by == "real name" else "T. Rainer")
    if trainer_by == "erecno link":
        await world.services.links_repo.link(
            TEAM, "U0TRAINER", "zoho", TRAINER_ERECNO, email=None, method="admin", linked_by="t"
        )
    world.set_time(starts - timedelta(hours=23, minutes=55))
    await world.sweep()
    attendees = ("U0GRACE", "U0ALAN", "U0MARGARET")  # Kick-off done, so Feedback is open for them
    for user in attendees:  # Alan's digest is due now too: it tells him, in one message
        assert session_told(world, user) == ["Session tomorrow: Feedback lab"], user
    assert session_dms(world, "U0ADA") == []  # Feedback is still locked for Ada: not her session yet
    assert session_dms(world, "U0TRAINER") == ["You are running Feedback lab tomorrow"]
    tomorrow = next(m for m in world.dms("U0GRACE") if m["text"].startswith("Session"))
    details = text_of(tomorrow)
    assert "Zoom" in details and trainer_name in details and "Online" in details and "Feedback Fundamentals" in details
    await world.sweep()  # a later sweep in the same window sends nothing again
    assert session_dms(world, "U0GRACE") == ["Session tomorrow: Feedback lab"]
    world.set_time(starts - timedelta(minutes=45))
    await world.sweep()
    for user in (*attendees, "U0TRAINER"):
        assert len(session_told(world, user)) == 2 and "soon" in session_told(world, user)[-1], user
    world.set_time(starts + timedelta(minutes=5))
    await world.sweep()
    assert len(session_dms(world, "U0GRACE")) == 2  # it has started: nothing more


async def test_quiet_hours_hold_a_session_reminder_within_its_window(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0GRACE": PEOPLE["U0GRACE"]})
    starts, _, _ = feedback_lab(world)  # 11:00 UTC = 07:00 in New York
    await world.prefs("U0GRACE", timezone="America/New_York", quiet_start="06:00", quiet_end="06:40")
    world.set_time(starts - timedelta(minutes=50))  # 06:10 in New York: quiet
    await world.sweep()
    assert session_dms(world, "U0GRACE") == []
    world.set_time(starts - timedelta(minutes=15))  # 06:45: quiet hours over, still before the start
    await world.sweep()
    assert session_dms(world, "U0GRACE") == ["Session soon: Feedback lab"]


async def test_a_lock_ending_updates_the_digest_and_says_now_unlocked(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": seed.SAMPLE_LEARNER})
    await world.sweep(force=True)
    [digest] = world.dms("U0ADA")
    assert "*Coaching Skills* — locked until 6 Apr 2026" in text_of(digest)
    world.set_time(datetime(2026, 4, 6, 7, 30, tzinfo=UTC))  # Monday 08:30 in London: the lock has ended
    report = await world.sweep(only_user="U0ADA")
    assert len(report.updated) == 1
    messages = world.dms("U0ADA")
    assert "now unlocked" in text_of(messages[0])  # the old digest, edited in place
    [notice] = [m for m in messages if m["text"].endswith("is now unlocked")]
    assert "*Coaching Skills*" in text_of(notice) and "3 mandatory items waiting" in text_of(notice)
    await world.sweep(only_user="U0ADA")
    assert len([m for m in world.dms("U0ADA") if m["text"].endswith("is now unlocked")]) == 1


async def test_ispring_overdue_items_are_reminded_and_ticked_off(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ALAN": PEOPLE["U0ALAN"]}, ispring=True)
    await world.sweep(force=True)
    text = text_of(world.dms("U0ALAN")[0])
    assert "*Anti-Bribery* — iSpring · overdue" in text
    alan = next(u.user_id for u in world.state.ispring_users.values() if u.name == "Alan Turing")
    with world.state.lock:
        for result in world.state.ispring_results:
            if result.user_id == alan and result.module_title == "Anti-Bribery":
                result.completion_status = "complete"
    world.set_time(MONDAY + timedelta(hours=2))
    await world.sweep()
    assert "~Anti-Bribery~" in text_of(world.dms("U0ALAN")[0]) and world.posts_to("U0ALAN") == 1


async def test_weekly_overdue_digest_for_managers_and_admins(make_world: MakeWorld) -> None:
    monday = MONDAY + timedelta(hours=10)  # Monday 09:00 in Los Angeles, where Margaret is
    world = await make_world(monday, ispring=True, manager_digest=True)
    await world.prefs("U0GRACE", digest=False)  # the owner opted out; Margaret (LMSBOT_MANAGERS) did not
    await world.sweep(force=True)
    weekly = [m for m in world.dms("U0MARGARET") if m["text"].startswith("Weekly LMS digest")]
    assert len(weekly) == 1 and not [m for m in world.dms("U0GRACE") if m["text"].startswith("Weekly")]
    text = text_of(weekly[0])
    assert "<@U0EDSGER>" in text and "Kick-off" in text and ":books:" in text  # Zoho backlog and iSpring overdue
    world.set_time(monday + timedelta(days=1))
    await world.sweep(force=True)  # same ISO week: not again
    assert len([m for m in world.dms("U0MARGARET") if m["text"].startswith("Weekly")]) == 1
