"""The one clock abstraction: seconds since the epoch, and a way to wait.

Everything that asks the time or waits for it gets a `Clock`: the rate limiter and the LMS token sources
directly, the rest through the composition root (bot.container), which reads one clock for the cache, the rows
storage stamps and the listeners (`utc(clock)` where an aware datetime is wanted). Production runs on
`SystemClock`; tests and benchmarks on bot.devkit.clock.VirtualClock, so minutes of rate-limit waiting pass in
milliseconds. (Storage, which imports nothing from bot, takes the datetime reading as a plain callable.)
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (wall-clock: comparable between processes, which the shared budgets need)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock(Clock):
    """The real time."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def utc(clock: Clock) -> datetime:
    """Now on `clock`, as an aware UTC datetime."""
    return datetime.fromtimestamp(clock.now(), UTC)


def wall_time(clock: Clock, zone: str) -> datetime:
    """Now on `clock`, in the IANA `zone` (the LMS's: its zone-less session times and "today" are its own)."""
    return datetime.fromtimestamp(clock.now(), ZoneInfo(zone))
