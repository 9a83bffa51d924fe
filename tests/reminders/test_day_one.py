"""Day one for learners (issue 11): a session that has ended is never a to-do (missed ones are told once, apart,
with what to do), a session later today says "today at …", and session times are Slack date tokens (each
reader's own zone) whose fallback names the LMS's zone — the same session at the same time everywhere."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import reminders_cli
from bot.app import home_listeners, remind_services, reminder_action_listeners
from bot.container import build_services
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.state import Entity, SandboxState, Session
from bot.devkit.slackstub import SlackDriver, ThreadedServer
from bot.devkit.slackstub.render import render_message
from bot.reminders.engine import Forced
from bot.web import build_web
from handlers.reminder_settings import remind_command
from tests.reminders.conftest import MONDAY, PEOPLE, TEAM, MakeWorld, World
from tests.support.slack import wait_for

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
        "⚠ Missed\n⚠ Sess (Kick-off) — Fri 20 Mar 2026 14:00 UTC–14:30 UTC"
        " · no other session is planned: ask your trainer how to catch up" in seen
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
        "⚠ Sess (Kick-off) — Fri 20 Mar 2026 14:00 UTC–14:30 UTC"
        " · next one: Kick-off catch-up Wed 8 Apr 2026 09:00 UTC–10:00 UTC" in seen
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


# --- reminder preferences say what they do (`/lms remind …`, `lmsbot remind --now`) ------------------------------


async def remind(world: World, user: str, text: str) -> str:
    return render_message(await remind_command(remind_services(world.services), TEAM, user, text.split()))


async def test_remind_days_takes_ranges_lists_and_words(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": seed.SAMPLE_LEARNER})
    cases = {
        "mon-fri": ("Mon–Fri", "mon,tue,wed,thu,fri"),
        "weekdays": ("Mon–Fri", "mon,tue,wed,thu,fri"),
        "weekends": ("Sat, Sun", "sat,sun"),
        "mon,wed,fri": ("Mon, Wed, Fri", "mon,wed,fri"),
        "tue - thu": ("Tue–Thu", "tue,wed,thu"),
        "fri-mon": ("Mon, Fri, Sat, Sun", "mon,fri,sat,sun"),
    }
    for words, (shown, stored) in cases.items():
        reply = await remind(world, "U0ADA", f"days {words}")
        assert reply.startswith(f"✅ Reminders will come {shown}."), words
        assert (await world.services.preferences.get(TEAM, "U0ADA")).weekdays == stored, words
    for bad in ("mon-fry", "someday", "m"):
        reply = await remind(world, "U0ADA", f"days {bad}")
        assert f"`{bad}` is not a day or a range of days; write `mon-fri`, `mon,wed,fri`, `weekdays`" in reply, bad
        assert (await world.services.preferences.get(TEAM, "U0ADA")).weekdays == "mon,fri,sat,sun", bad


async def test_a_send_time_inside_quiet_hours_says_when_it_really_comes(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": seed.SAMPLE_LEARNER})
    reply = await remind(world, "U0ADA", "quiet 12:00-14:00")
    assert "No reminders between 12:00 and 14:00. Reminders will come at 09:00, your time." in reply
    reply = await remind(world, "U0ADA", "at 13:00")
    assert reply.startswith(
        "✅ Reminders will come at 14:00, your time: 13:00 is inside your quiet hours (12:00–14:00)."
    )
    # and so it does: Ada is in London (summer time), 14:00 there is 13:00 UTC
    world.set_time(MONDAY.replace(hour=12, minute=30))  # 13:30 in London
    await world.sweep()
    assert world.dms("U0ADA") == []
    world.set_time(MONDAY.replace(hour=13, minute=1))
    await world.sweep()
    assert len(world.dms("U0ADA")) == 1


async def test_remind_snooze_and_on_also_update_the_digest(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": seed.SAMPLE_LEARNER})
    await world.sweep(force=True)
    reply = await remind(world, "U0ADA", "snooze 1w")
    assert reply.startswith("✅ Snoozed until 06 Apr 2026 06:00 UTC.")
    assert "Snoozed until" in render_message(world.dms("U0ADA")[0])  # the digest says so too
    prefs = await world.services.preferences.get(TEAM, "U0ADA")
    assert prefs.snoozed_until is not None and abs(prefs.snoozed_until - (world.now() + timedelta(days=7))) < timedelta(
        minutes=1
    )
    until = (world.now() + timedelta(days=10)).date()
    reply = await remind(world, "U0ADA", f"snooze until {until.isoformat()}")
    prefs = await world.services.preferences.get(TEAM, "U0ADA")
    assert prefs.snoozed_until == datetime.combine(until, time(0, 0), tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)
    for bad in ("3x", "until someday", "until 2020-01-01"):
        assert "write `snooze 1d`, `snooze 1w` or `snooze until 2026-12-24`" in await remind(
            world, "U0ADA", f"snooze {bad}"
        )
    reply = await remind(world, "U0ADA", "on")
    assert reply.startswith("✅ Reminders are on.")
    assert (await world.services.preferences.get(TEAM, "U0ADA")).snoozed_until is None
    digest = render_message(world.dms("U0ADA")[0])
    assert "Snoozed" not in digest and "[ Snooze 1 day ]" in digest  # chat.update: the buttons are back
    assert len(world.slack.calls_for("chat.update")) == 3  # snooze 1w, snooze until …, on


async def test_learners_are_not_shown_the_managers_digest_switch(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": seed.SAMPLE_LEARNER, "U0MARGARET": PEOPLE["U0MARGARET"]})
    learner = await remind(world, "U0ADA", "status")
    assert "Weekly overdue digest" not in learner and "digest on" not in learner
    assert "digest" not in await remind(world, "U0ADA", "nonsense")
    assert "Weekly overdue digest" not in await remind(world, "U0ADA", "digest off")
    manager = await remind(world, "U0MARGARET", "status")  # LMSBOT_MANAGERS
    assert "Weekly overdue digest (managers and admins): on" in manager and "digest on|off" in manager


async def test_remind_now_keeps_quiet_hours_days_and_snoozes_unless_forced(make_world: MakeWorld) -> None:
    # Monday 01:21 in London. Ada: quiet 22:00-07:00; Alan: Tuesdays only; Grace: snoozed.
    start = datetime(2026, 3, 30, 0, 21, tzinfo=UTC)
    people = {"U0ADA": seed.SAMPLE_LEARNER, "U0ALAN": PEOPLE["U0ALAN"], "U0GRACE": PEOPLE["U0GRACE"]}
    world = await make_world(start, people=people)
    await world.prefs("U0ADA", timezone="Europe/London", quiet_start="22:00", quiet_end="07:00")
    await world.prefs("U0ALAN", timezone="Europe/London", weekdays="tue")
    await world.prefs("U0GRACE", snoozed_until=start + timedelta(days=1))
    now_args = parse_cli(["remind", "--now"])
    report = await world.sweep(force=Forced(respect_schedule=not now_args.force, respect_snooze=not now_args.force))
    assert report.sent == [] and world.dms("U0ADA") == []  # her day's digest is not used up at 01:21
    forced = parse_cli(["remind", "--now", "--force"]).force
    report = await world.sweep(force=Forced(respect_schedule=not forced, respect_snooze=not forced))
    assert sorted(o.user_id for o in report.sent if o.item_key == "digest") == ["U0ADA", "U0ALAN", "U0GRACE"]


def parse_cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    reminders_cli.add_arguments(sub)
    return parser.parse_args(argv)


@pytest.fixture
def home_app() -> Iterator[Callable[[World], SlackDriver]]:
    """The digest's buttons and the Home tab's listeners in a Bolt app behind the bot's web app."""
    servers: list[ThreadedServer] = []

    def start(world: World) -> SlackDriver:
        settings = world.services.settings.model_copy(update={"slack_signing_secret": SecretStr("day-one-secret")})
        services = build_services(settings)  # its own, on the web server's loop (and the real clock)
        app = AsyncApp(
            signing_secret="day-one-secret",
            client=AsyncWebClient(token=world.slack.workspace.bot_token, base_url=settings.slack_api_url),
        )
        reminder_action_listeners(app, services)
        home_listeners(app, services)
        server = ThreadedServer(build_web(app, services), name="day-one")
        server.start()
        servers.append(server)
        return SlackDriver(server.base_url + "/slack/events", "day-one-secret", world.slack)

    yield start
    for server in servers:
        server.stop()


async def test_turning_reminders_on_in_home_clears_the_snoozed_digest(
    make_world: MakeWorld, home_app: Callable[[World], SlackDriver]
) -> None:
    world = await make_world(datetime.now(UTC), people={"U0ADA": seed.SAMPLE_LEARNER})  # the app runs on real time
    await world.sweep(force=True)
    driver = home_app(world)
    [digest] = world.dms("U0ADA")
    await driver.block_action("U0ADA", "reminder_snooze_1w", message=digest)
    await wait_for(lambda: "Snoozed until" in render_message(world.dms("U0ADA")[0]) or None)
    await driver.app_home_opened("U0ADA")
    tab = await wait_for(lambda: world.slack.home("U0ADA"))
    await driver.block_action("U0ADA", "remind_on", view=tab)
    await wait_for(lambda: "Snoozed" not in render_message(world.dms("U0ADA")[0]) or None)
    assert "[ Snooze 1 day ]" in render_message(world.dms("U0ADA")[0])
    assert (await world.services.preferences.get(TEAM, "U0ADA")).snoozed_until is None
