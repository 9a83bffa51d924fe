"""Linking, as a learner and an admin see it (issue 11, items 3 and 4): `/lms link <my e-mail>` says per LMS
what was linked and the next step for the rest (a button DMs the admins, once a day); `/lms unlink zoho|ispring`
asks first and the answer replaces the question; a learner linked only to iSpring sees their iSpring modules in
`/lms progress` and on Home."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.devkit.devstack import DevStack
from tests.slack.conftest import buttons, click_replacing, command, text_of, unlink, wait_for

Json = dict[str, Any]
ADA, GRACE, ALAN, KATHERINE = "U0ADA", "U0GRACE", "U0ALAN", "U0KATHERINE"
KATHERINE_ZOHO = "100002000000032177"
KATHERINE_EMAIL = "katherine.johnson@example.com"


def _ispring_user(stack: DevStack, email: str) -> str:
    return next(u.user_id for u in stack.sandbox.state.ispring_users.values() if u.email == email)


async def _click_answered(stack: DevStack, user: str, reply: Json, text: str, *, value: str | None = None) -> Json:
    """Click a button; return the new ephemeral answer it brings."""
    assert stack.driver is not None
    before = len(stack.slack.ephemerals(user))
    await stack.driver.block_action(user, buttons(reply)[text]["action_id"], value=value, message=reply)
    return dict((await wait_for(lambda: stack.slack.ephemerals(user)[before:]))[-1])


async def test_link_by_e_mail_says_per_lms_what_happened_and_the_button_asks_the_admins_once(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(lmsbot_admins=ALAN)  # admins: Grace (workspace owner) and Alan (LMSBOT_ADMINS)
    await unlink(stack, KATHERINE)
    reply = await command(stack, KATHERINE, f"link {KATHERINE_EMAIL}")  # the help's own example
    said = text_of(reply)
    assert f"*iSpring*: now linked to iSpring learner `{_ispring_user(stack, KATHERINE_EMAIL)}`" in said
    assert "*Zoho People*: not linked. Zoho People has no way to look a learner up by e-mail" in said
    assert "an admin links you with `/lms link @you &lt;Zoho learner id&gt;` (or a CSV import)" in said
    assert reply["text"] == "Linked to iSpring; Zoho still needs a step."
    assert "Ask an admin to link me" in buttons(reply)

    assert stack.driver is not None
    before = len(stack.slack.ephemerals(KATHERINE))
    ask = buttons(reply)["Ask an admin to link me"]["action_id"]
    # A double click: both arrive at once, one request goes out.
    await asyncio.gather(*(stack.driver.block_action(KATHERINE, ask, message=reply) for _ in range(2)))
    answers = await wait_for(
        lambda: (texts := [text_of(e) for e in stack.slack.ephemerals(KATHERINE)[before:]])[1:] and texts
    )
    asked = next(a for a in answers if "Asked" in a)
    assert "Asked 2 admins to link you to Zoho People" in asked
    assert sum("You already asked the admins" in a for a in answers) == 1, answers
    for admin in (GRACE, ALAN):
        dms = await wait_for(lambda admin=admin: stack.slack.dm_messages(admin))
        dm = text_of(dms[-1])
        assert "<@U0KATHERINE> (Slack e-mail katherine.johnson@example.com) asks to be linked" in dm
        assert "`/lms link @katherine &lt;Zoho learner id&gt;`" in dm
    assert not stack.slack.dm_messages(KATHERINE) and not stack.slack.dm_messages(ADA)

    again = text_of(await _click_answered(stack, KATHERINE, reply, "Ask an admin to link me"))
    assert "You already asked the admins" in again and "ask again tomorrow" in again
    assert len(stack.slack.dm_messages(GRACE)) == 1 and len(stack.slack.dm_messages(ALAN)) == 1  # no spam

    # The hint in the DM runs as it is.
    done = text_of(await command(stack, GRACE, f"link @katherine {KATHERINE_ZOHO}"))
    assert f"<@U0KATHERINE> is now linked to Zoho People learner `{KATHERINE_ZOHO}`" in done
    both = text_of(await command(stack, KATHERINE, f"link {KATHERINE_EMAIL}"))
    assert f"*Zoho People*: linked to learner `{KATHERINE_ZOHO}` (unchanged)" in both
    assert "*iSpring*: already linked to iSpring learner" in both and "Ask an admin" not in both


async def test_link_with_an_e_mail_no_lms_knows_says_so_per_lms(stack: DevStack) -> None:
    await unlink(stack, KATHERINE)
    stack.sandbox.state.ispring_users = {
        k: v for k, v in stack.sandbox.state.ispring_users.items() if v.email != KATHERINE_EMAIL
    }
    reply = await command(stack, KATHERINE, f"link {KATHERINE_EMAIL}")
    said = text_of(reply)
    assert reply["text"] == "Not linked yet."
    assert f"*iSpring*: not linked. iSpring has no learner with the e-mail {KATHERINE_EMAIL}. Next step:" in said
    assert "*Zoho People*: not linked." in said and "Ask an admin to link me" in buttons(reply)
    assert buttons(reply)["Ask an admin to link me"]["value"] == "zoho,ispring"


async def test_unlink_one_lms_asks_first_and_the_answer_replaces_the_question(stack: DevStack) -> None:
    question = await command(stack, KATHERINE, "unlink zoho")
    assert text_of(question).startswith(f"Unlink you from Zoho People learner `{KATHERINE_ZOHO}`?")
    assert set(buttons(question)) == {"Unlink Zoho", "Cancel"}
    assert f"learner `{KATHERINE_ZOHO}`" in text_of(await command(stack, KATHERINE, "status"))  # nothing yet

    cancelled = await click_replacing(stack, KATHERINE, question, "Cancel")
    assert text_of(cancelled).startswith("Cancelled: nothing was unlinked.") and not buttons(cancelled)
    assert f"learner `{KATHERINE_ZOHO}`" in text_of(await command(stack, KATHERINE, "status"))

    question = await command(stack, KATHERINE, "unlink zoho")
    done = await click_replacing(stack, KATHERINE, question, "Unlink Zoho")
    assert text_of(done).startswith(
        f":white_check_mark: You were unlinked from Zoho People learner `{KATHERINE_ZOHO}`."
    )
    assert not buttons(done)
    status = text_of(await command(stack, KATHERINE, "status"))
    assert "• Zoho People: not linked" in status
    assert (
        f"• iSpring Learn: linked :white_check_mark: (learner `{_ispring_user(stack, KATHERINE_EMAIL)}`)" in status
    )  # the other LMS stays
    again = text_of(await command(stack, KATHERINE, "unlink zoho"))
    assert again.startswith("You are not linked to Zoho People; nothing changed.")


async def test_an_unlink_button_cannot_be_forged_to_unlink_someone_else(stack: DevStack) -> None:
    assert stack.driver is not None
    own = await command(stack, ADA, "unlink ispring")
    refused = await _click_answered(stack, ADA, own, "Unlink iSpring", value=f"{KATHERINE}:ispring")
    assert "Only workspace admins can unlink other people." in text_of(refused)
    assert f"• iSpring Learn: linked :white_check_mark: (learner `{_ispring_user(stack, KATHERINE_EMAIL)}`)" in text_of(
        await command(stack, KATHERINE, "status")
    )
    # An admin may: `unlink @someone ispring` names them in the question.
    question = await command(stack, GRACE, "unlink @katherine ispring")
    assert text_of(question).startswith("Unlink <@U0KATHERINE> from iSpring learner")
    done = await click_replacing(stack, GRACE, question, "Unlink iSpring")
    assert "<@U0KATHERINE> was unlinked from iSpring learner" in text_of(done)


def _katherine_results(stack: DevStack) -> tuple[list[str], list[str]]:
    """Titles of Katherine's open and done iSpring modules, from the sandbox's own data."""
    user = _ispring_user(stack, KATHERINE_EMAIL)
    mine = [r for r in stack.sandbox.state.ispring_results if r.user_id == user]
    done = [r.module_title for r in mine if r.completion_status in ("complete", "passed", "accepted")]
    return [r.module_title for r in mine if r.module_title not in done], done


async def test_an_ispring_only_learner_sees_their_ispring_modules_in_progress_and_home(stack: DevStack) -> None:
    assert stack.driver is not None
    await unlink(stack, KATHERINE, "unlink zoho")
    todo, done = _katherine_results(stack)
    assert todo and done  # the demo data gives her both

    progress = text_of(await command(stack, KATHERINE, "progress"))
    assert "not linked" not in progress and "Zoho" not in progress
    assert f"{len(todo)} iSpring modules to do · 1 overdue · {len(done)} done" in progress
    for title in todo:
        assert f"*{title}*" in progress
    for title in done:
        assert title not in progress  # done work is counted, not listed
    assert (
        ":exclamation: *Code of Conduct* · in progress" in progress
        or ":exclamation: *Code of Conduct* · not started" in progress
    )
    assert "*overdue*, was due <!date^" in progress
    assert ":x: *Data Protection* · failed" in progress
    assert f":white_check_mark: {len(done)} modules done in iSpring." in progress

    one = text_of(await command(stack, KATHERINE, "progress welcome"))
    assert "*Welcome to the Company*" in one and "*Code of Conduct*" not in one

    await stack.driver.app_home_opened(KATHERINE)
    home = text_of(await wait_for(lambda: stack.slack.home(KATHERINE)))
    assert "Link your LMS account" not in home
    assert "\n*iSpring Learn*\n" in home and "*Code of Conduct*" in home and "*overdue*, was due" in home


async def test_a_learner_linked_to_both_sees_zoho_and_ispring_in_progress(stack: DevStack) -> None:
    progress = text_of(await command(stack, KATHERINE, "progress"))
    assert "mandatory item" in progress or "Nothing due" in progress  # the Zoho part, as before
    assert "*iSpring Learn* — " in progress and "*Code of Conduct*" in progress
    one = text_of(await command(stack, KATHERINE, "progress kickoff"))  # a Zoho module: no iSpring part
    assert "iSpring" not in one and "kickoff" in one
