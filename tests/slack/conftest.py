"""The whole bot, locally: LMS sandbox + Slack stand-in + SQLite + `lmsbot serve`'s web app over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.devkit.demo_clock import demo_clock
from bot.devkit.devstack import DevStack
from bot.devkit.sandbox.config import SandboxConfig
from tests.support.slack import text_of, wait_for

__all__ = ["buttons", "click_replacing", "command", "text_of", "unlink", "wait_for"]

Json = dict[str, Any]


# Every stack runs on the demo's wall clock (a weekday, 09:00 UTC, ticking): the seeded world is relative to today
# (a session at 16:00 today, Monday-to-Friday digests), so what these tests see must not depend on when CI runs.
@pytest.fixture
def stack() -> Iterator[DevStack]:
    with demo_clock("UTC"), DevStack() as running:
        yield running


@pytest.fixture
def make_stack() -> Iterator[Any]:
    with demo_clock("UTC"):
        yield from _stacks()


def _stacks() -> Iterator[Any]:
    stacks: list[DevStack] = []

    def make(sandbox: SandboxConfig | None = None, **settings: Any) -> DevStack:
        running = DevStack(sandbox_config=sandbox or SandboxConfig(), settings_overrides=settings).start()
        stacks.append(running)
        return running

    yield make
    for running in stacks:
        running.stop()


async def command(stack: DevStack, user: str, text: str, timeout: float = 10.0) -> Json:
    """Send `/lms text` as `user`; return the ephemeral reply that follows the ack."""
    assert stack.driver is not None
    before = len(stack.slack.ephemerals(user))
    response = await stack.driver.command(user, text)
    assert response.status_code == 200, response.text
    replies = await wait_for(lambda: stack.slack.ephemerals(user)[before:], timeout)
    return dict(replies[-1])


def buttons(message: Json) -> dict[str, Json]:
    """Button text -> button, over every actions block of a message."""
    return {
        e["text"]["text"]: e
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for e in block["elements"]
        if e.get("type") == "button"
    }


async def click_replacing(stack: DevStack, user: str, reply: Json, text: str, *, value: str | None = None) -> Json:
    """Click the button labelled `text` on an ephemeral reply; return that same message once it is replaced."""
    assert stack.driver is not None
    await stack.driver.block_action(user, buttons(reply)[text]["action_id"], value=value, message=reply)

    def replaced() -> Json | None:
        return next(
            (e for e in stack.slack.ephemerals(user) if e.get("ts") == reply.get("ts") and e.get("edited")), None
        )

    return dict(await wait_for(replaced))


async def unlink(stack: DevStack, user: str, text: str = "unlink") -> Json:
    """`/lms unlink …` and a click on its "Unlink …" button: the confirmation, replaced by the outcome."""
    question = await command(stack, user, text)
    label = next(t for t in buttons(question) if t.startswith("Unlink"))
    return await click_replacing(stack, user, question, label)
