"""The whole bot, locally: LMS sandbox + Slack stand-in + SQLite + `lmsbot serve`'s web app over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.devstack import DevStack
from bot.sandbox.config import SandboxConfig

Json = dict[str, Any]


@pytest.fixture
def stack() -> Iterator[DevStack]:
    with DevStack() as running:
        yield running


@pytest.fixture
def make_stack() -> Iterator[Any]:
    stacks: list[DevStack] = []

    def make(sandbox: SandboxConfig | None = None, **settings: Any) -> DevStack:
        running = DevStack(sandbox_config=sandbox or SandboxConfig(), settings_overrides=settings).start()
        stacks.append(running)
        return running

    yield make
    for running in stacks:
        running.stop()


async def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    """Poll until `predicate()` is truthy (the bot answers after its ack, asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting for the bot")


async def command(stack: DevStack, user: str, text: str, timeout: float = 10.0) -> Json:
    """Send `/lms text` as `user`; return the ephemeral reply that follows the ack."""
    assert stack.driver is not None
    before = len(stack.slack.ephemerals(user))
    response = await stack.driver.command(user, text)
    assert response.status_code == 200, response.text
    replies = await wait_for(lambda: stack.slack.ephemerals(user)[before:], timeout)
    return dict(replies[-1])


def text_of(message: Json) -> str:
    """Every text in a message or view, joined: what a person would read."""
    parts: list[str] = [str(message.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(parts)
