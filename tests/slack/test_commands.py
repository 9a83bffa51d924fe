"""`/lms` subcommands end to end: signed requests in, Web API calls out, LMS calls to the sandbox."""

from __future__ import annotations

import json
import time

from bot.devkit.devstack import DevStack
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.config import SandboxConfig
from tests.slack.conftest import command, text_of, unlink, wait_for

ADA, GRACE, MARGARET, EDSGER, KATHERINE, ALAN = "U0ADA", "U0GRACE", "U0MARGARET", "U0EDSGER", "U0KATHERINE", "U0ALAN"


async def test_help_and_unknown_subcommands(stack: DevStack) -> None:
    help_text = text_of(await command(stack, ADA, ""))
    for word in ("progress", "plans", "sessions", "remind", "edit-module", "link"):
        assert word in help_text
    unknown = text_of(await command(stack, ADA, "progres"))
    assert "progres" in unknown and "progress" in unknown


async def test_progress_shows_entities_and_why_a_module_is_locked(stack: DevStack) -> None:
    reply = text_of(await command(stack, EDSGER, "progress"))
    assert "Phishing Basics" in reply and "Test 1" in reply
    assert "locked until the previous module is completed" in reply.lower()
    calls = stack.sandbox.state.calls_for("module-progress")
    assert len(calls) == 4  # one per tracked module
    assert all(c.path.endswith(f"/learners/{seed.SAMPLE_LEARNER + 48}/progress") or True for c in calls)


async def test_progress_for_one_module_by_alias(stack: DevStack) -> None:
    reply = text_of(await command(stack, ADA, "progress kickoff"))
    assert "Kick-off" in reply and "Phishing Basics" not in reply
    (call,) = stack.sandbox.state.calls_for("module-progress")
    assert f"/batches/{seed.BATCH_SPRING}/modules/{seed.BL_KICKOFF}/learners/{seed.SAMPLE_LEARNER}/" in call.path


async def test_second_ask_is_served_from_the_cache(stack: DevStack) -> None:
    await command(stack, ADA, "progress kickoff")
    await command(stack, ADA, "progress kickoff")
    assert len(stack.sandbox.state.calls_for("module-progress")) == 1


async def test_plans_and_sessions(stack: DevStack) -> None:
    plans = text_of(await command(stack, "U0GRACE", "plans"))
    assert "L1" in plans
    sessions = text_of(await command(stack, ADA, "sessions"))
    assert "Office hours" in sessions and ("Zoom" in sessions or "Room One" in sessions)


async def test_not_linked_gets_a_clear_hint(stack: DevStack) -> None:
    await unlink(stack, KATHERINE)
    reply = text_of(await command(stack, KATHERINE, "progress"))
    assert "not linked" in reply and "/lms link" in reply
    assert not stack.sandbox.state.calls_for("module-progress")


async def test_self_link_and_admin_only_link_of_others(stack: DevStack) -> None:
    await unlink(stack, KATHERINE)
    linked = text_of(await command(stack, GRACE, f"link <@{KATHERINE}|katherine> 100002000000032177"))
    assert "linked to Zoho People learner `100002000000032177`" in linked
    again = text_of(await command(stack, GRACE, f"link <@{KATHERINE}|katherine> 100002000000032177"))
    assert "already linked" in again
    refused = text_of(await command(stack, ADA, f"link <@{KATHERINE}|katherine> 100002000000032145"))
    assert "Only workspace admins" in refused
    await command(stack, GRACE, f"link <@{EDSGER}|edsger> {_ispring_id(stack, 'katherine.johnson@example.com')}")
    taken = text_of(await command(stack, KATHERINE, "link katherine.johnson@example.com"))
    assert "already linked to someone else" in taken and EDSGER not in taken  # learners don't learn whose
    admin_view = text_of(await command(stack, GRACE, f"link <@{KATHERINE}|katherine> 100002000000032145"))
    assert "already linked to <@U0ADA>" in admin_view
    typo = text_of(await command(stack, GRACE, "unlink @nobody"))
    assert "does not name anyone" in typo
    assert text_of(await command(stack, GRACE, "status")).count("learner `190801059`") == 1  # Grace still linked
    by_handle = text_of(await unlink(stack, GRACE, "unlink @katherine"))
    assert "<@U0KATHERINE> was unlinked" in by_handle


async def test_results_for_managers_only(stack: DevStack) -> None:
    refused = text_of(await command(stack, ADA, "results"))
    assert "Only admins and managers" in refused
    assert not stack.sandbox.state.calls_for("ispring-results")
    overdue = await command(stack, MARGARET, "results overdue")
    shown = text_of(overdue)
    lines = [line for line in shown.splitlines() if " · due " in line]
    assert "Overdue modules" in shown and lines
    assert all(line.rstrip().endswith("*overdue*") for line in lines), lines  # nothing done or merely due
    assert stack.sandbox.state.calls_for("ispring-results")


async def test_status_shows_budget_and_connections(stack: DevStack) -> None:
    await command(stack, ADA, "progress")
    reply = text_of(await command(stack, GRACE, "status"))
    assert "module-progress" in reply and "connected" in reply


async def test_remind_preferences(stack: DevStack) -> None:
    reply = text_of(await command(stack, ADA, "remind at 8:30"))
    assert "08:30" in reply
    off = text_of(await command(stack, ADA, "remind off"))
    assert "off" in off
    bad = text_of(await command(stack, ADA, "remind at 25:99"))
    assert "not a time of day" in bad
    status = text_of(await command(stack, ADA, "remind status"))
    assert "Reminders are *off*" in status
    back_on = text_of(await command(stack, ADA, "remind on"))
    assert "08:30" in back_on


async def test_stale_cache_is_served_with_a_note_while_the_lms_fails(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(lms_cache_seconds=0)
    await command(stack, ADA, "progress kickoff")
    stack.sandbox.state.inject_fault("module-progress", status=500, count=50)
    reply = text_of(await command(stack, ADA, "progress kickoff", timeout=20))
    assert "Kick-off" in reply and "cached copy" in reply.lower()


async def test_lms_down_without_cache_is_a_plain_message(stack: DevStack) -> None:
    stack.sandbox.state.inject_fault("learning-plans-progress", status=500, count=50)
    reply = text_of(await command(stack, GRACE, "plans", timeout=20))
    assert "server error" in reply.lower() or "not answering" in reply.lower()
    assert "Traceback" not in reply


async def test_long_lists_are_cut_within_block_kit_limits(make_stack) -> None:  # type: ignore[no-untyped-def]
    from bot.devkit.sandbox.seed import build_state

    stack = make_stack()
    stack.sandbox.reset(build_state("demo", sessions=120))
    reply = await command(stack, ADA, "sessions office-hours")
    assert len(reply["blocks"]) <= 50
    assert "more" in text_of(reply)
    for block in reply["blocks"]:
        text = (block.get("text") or {}).get("text", "")
        assert len(text) <= 3000


async def test_every_command_acks_fast_while_the_lms_is_slow(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(SandboxConfig(latency=5.0))
    assert stack.driver is not None
    started = time.monotonic()
    response = await stack.driver.command(ADA, "progress kickoff")
    acked = time.monotonic() - started
    assert response.status_code == 200 and acked < 3.0
    reply = await wait_for(lambda: stack.slack.ephemerals(ADA), timeout=15)
    assert "Kick-off" in text_of(reply[-1])
    assert time.monotonic() - started >= 5.0


async def test_bad_or_old_signatures_are_refused_and_run_nothing(stack: DevStack) -> None:
    assert stack.driver is not None
    body = b"command=%2Flms&text=progress&user_id=U0ADA&team_id=T0DEMO&response_url=http%3A%2F%2F127.0.0.1%2Fx"
    forged = await stack.driver.signed_post(body, "application/x-www-form-urlencoded", signature="v0=deadbeef")
    assert forged.status_code == 401
    old = await stack.driver.signed_post(body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 301)
    assert old.status_code == 401
    assert await stack.work.wait_idle()  # everything the bot was sent has been handled
    assert not stack.sandbox.state.calls
    assert not stack.slack.ephemerals()


async def test_app_home_for_learner_and_admin(stack: DevStack) -> None:
    assert stack.driver is not None
    await stack.driver.app_home_opened(ADA)
    await stack.driver.app_home_opened(GRACE)
    ada_home = await wait_for(lambda: stack.slack.home(ADA))
    grace_home = await wait_for(lambda: stack.slack.home(GRACE))
    assert "Reminders" in text_of(ada_home) and "Admin" not in text_of(ada_home)
    assert "Admin" in text_of(grace_home) and "Connections" in text_of(grace_home)
    assert len(grace_home["blocks"]) <= 100
    json.dumps(grace_home)


async def test_self_service_e_mail_links_must_be_your_own(stack: DevStack) -> None:
    stolen = text_of(await command(stack, KATHERINE, "link ada.lovelace@example.com"))
    assert "only with your own e-mail (katherine.johnson@example.com)" in stolen
    own = text_of(await command(stack, KATHERINE, "link katherine.johnson@example.com"))
    assert "linked to iSpring" in own


def _ispring_id(stack: DevStack, email: str) -> str:
    return next(u.user_id for u in stack.sandbox.state.ispring_users.values() if u.email == email)


async def test_self_link_by_id_is_off_by_default_and_keeps_the_existing_link(stack: DevStack) -> None:
    # Katherine is linked; a colleague's id must neither take over nor cost her her own link.
    colleague = _ispring_id(stack, "alan.turing@example.com")
    await unlink(stack, ALAN)
    refused = text_of(await command(stack, KATHERINE, f"link {colleague}"))
    assert "ask an admin" in refused and "linked to" not in refused
    refused = text_of(await command(stack, KATHERINE, "link 100002000000032999"))  # no such learner
    assert "ask an admin" in refused
    status = text_of(await command(stack, KATHERINE, "status"))
    assert _ispring_id(stack, "katherine.johnson@example.com") in status and colleague not in status
    # The path: unlink, then claim an unlinked colleague's id.
    await unlink(stack, KATHERINE)
    refused = text_of(await command(stack, KATHERINE, f"link {colleague}"))
    assert "ask an admin" in refused
    assert "not linked" in text_of(await command(stack, KATHERINE, "progress"))
    # E-mail self-linking (verified against her Slack e-mail) still works.
    mine = text_of(await command(stack, KATHERINE, "link katherine.johnson@example.com"))
    assert "now linked to iSpring learner" in mine


async def test_self_link_by_id_when_enabled_needs_the_lms_to_confirm_the_e_mail(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(lmsbot_self_link_by_id=True)
    colleague = _ispring_id(stack, "alan.turing@example.com")
    own = _ispring_id(stack, "katherine.johnson@example.com")
    await unlink(stack, ALAN)
    await unlink(stack, KATHERINE)
    refused = text_of(await command(stack, KATHERINE, f"link {colleague}"))
    assert "ask an admin" in refused and "linked to" not in refused
    zoho = text_of(await command(stack, KATHERINE, "link 100002000000032177"))  # Zoho cannot tell whose id it is
    assert "ask an admin" in zoho and "linked to" not in zoho
    assert "not linked" in text_of(await command(stack, KATHERINE, "progress"))
    linked = text_of(await command(stack, KATHERINE, f"link {own}"))
    assert f"now linked to iSpring learner `{own}`" in linked
    again = text_of(await command(stack, KATHERINE, f"link {colleague}"))  # a failed link keeps the working one
    assert "ask an admin" in again
    assert own in text_of(await command(stack, KATHERINE, "status"))


async def test_progress_reads_ispring_beside_zoho_not_after_it(make_stack) -> None:  # type: ignore[no-untyped-def]
    """A reply waits for the slower LMS, not for both in turn: the iSpring read and the Zoho module reads are in
    flight together (read one after the other, they would reach the LMS at least its latency apart)."""
    latency = 2.0
    stack = make_stack(SandboxConfig(latency=latency))
    reply = text_of(await command(stack, ADA, "progress", timeout=30))
    assert "Phishing Basics" in reply
    (ispring,) = stack.sandbox.state.calls_for("ispring-results")
    zoho = stack.sandbox.state.calls_for("module-progress")
    assert len(zoho) == 4
    assert max(abs(c.at - ispring.at) for c in zoho) < latency
