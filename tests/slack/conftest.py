"""The whole bot, locally: LMS sandbox + Slack stand-in + SQLite + `lmsbot serve`'s web app over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.devstack import DevStack
from bot.sandbox.config import SandboxConfig
from tests.support.slack import text_of, wait_for

__all__ = ["command", "text_of", "wait_for"]

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


async def command(stack: DevStack, user: str, text: str, timeout: float = 10.0) -> Json:
    """Send `/lms text` as `user`; return the ephemeral reply that follows the ack."""
    assert stack.driver is not None
    before = len(stack.slack.ephemerals(user))
    response = await stack.driver.command(user, text)
    assert response.status_code == 200, response.text
    replies = await wait_for(lambda: stack.slack.ephemerals(user)[before:], timeout)
    return dict(replies[-1])
