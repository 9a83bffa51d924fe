"""The console stand-in (`lmsbot shell`, `make demo`) and the Slack app manifest."""

from __future__ import annotations

import io
import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from bot.config import Settings
from bot.devkit.console import TOUR, Console, interactive, play_tour, run_interactive
from bot.devkit.demo_clock import demo_clock, demo_morning
from bot.devkit.devstack import DevStack
from bot.devkit.slackstub.render import render_message
from tests.slack.conftest import command
from tests.support.slack import text_of

ROOT = Path(__file__).resolve().parents[2]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def tour_step(shown: str, line: str, user: str = "") -> str:
    """What the tour printed for one of its lines (steps are apart by a blank line), the first one by `user`."""
    return shown.split(f"{user}> {line}\n", 1)[1].split("\n\n", 1)[0]


def test_the_demo_clock_is_a_weekday_morning_whatever_the_hour() -> None:
    saturday_night = datetime(2026, 12, 5, 23, 40, tzinfo=UTC)
    assert demo_morning(saturday_night) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # the Monday after
    assert demo_morning(datetime(2026, 12, 2, 17, 5, tzinfo=UTC)) == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with demo_clock("UTC") as morning:
        now = datetime.now(UTC)
        assert timedelta(0) <= now - morning < timedelta(minutes=1) and now.weekday() < 5


async def test_tour_runs_every_step_through_the_real_app(stack: DevStack) -> None:
    out = io.StringIO()
    await play_tour(Console(stack, out=out), TOUR)
    shown = out.getvalue()
    # Item 1: a session that has ended is missed (told apart, with what to do), never ⏳; a later one is "Today at".
    progress = tour_step(shown, "/lms progress")
    assert "⚠ :spiral_calendar_pad: Sess (Session, mandatory) · " in progress and "· missed (Absent)" in progress
    assert "⚠ Missed: Sess — `/lms sessions kickoff` lists the next ones" in progress
    assert "⏳ :spiral_calendar_pad: Office hours #2 (Session) · Today at 16:00 GMT–16:30 GMT" in progress
    assert "⏳ :spiral_calendar_pad: Sess" not in progress and "no attendance yet" not in progress
    assert "3 mandatory items to do in 2 modules" in progress  # the missed session is not counted
    assert "✅" not in tour_step(shown, "/lms sessions").split("Past", 1)[1]  # she attended none of them
    # Item 2: one date token, each reader's own zone — Ada in London, Grace in New York.
    assert "Goal-setting workshop (Session, mandatory) · Tomorrow at 10:00 GMT–12:00 GMT" in progress
    assert "Tomorrow at 05:00 EST–07:00 EST" in tour_step(shown, "/lms sessions kickoff")
    # Item 7: one digest DM, the workshop's reminder in it; the missed session told once, apart.
    digest = tour_step(shown, "remind")
    assert digest.startswith("sent 1, updated 0") and digest.count("→ DM to @ada") == 1
    assert "Coming up\n  :spiral_calendar_pad: Goal-setting workshop — Tomorrow at 10:00 GMT" in digest
    assert "⚠ Missed\n  ⚠ Sess (Kick-off)" in digest
    # Item 11: Margaret's team by name, 40 a page with Next, the CSV, the weekly digest's Nudge them.
    first = tour_step(shown, "/lms results", "@margaret")
    assert "Showing 1–40 of 55 (your team)" in first and "[ Next 15 › ] (results_next)" in first
    assert "— @katherine ·" in first and "❌ " in first and not UUID.search(first)
    assert "Showing 41–55 of 55 (your team)" in tour_step(shown, "click results_next")
    assert "Sent the CSV (55 rows)" in tour_step(shown, "click results_csv")
    weekly = tour_step(shown, "remind --force")
    assert "Weekly LMS overdue digest" in weekly and "📚 @katherine — Code of Conduct" in weekly
    assert "[ Nudge them ] (manager_nudge)" in weekly and not UUID.search(weekly)
    nudged = tour_step(shown, "click manager_nudge")
    assert "→ DM to @katherine (chat.postMessage)" in nudged and "A friendly nudge from @margaret" in nudged
    assert "Nudged 2 people." in nudged
    assert "Your LMS progress" in shown and "Learning plans" in shown
    assert "Only admins and managers can see iSpring results." in shown
    assert "Locked until the previous module is completed" in shown
    assert "Module updated" in shown and "Phishing basics (2026 edition)" in shown
    assert "⌂ Home" in shown and ".csv shared in" in shown
    assert "still busy" not in shown  # no step waits on the LMS budget (the demo reads in seconds)
    assert "Snoozed until" in shown and "sent 0, updated 0" in shown
    # Item 6 in the tour: a completion in the sandbox (iSpring: a signed webhook) ticks the digest off in place.
    ticked = shown.split("@ada> lms complete ada Welcome to the Company", 1)[1]
    assert "; 3 iSpring webhook(s) sent)" in ticked
    assert "→ message updated in DM with @ada (chat.update)" in ticked and "1 done already" in ticked
    assert "✅ Welcome to the Company — iSpring" in ticked
    assert "Traceback" not in shown
    (patch,) = stack.sandbox.state.calls_for("update-module")
    assert patch.module_data is not None and patch.module_data["name"] == "Phishing basics (2026 edition)"


async def test_shell_reads_lines_switches_users_and_fills_modals(stack: DevStack) -> None:
    lines = iter(["users", "as grace", "/lms edit-module kickoff", "as nobody", "bogus", "quit"])
    answers = iter(["Kick-off (renamed)", "", "", "0", ""])
    out = io.StringIO()
    console = Console(stack, out=out, ask=lambda prompt: next(answers))
    await interactive(console, read=lambda prompt: next(lines))
    shown = out.getvalue()
    assert "now acting as @grace" in shown and "No demo user `nobody`" in shown and "Unknown input `bogus`" in shown
    assert "Module updated" in shown
    (patch,) = stack.sandbox.state.calls_for("update-module")
    assert patch.module_data is not None and patch.module_data["name"] == "Kick-off (renamed)"


async def test_shell_acts_on_the_sandbox_complete_move_session_add_learner(stack: DevStack) -> None:
    [session] = [s for s in stack.sandbox.state.sessions.values() if s.name == "Goal-setting workshop"]
    lines = iter(
        [
            "lms sessions",
            f"lms move-session {session.session_id} 2030-01-15 09:30",
            "lms add-learner 'Ada Byron' ada.byron@example.com",
            "lms complete ada Pre-reading",
            "lms complete nobody nothing",
            "lms add-learners 2 Sales",
            "lms add-learners 2 Marketing",
            "click results_next",
            "lms frobnicate",
            "quit",
        ]
    )
    out = io.StringIO()
    await interactive(Console(stack, out=out), read=lambda prompt: next(lines))
    shown = out.getvalue()
    assert f"  {session.session_id}  " in shown and "Goal-setting workshop" in shown
    assert f"(sandbox: session {session.session_id} now 2030-01-15 09:30:00–11:00:00)" in shown
    assert (session.day.isoformat(), session.start.isoformat(), session.end.isoformat()) == (
        "2030-01-15",
        "09:30:00",
        "11:00:00",
    )
    assert "(sandbox: added learner Ada Byron <ada.byron@example.com>, id " in shown
    assert any(lr.email == "ada.byron@example.com" for lr in stack.sandbox.state.learners.values())
    assert "(sandbox: completed zoho item 100004000000049021 for learner 100002000000032145)" in shown
    assert "Zoho sends no webhooks" in shown
    assert "The sandbox refused: no item 'nothing' for learner 'nobody'" in shown
    assert "(sandbox: added 2 iSpring learners to Sales: " in shown
    assert "The sandbox refused: no iSpring department 'Marketing' (there are: Engineering, Sales)" in shown
    # A button that is on none of her surfaces is not clicked (the bot would act on a made-up click).
    assert "No button `results_next` in the last reply, the open modal, Home or your DMs." in shown
    assert "Usage: lms complete <learner> <item>" in shown
    assert "Traceback" not in shown


async def test_a_session_moved_in_the_sandbox_is_reminded(stack: DevStack) -> None:
    # The workshop Ada missed, moved to 40 minutes from now (the sandbox's wall clock, in the LMS's zone: UTC).
    soon = stack.sandbox.state.now_dt() + timedelta(minutes=40)
    lines = iter([f"lms move-session 100004000000050032 {soon:%Y-%m-%d} {soon:%H:%M}", "remind", "quit"])
    out = io.StringIO()
    await interactive(Console(stack, out=out), read=lambda prompt: next(lines))
    shown = out.getvalue()
    assert "(sandbox: session 100004000000050032 now " in shown
    reminded = [render_message(m) for m in stack.slack.dm_messages("U0ADA") if "Goal-setting workshop" in text_of(m)]
    assert reminded, shown  # a session reminder (or the digest's upcoming session) ...
    assert not any("⚠ Goal-setting workshop" in seen for seen in reminded)  # ... no longer "missed"


def test_manifest_matches_the_app() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    features, settings = manifest["features"], manifest["settings"]
    assert [c["command"] for c in features["slash_commands"]] == ["/lms"]
    assert features["slash_commands"][0]["url"].endswith("/slack/events")
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert [s["callback_id"] for s in features["shortcuts"]] == ["edit_module"]
    wanted = Settings.model_fields["slack_scopes"].default.split(",")
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(wanted)
    assert manifest["oauth_config"]["redirect_urls"][0].endswith("/slack/oauth_redirect")


def test_procfile_names_the_three_processes() -> None:
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert set(lines) == {"web", "worker", "release"}
    assert "lmsbot serve" in lines["web"] and "lmsbot scheduler" in lines["worker"]
    assert lines["release"].strip() == "lmsbot db upgrade"


async def test_shell_shows_inline_errors_and_clicks_buttons_in_replies_and_modals(stack: DevStack) -> None:
    answers = iter(["   ", "", "", "", "", "Fixed name", "", "", "", ""])
    lines = iter(
        [
            "as grace",
            "/lms edit-module kickoff",
            "/lms untrack",
            "click module_untrack 4",
            "/lms edit-module",
            "click module_edit_pick 1",
            "quit",
        ]
    )
    out = io.StringIO()
    console = Console(stack, out=out, ask=lambda prompt: next(answers, ""))
    await interactive(console, read=lambda prompt: next(lines))
    shown = out.getvalue()
    assert "A module name is required." in shown  # refused inline, then filled in again
    assert "Module updated" in shown and "Fixed name" in shown
    assert "Stopped tracking `office-hours`." in shown and "✗" not in shown  # the click reached the reply
    assert "Phishing Basics" in shown  # the picker in the modal led to the form
    assert "Traceback" not in shown


def test_ctrl_c_at_a_modal_prompt_cancels_the_modal_not_the_shell(
    stack: DevStack, caplog: pytest.LogCaptureFixture
) -> None:
    """A real SIGINT while the shell asks for a field: the form is closed, the shell carries on."""

    def ask(prompt: str) -> str:
        signal.raise_signal(signal.SIGINT)  # as Ctrl-C in the terminal does, in the thread at the prompt
        return "never used"

    lines = iter(["as grace", "/lms edit-module kickoff", "users", "quit"])
    out = io.StringIO()
    run_interactive(Console(stack, out=out, ask=ask), read=lambda prompt: next(lines))
    shown = out.getvalue()
    assert "cancelled: the form is closed and nothing was submitted" in shown
    assert "U0ADA" in shown.split("cancelled", 1)[1]  # `users` ran after the cancel: the shell went on
    assert stack.slack.top_modal("U0GRACE") is None  # the cancelled modal is closed
    assert not stack.sandbox.state.calls_for("update-module")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back as it was
    # The modal asks for no view_closed (notify_on_close), so Slack sends none: nor does the shell, and Bolt's
    # "Unhandled request" warning never reaches the person's terminal.
    assert "Unhandled request" not in caplog.text


async def test_the_whole_track_flow_by_hand_in_the_shell(stack: DevStack) -> None:
    """Picking the course and batch in the track modal reloads it with the next list, as in Slack."""
    answers = iter(["", "Leadership", "Spring", "Coaching", "coaching"])
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    lines = iter(["as grace", "/lms track", "quit"])
    out = io.StringIO()
    await interactive(Console(stack, out=out, ask=ask), read=lambda prompt: next(lines))
    shown = out.getvalue()
    assert any("Spring Cohort" in p for p in asked)  # the batch list came after the course was chosen
    assert "Tracking" in shown and "`coaching`" in shown, shown[-2000:]
    assert stack.slack.top_modal("U0GRACE") is None


async def test_pick_chooses_in_a_menu_of_the_open_modal(stack: DevStack) -> None:
    out = io.StringIO()
    console = Console(stack, out=out, ask=lambda prompt: "")
    lines = iter(["as grace", "/lms edit-module", "pick module_edit_pick kickoff", "pick nosuch x", "quit"])
    await interactive(console, read=lambda prompt: next(lines))
    shown = out.getvalue()
    assert "Kick-off" in shown and "Module updated" in shown  # the picker led to the form, submitted as shown
    assert "No menu `nosuch`" in shown


async def test_connect_zoho_link_reaches_the_bot(stack: DevStack) -> None:
    """The demo's public URL is where the bot listens: the link in `/lms connect zoho` works as handed out."""
    reply = await command(stack, "U0GRACE", "connect zoho")
    url = next(e["url"] for b in reply["blocks"] if b.get("type") == "actions" for e in b["elements"] if e.get("url"))
    async with httpx.AsyncClient() as browser:
        start = await browser.get(url)
    assert start.status_code == 302 and start.headers["location"].startswith(stack.sandbox.url)
