"""Day one for learners (issue 11), as a learner sees it through signed `/lms` commands and the Home tab: past
sessions are missed, not to-do; `/lms sessions` and `/lms progress` agree about the same sessions."""

from __future__ import annotations

from bot.devstack import DevStack
from tests.slack.conftest import command, text_of, wait_for

ADA = "U0ADA"  # absent from both past kick-off sessions (the demo data puts them 10 and 3 days ago)


async def test_progress_and_sessions_agree_past_sessions_are_missed_not_to_do(stack: DevStack) -> None:
    progress = text_of(await command(stack, ADA, "progress kickoff"))
    assert "1 mandatory item to do" in progress  # the pre-reading; not the two sessions that have ended
    assert ":warning: Missed: *Sess*, *Goal-setting workshop* — `/lms sessions kickoff` lists the next ones" in progress
    assert ":warning: :spiral_calendar_pad: *Sess* (Session, mandatory) · <!date^" in progress
    assert "*missed* (Absent)" in progress and "no attendance yet" not in progress
    sessions = text_of(await command(stack, ADA, "sessions kickoff"))
    assert "No sessions are scheduled" not in sessions
    assert "*Upcoming* (0)" in sessions and "*Past* (2)" in sessions
    assert "*Sess* · `kickoff`" in sessions and "*Goal-setting workshop* · `kickoff`" in sessions


async def test_home_lists_missed_sessions_apart_from_to_do(stack: DevStack) -> None:
    assert stack.driver is not None
    await stack.driver.app_home_opened(ADA)
    home = text_of(await wait_for(lambda: stack.slack.home(ADA)))
    todo = home.split("*To do*", 1)[1].split("*Locked modules*", 1)[0]
    assert "Pre-reading" in todo and "Sess" not in todo.split(":warning: Missed:", 1)[0]
    assert ":warning: Missed: *Sess*, *Goal-setting workshop*" in home
