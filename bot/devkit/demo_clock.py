"""The demo's wall clock: the scripted tour tells a weekday morning's story, so it runs on one.

The tour's sandbox is seeded relative to today (a session later today at 16:00, a workshop moved to tomorrow
10:00) and Ada's reminders go out Monday to Friday. Run at 17:00 or on a Saturday, the same script would show that
afternoon's session as over and send her no digest at all. So `make demo` and the tour's test move the process's
wall clock (time-machine: `datetime.now`, `time.time` and friends; not the monotonic clock asyncio and timeouts
use) to 09:00 in the LMS's zone on today's date, or on the next weekday, and let it tick from there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DEMO_MORNING = time(9, 0)


def demo_morning(now: datetime) -> datetime:
    """09:00 on `now`'s date in `now`'s zone, or on the next Monday to Friday."""
    day = now.date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, DEMO_MORNING, now.tzinfo)


@contextmanager
def demo_clock(lms_timezone: str) -> Iterator[datetime]:
    """The wall clock at the demo's morning (in the LMS's zone) while inside; yields that start."""
    import time_machine  # a dev tool's dependency: loaded only by the demo and its tests

    start = demo_morning(datetime.now(ZoneInfo(lms_timezone)))
    with time_machine.travel(start, tick=True):
        yield start
