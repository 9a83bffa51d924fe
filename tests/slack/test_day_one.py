"""Day one for learners (issue 11), as a learner sees it through signed `/lms` commands and the Home tab: past
sessions are missed, not to-do; `/lms sessions` and `/lms progress` agree about the same sessions."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import reminders_cli
from bot.cli import build_parser
from bot.devkit.devstack import DevStack
from bot.reminders_cli import sweep_now
from tests.slack.conftest import command, text_of, wait_for

ADA = "U0ADA"  # absent from both past kick-off sessions (the demo data puts them 10 and 3 days ago)
PRE_READING = 100004000000049021  # the kick-off module's mandatory pre-reading, which Ada has not done


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


async def test_sessions_show_the_past_ones_as_the_learner_attended_or_missed_them(stack: DevStack) -> None:
    # Zoho marks a session that took place "completed"; for Ada, who was absent, it is missed, not done.
    await command(stack, ADA, "progress")  # her progress, as Home and the digest read it
    sessions = text_of(await command(stack, ADA, "sessions"))
    past = sessions.split("*Past* (3)", 1)[1]
    assert ":white_check_mark:" not in past, past  # she attended none of them
    for name in ("Sess", "Goal-setting workshop", "Office hours #1"):
        assert f":warning: *{name}* · `" in past, name
    assert past.count("· *missed* (Absent)") == 3
    progress = text_of(await command(stack, ADA, "progress office-hours"))
    # An optional session that has ended is not a to-do either: missed, not ⏳.
    assert ":warning: :spiral_calendar_pad: *Office hours #1* (Session) · <!date^" in progress
    assert ":hourglass_flowing_sand: :spiral_calendar_pad: *Office hours #1*" not in progress


async def test_modules_a_learner_is_not_in_are_not_called_unchecked(stack: DevStack) -> None:
    # Barbara is in the autumn cohort: Zoho answers "not enrolled" for the spring batch's two modules.
    assert stack.driver is not None
    progress = text_of(await command(stack, "U0BARBARA", "progress"))
    assert progress.count("You are not enrolled in this module (or in its batch).") == 2
    assert "couldn't check" not in progress and "did not answer" not in progress  # it did answer
    home = await _home_after(stack, "U0BARBARA", stack.driver.app_home_opened("U0BARBARA"))
    assert "couldn't check" not in home and "You are not enrolled" in home


async def test_home_lists_missed_sessions_apart_from_to_do(stack: DevStack) -> None:
    assert stack.driver is not None
    await stack.driver.app_home_opened(ADA)
    home = text_of(await wait_for(lambda: stack.slack.home(ADA)))
    todo = home.split("*To do*", 1)[1].split("*Locked modules*", 1)[0]
    assert "Pre-reading" in todo and "Sess" not in todo.split(":warning: Missed:", 1)[0]
    assert ":warning: Missed: *Sess*, *Goal-setting workshop*" in home


def _todo(home: str) -> str:
    return home.split("*To do*", 1)[1].split("*Locked modules*", 1)[0]


async def _home_after(stack: DevStack, user: str, send: object) -> str:
    """Send something, wait until the bot has finished with it, and read the Home tab as it is now."""
    await send  # type: ignore[misc]
    assert await stack.work.wait_idle()
    return text_of(stack.slack.home(user) or {})


async def test_home_refresh_refetches_what_opening_the_tab_takes_from_the_cache(stack: DevStack) -> None:
    assert stack.driver is not None
    home = await _home_after(stack, ADA, stack.driver.app_home_opened(ADA))
    assert "Pre-reading" in _todo(home)
    ada = next(p.learner_id for p in stack.sandbox.state.learners.values() if p.email.startswith("ada"))
    stack.sandbox.state.entity_progress(ada, PRE_READING).completed = True  # Ada reads it in the LMS
    reopened = await _home_after(stack, ADA, stack.driver.app_home_opened(ADA))
    assert "Pre-reading" in _todo(reopened)  # opening the tab again answers from the cache, as before
    before = len(stack.sandbox.state.calls_for("module-progress"))
    view = stack.slack.home(ADA)
    refreshed = await _home_after(stack, ADA, stack.driver.block_action(ADA, "home_refresh", view=view))
    assert len(stack.sandbox.state.calls_for("module-progress")) > before  # Refresh asked the LMS again
    assert "Pre-reading" not in _todo(refreshed)


AS_OF = re.compile(r"as of <!date\^(\d+)\^")


async def test_home_refresh_says_a_newer_as_of_and_ticks_the_morning_digest_off(stack: DevStack) -> None:
    assert stack.driver is not None and stack.settings is not None
    await sweep_now(stack.settings, user=ADA, force=True)
    [digest] = stack.slack.dm_messages(ADA)
    assert "*Pre-reading*" in text_of(digest)
    home = await _home_after(stack, ADA, stack.driver.app_home_opened(ADA))
    [first] = AS_OF.findall(home)
    ada = next(p.learner_id for p in stack.sandbox.state.learners.values() if p.email.startswith("ada"))
    stack.sandbox.state.entity_progress(ada, PRE_READING).completed = True  # Ada reads it in the LMS
    await asyncio.sleep(1.1)  # the "as of" token counts whole seconds
    view = stack.slack.home(ADA)
    refreshed = await _home_after(stack, ADA, stack.driver.block_action(ADA, "home_refresh", view=view))
    [again] = AS_OF.findall(refreshed)
    assert int(again) > int(first)  # the reader sees a later time
    ticked = await wait_for(lambda: "1 done already" in text_of(stack.slack.dm_messages(ADA)[0]) or None)
    assert ticked and "~Pre-reading~" in text_of(stack.slack.dm_messages(ADA)[0])
    assert len(stack.slack.dm_messages(ADA)) == 1  # edited in place


async def test_first_visit_welcomes_and_offers_link_me(stack: DevStack) -> None:
    assert stack.driver is not None
    stack.slack.workspace.add_user("U0NEW", "newbie", "New Person", "newbie@example.com", "Europe/London")
    first = await _home_after(stack, "U0NEW", stack.driver.app_home_opened("U0NEW"))
    assert "Welcome to lmsbot" in first and "Link me" in first
    view = stack.slack.home("U0NEW")
    clicked = await _home_after(stack, "U0NEW", stack.driver.block_action("U0NEW", "home_link_me", view=view))
    assert "Zoho People:" in clicked or "iSpring Learn:" in clicked  # says, per LMS, what happened
    again = await _home_after(stack, ADA, stack.driver.app_home_opened(ADA))
    assert "Welcome to lmsbot" in again  # Ada's first visit too
    later = await _home_after(stack, ADA, stack.driver.app_home_opened(ADA))
    assert "Welcome to lmsbot" not in later  # Slack now sends the published view: not a first visit


async def test_days_quiet_hours_and_snooze_can_be_set_from_home(stack: DevStack) -> None:
    assert stack.driver is not None
    await _home_after(stack, ADA, stack.driver.app_home_opened(ADA))
    view = stack.slack.home(ADA)
    days = await _home_after(stack, ADA, stack.driver.block_action(ADA, "remind_days", ["mon", "wed"], view=view))
    assert "Reminders will come Mon, Wed." in days and "09:00* (Europe/London), Mon, Wed" in days, days
    view = stack.slack.home(ADA)
    quiet = await _home_after(stack, ADA, stack.driver.block_action(ADA, "remind_quiet", "22:00-07:00", view=view))
    assert "Quiet hours: 22:00–07:00" in quiet
    view = stack.slack.home(ADA)
    snoozed = await _home_after(stack, ADA, stack.driver.block_action(ADA, "remind_snooze_1w", view=view))
    assert ":zzz: Snoozed until" in snoozed
    settings = text_of(await command(stack, ADA, "remind status"))
    assert "Quiet hours: 22:00–07:00" in settings and "Snoozed until" in settings and "Home tab" in settings


async def test_remind_replies_point_to_home_even_when_refused(stack: DevStack) -> None:
    refused = text_of(await command(stack, ADA, "remind days someday"))
    assert ":warning:" in refused and "Home tab" in refused


async def test_learner_status_shows_their_links_and_reminders_not_budgets_or_ids(stack: DevStack) -> None:
    await command(stack, ADA, "remind quiet 22:00-07:00")
    status = text_of(await command(stack, ADA, "status"))
    assert "*Your links*" in status and "Zoho People: linked" in status
    assert "*Your reminders*" in status and "Quiet hours: 22:00–07:00" in status
    assert "`kickoff`" in status  # the modules followed, by the names people type
    assert "request budget" not in status and "daily API budget" not in status
    ada = next(str(p.learner_id) for p in stack.sandbox.state.learners.values() if p.email.startswith("ada"))
    assert f"Zoho People: linked :white_check_mark: (learner `{ada}`)" in status  # her own link, as admins see it
    assert "100002000000039001" not in status and "course `" not in status  # no course, batch or module ids
    admin = text_of(await command(stack, "U0GRACE", "status"))
    assert "LMS request budget" in admin  # admins still see what they can act on
    helped = text_of(await command(stack, ADA, "help"))  # and the help promises what each of them gets
    assert "`/lms status` — Your links and reminder settings (admins: connections, tracked modules" in helped


def test_lmsbot_remind_now_keeps_her_quiet_hours_unless_forced(
    stack: DevStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lmsbot remind --now` as the operator types it: inside Ada's quiet hours nothing goes out (her day's
    digest is not used up); `--force` sends it."""
    assert stack.settings is not None
    here = datetime.now(ZoneInfo("Europe/London"))  # Ada's zone (Slack's)
    quiet = f"{(here - timedelta(hours=1)):%H:%M}-{(here + timedelta(hours=1)):%H:%M}"
    asyncio.run(command(stack, ADA, f"remind quiet {quiet}"))
    argv = ["remind", "--now", "--user", ADA]
    assert reminders_cli.run(build_parser().parse_args(argv), stack.settings) == 0
    assert "sent 0" in capsys.readouterr().out and not stack.slack.dm_messages(ADA)
    assert reminders_cli.run(build_parser().parse_args([*argv, "--force"]), stack.settings) == 0
    assert "sent 1" in capsys.readouterr().out
    assert [m["text"] for m in stack.slack.dm_messages(ADA)] == ["Reminder: 3 LMS items waiting for you"]
