"""The digest's buttons, clicked through a Bolt app over HTTP: stored, reversible, and the message updates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import reminder_action_listeners
from bot.devkit.sandbox import seed
from bot.devkit.slackstub import SlackDriver
from tests.reminders.conftest import MONDAY, TEAM, MakeWorld, ServeListeners, World
from tests.reminders.test_engine import ADA_LEARNER, PRE_READING, complete, text_of

StartApp = Callable[[World], SlackDriver]


@pytest.fixture
def start_app(serve_listeners: ServeListeners) -> StartApp:
    """The reminder buttons' listeners, served over HTTP (see serve_listeners)."""
    return lambda world: serve_listeners(world, "reminder-buttons", reminder_action_listeners)


async def changed(world: World, user: str, before: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [message] = world.dms(user)
        if text_of(message) != before:
            return message
        await asyncio.sleep(0.02)
    raise AssertionError("the message did not change")


def buttons(message: dict[str, Any]) -> list[str]:
    found = []
    for block in message.get("blocks") or []:
        for element in [block.get("accessory"), *(block.get("elements") or [])]:
            if isinstance(element, dict) and element.get("type") == "button":
                found.append(str(element["action_id"]))
    return found


async def test_snooze_updates_the_message_is_stored_and_survives_an_in_place_update(
    make_world: MakeWorld, start_app: StartApp
) -> None:
    world = await make_world(MONDAY, people={"U0ADA": ADA_LEARNER})
    await world.sweep(force=True)
    driver = start_app(world)
    [digest] = world.dms("U0ADA")
    assert {"reminder_snooze_1d", "reminder_snooze_1w", "reminder_stop", "reminder_mute"} <= set(buttons(digest))
    response = await driver.block_action("U0ADA", "reminder_snooze_1w", message=digest)
    assert response.status_code == 200
    after = await changed(world, "U0ADA", text_of(digest))
    assert ":sleeping: Snoozed until" in text_of(after) and "reminder_snooze_1d" not in buttons(after)
    prefs = await world.services.preferences.get(TEAM, "U0ADA")
    assert prefs.snoozed_until is not None and prefs.snoozed_until > datetime.now(UTC) + timedelta(days=6)
    # A later sweep ticks an item off in the same message and keeps the snooze note.
    complete(world, ADA_LEARNER, PRE_READING)
    world.set_time(MONDAY + timedelta(hours=2))
    assert len((await world.sweep()).updated) == 1
    [final] = world.dms("U0ADA")
    assert "~Pre-reading~" in text_of(final) and ":sleeping: Snoozed until" in text_of(final)
    # `/lms remind on` (the existing command) undoes it.
    await world.services.reminder_prefs.update(TEAM, "U0ADA", enabled=True, snoozed_until=None)
    assert (await world.services.preferences.get(TEAM, "U0ADA")).snoozed_until is None


async def test_stop_and_mute(make_world: MakeWorld, start_app: StartApp) -> None:
    world = await make_world(MONDAY, people={"U0ADA": ADA_LEARNER, "U0GRACE": seed.NAMED[1][0]})
    await world.sweep(force=True)
    driver = start_app(world)
    [grace] = world.dms("U0GRACE")
    feedback = world.tracked["feedback"].id
    await driver.block_action("U0GRACE", "reminder_mute", str(feedback), message=grace)
    muted = await changed(world, "U0GRACE", text_of(grace))
    assert ":no_bell:" in text_of(muted) and "unmute feedback" in text_of(muted)
    assert feedback in await world.services.preferences.muted(TEAM, "U0GRACE")
    await world.services.reminder_prefs.unmute(TEAM, "U0GRACE", feedback)  # `/lms remind unmute` reverses it
    assert await world.services.preferences.muted(TEAM, "U0GRACE") == set()

    [ada] = world.dms("U0ADA")
    await driver.block_action("U0ADA", "reminder_stop", message=ada)
    stopped = await changed(world, "U0ADA", text_of(ada))
    assert "Reminders stopped" in text_of(stopped) and buttons(stopped).count("reminder_snooze_1d") == 0
    assert (await world.services.preferences.get(TEAM, "U0ADA")).enabled is False
    assert (await world.sweep(force=True)).sent == []  # stopped means stopped
    assert (await driver.block_action("U0ADA", "reminder_open_lms", message=stopped)).status_code == 200


async def test_a_digest_without_a_record_still_loses_its_buttons(make_world: MakeWorld, start_app: StartApp) -> None:
    from handlers.views.digest import DigestItem, reminder_digest

    world = await make_world(MONDAY, people={"U0ADA": ADA_LEARNER})
    item = DigestItem(world.tracked["kickoff"], "Pre-reading", "embedLink")
    world.slack.post_message(world.slack.workspace.dm_channel("U0ADA"), dict(reminder_digest([item])))
    [message] = world.dms("U0ADA")
    driver = start_app(world)
    await driver.block_action("U0ADA", "reminder_snooze_1d", message=message)
    after = await changed(world, "U0ADA", text_of(message))
    assert ":sleeping: Snoozed until" in text_of(after) and buttons(after) == []
    assert (await world.services.preferences.get(TEAM, "U0ADA")).snoozed_until is not None
