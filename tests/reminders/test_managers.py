"""The weekly manager digest (issue 11, item 11): names not ids, the manager's team only, and "Nudge them" —
one friendly DM to each overdue learner, at most once a week whoever clicks."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.app import results_listeners
from bot.devkit.slackstub import SlackDriver
from tests.reminders.conftest import MONDAY, MakeWorld, ServeListeners, World
from tests.reminders.test_engine import text_of

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
StartApp = Callable[[World], SlackDriver]


@pytest.fixture
def start_app(serve_listeners: ServeListeners) -> StartApp:
    """The results/nudge listeners, served over HTTP (see serve_listeners)."""
    return lambda world: serve_listeners(world, "manager-nudge", results_listeners)


def weekly(world: World, user: str) -> list[dict[str, Any]]:
    return [m for m in world.dms(user) if m["text"].startswith("Weekly LMS digest")]


def nudges(world: World, user: str) -> list[dict[str, Any]]:
    return [m for m in world.dms(user) if "friendly nudge" in m["text"]]


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_weekly_digest_names_the_team_and_nudges_once_a_week(make_world: MakeWorld, start_app: StartApp) -> None:
    world = await make_world(MONDAY + timedelta(hours=10), ispring=True, manager_digest=True)
    await world.prefs("U0GRACE", digest=False)
    await world.sweep(force=True)
    [digest] = weekly(world, "U0MARGARET")
    ispring_lines = [line for line in text_of(digest).splitlines() if line.startswith(":books:")]
    assert ispring_lines and not [line for line in ispring_lines if UUID.search(line)]
    team = " ".join(ispring_lines)
    assert "<@U0KATHERINE>" in team  # Engineering, which Margaret supervises in iSpring
    assert "<@U0ADA>" not in team and "<@U0EDSGER>" not in team  # Sales is not her team
    assert "Nudge them" in str(digest["blocks"])

    driver = start_app(world)
    before = text_of(digest)
    response = await driver.block_action("U0MARGARET", "manager_nudge", message=digest)
    assert response.status_code == 200
    after = await until(lambda: next((m for m in weekly(world, "U0MARGARET") if text_of(m) != before), None))
    note = re.search(r"Nudged (\d+) (?:person|people)", text_of(after))
    assert note and int(note.group(1)) >= 1, text_of(after)
    assert "Nudge them" not in str(after["blocks"])  # done: the button gives way to what was done
    [katherine] = nudges(world, "U0KATHERINE")
    overdue = {
        r.module_title
        for r in world.state.ispring_results
        if world.state.ispring_users[r.user_id].email == "katherine.johnson@example.com" and r.is_overdue(world.now())
    }
    assert overdue and all(title in katherine["text"] for title in overdue)  # names the overdue modules
    assert "<@U0MARGARET>" in katherine["text"]
    assert not nudges(world, "U0ADA")  # not in her team

    shown = text_of(after)
    await driver.block_action("U0MARGARET", "manager_nudge", message=digest)  # again (an old copy of the digest)
    again = await until(lambda: next((m for m in weekly(world, "U0MARGARET") if text_of(m) != shown), None))
    assert f"Nudged 0 people ({note.group(1)} already nudged this week)" in text_of(again)
    assert len(nudges(world, "U0KATHERINE")) == 1  # once per learner per week
