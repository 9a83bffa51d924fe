"""Every interactive entry point that can reach the LMS checks the role first.

A learner cannot see an admin's modal, but can craft its payload: each crafted request must be refused in
plain words before anything is sent to the LMS (counted at the sandbox, `GET /_sandbox/calls`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from bot.devkit.devstack import DevStack
from bot.devkit.sandbox import seed
from tests.slack.conftest import text_of, wait_for

ADA, GRACE = "U0ADA", "U0GRACE"  # a learner; a workspace admin
Json = dict[str, Any]
EDITORS_ONLY = "Only workspace admins and trainers can edit modules."


async def _lms_calls(stack: DevStack) -> list[Json]:
    async with httpx.AsyncClient() as client:
        response = await client.get(stack.sandbox.url + "/_sandbox/calls")
    response.raise_for_status()
    calls: list[Json] = response.json()
    return calls


async def _clear_lms_calls(stack: DevStack) -> None:
    async with httpx.AsyncClient() as client:
        (await client.post(stack.sandbox.url + "/_sandbox/calls/clear")).raise_for_status()


async def _admin_modal(stack: DevStack, text: str, callback_id: str) -> Json:
    """The modal an admin (Grace) opens with `/lms <text>`; the learner crafts payloads against it."""
    assert stack.driver is not None
    await stack.driver.command(GRACE, text)
    modal: Json = await wait_for(
        lambda: (m := stack.slack.top_modal(GRACE)) and m.get("callback_id") == callback_id and m
    )
    await _clear_lms_calls(stack)
    return modal


def _element(view: Json, block_id: str) -> Json:
    for block in view.get("blocks", []):
        if block.get("block_id") == block_id:
            element: Json = block.get("element") or block.get("accessory") or {}
            return element
    raise AssertionError(f"no block {block_id}")


def _first_option(view: Json, block_id: str) -> str:
    element = _element(view, block_id)
    options = element.get("options") or element["option_groups"][0]["options"]
    return str(options[0]["value"])


async def _refusal_modal(stack: DevStack, user: str, words: str) -> str:
    shown: str = await wait_for(
        lambda: (m := stack.slack.top_modal(user)) and words in text_of(m) and text_of(m), timeout=10
    )
    return shown


async def _pick_module(stack: DevStack) -> str:
    assert stack.driver is not None
    picker = await _admin_modal(stack, "edit-module", "module_edit_picker")
    first = _first_option(picker, "module_edit_pick")
    await stack.driver.block_action(ADA, "module_edit_pick", view=picker, selected_option=first)
    return await _refusal_modal(stack, ADA, EDITORS_ONLY)


async def _pick_course(stack: DevStack) -> str:
    assert stack.driver is not None
    modal = await _admin_modal(stack, "track", "track_module")
    course = str(seed.BLENDED_COURSE)
    await stack.driver.block_action(ADA, "track_course_pick", view=modal, selected_option=course)
    return await _refusal_modal(stack, ADA, "Only workspace admins can track modules.")


async def _pick_batch(stack: DevStack) -> str:
    assert stack.driver is not None
    modal = await _admin_modal(stack, "track", "track_module")
    course = str(seed.BLENDED_COURSE)
    # The batch picker appears once a course is chosen: the admin picks the course, the learner the batch.
    await stack.driver.block_action(
        GRACE,
        "track_course_pick",
        view=modal,
        selected_option=course,
        values={"track_course": {"track_course_pick": course}},
    )
    with_batches: Json = await wait_for(
        lambda: (m := stack.slack.top_modal(GRACE)) and "track_batch_pick" in str(m.get("blocks")) and m
    )
    await _clear_lms_calls(stack)
    batch = _first_option(with_batches, "track_batch")
    await stack.driver.block_action(
        ADA,
        "track_batch_pick",
        view=with_batches,
        selected_option=batch,
        values={"track_course": {"track_course_pick": course}, "track_batch": {"track_batch_pick": batch}},
    )
    return await _refusal_modal(stack, ADA, "Only workspace admins can track modules.")


async def _pick_provider(stack: DevStack) -> str:
    assert stack.driver is not None
    modal = await _admin_modal(stack, "track", "track_module")
    await stack.driver.block_action(
        ADA,
        "track_provider_pick",
        view=modal,
        selected_option="ispring",
        values={"track_provider": {"track_provider_pick": "ispring"}},
    )
    return await _refusal_modal(stack, ADA, "Only workspace admins can track modules.")


async def _refusal_reply(stack: DevStack, user: str, words: str) -> str:
    shown: str = await wait_for(
        lambda: next((t for m in stack.slack.ephemerals(user) if words in (t := text_of(m))), None), timeout=10
    )
    return shown


async def _results_button(stack: DevStack, action: str) -> str:
    """The buttons under an admin's `/lms results`, clicked by a learner: refused, though the list is cached."""
    assert stack.driver is not None
    await stack.driver.command(GRACE, "results all")
    results: Json = await wait_for(
        lambda: next((m for m in stack.slack.ephemerals(GRACE) if "Showing" in text_of(m)), None), timeout=10
    )
    await _clear_lms_calls(stack)
    await stack.driver.block_action(ADA, action, message=results)
    shown = await _refusal_reply(stack, ADA, "Only admins and managers can see iSpring results.")
    assert not stack.slack.shared_files(stack.slack.workspace.dm_channel(ADA))  # no CSV either
    return shown


async def _results_next(stack: DevStack) -> str:
    return await _results_button(stack, "results_next")


async def _results_csv(stack: DevStack) -> str:
    return await _results_button(stack, "results_csv")


async def _nudge(stack: DevStack) -> str:
    assert stack.driver is not None
    await _clear_lms_calls(stack)
    # The button as a manager's weekly digest carries it, clicked in a message of the learner's own.
    button = {"type": "button", "action_id": "manager_nudge", "text": {"type": "plain_text", "text": "Nudge them"}}
    digest = {
        "channel": stack.slack.workspace.dm_channel(ADA),
        "ts": "1700000000.000100",
        "text": "Overdue in your team",
        "blocks": [{"type": "actions", "block_id": "nudge", "elements": [button]}],
    }
    await stack.driver.block_action(ADA, "manager_nudge", message=digest)
    shown = await _refusal_reply(stack, ADA, "Only admins and managers can nudge learners.")
    assert not [c for c in stack.slack.calls_for("chat.postMessage") if c.ok]  # nobody was nudged
    return shown


async def _edit_button(stack: DevStack) -> str:
    assert stack.driver is not None
    await stack.driver.block_action(ADA, "module_edit_open", value="1")
    return await _refusal_modal(stack, ADA, EDITORS_ONLY)


async def _edit_shortcut(stack: DevStack) -> str:
    assert stack.driver is not None
    await stack.driver.shortcut(ADA, "edit_module")
    return await _refusal_modal(stack, ADA, EDITORS_ONLY)


async def _submit_track(stack: DevStack) -> str:
    assert stack.driver is not None
    modal = await _admin_modal(stack, "track", "track_module")
    values = {
        "track_course": {_element(modal, "track_course")["action_id"]: str(seed.SELF_PACED_COURSE)},
        "track_module": {_element(modal, "track_module")["action_id"]: str(seed.SP_MODULE_1)},
    }
    response = await stack.driver.view_submission(ADA, modal, values)
    return str(response.json()["errors"])


async def _submit_ispring(stack: DevStack) -> str:
    assert stack.driver is not None
    modal = await _admin_modal(stack, "connect ispring", "connect_ispring")
    values = {"ispring_client_id": {"value": "x"}, "ispring_client_secret": {"value": "y"}}
    response = await stack.driver.view_submission(ADA, modal, values)
    return str(response.json()["errors"])


ENTRY_POINTS: dict[str, tuple[Callable[[DevStack], Awaitable[str]], str]] = {
    "module_edit_pick": (_pick_module, EDITORS_ONLY),
    "track_course_pick": (_pick_course, "Only workspace admins can track modules."),
    "track_batch_pick": (_pick_batch, "Only workspace admins can track modules."),
    "track_provider_pick": (_pick_provider, "Only workspace admins can track modules."),
    "results_next button": (_results_next, "Only admins and managers can see iSpring results."),
    "results_csv button": (_results_csv, "Only admins and managers can see iSpring results."),
    "manager_nudge button": (_nudge, "Only admins and managers can nudge learners."),
    "module_edit_open button": (_edit_button, EDITORS_ONLY),
    "edit_module shortcut": (_edit_shortcut, EDITORS_ONLY),
    "track_module submission": (_submit_track, "Only workspace admins can track modules."),
    "connect_ispring submission": (_submit_ispring, "Only workspace admins can connect an LMS."),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
async def test_a_learners_crafted_payload_is_refused_before_any_lms_call(stack: DevStack, entry: str) -> None:
    send, refusal = ENTRY_POINTS[entry]
    shown = await send(stack)
    assert refusal in shown
    assert await _lms_calls(stack) == []
