"""Reading what the bot showed in Slack, as a person would, and waiting for it (it answers after its ack)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

Json = dict[str, Any]


async def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    """Poll until `predicate()` is truthy (the bot answers after its ack, asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting for the bot")


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
