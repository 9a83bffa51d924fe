"""What the sweep's phases share while they work through one workspace (`Team`), how a forced sweep treats
people's schedules (`Forced`), and the sweep's small tools: batches, the learners' job gate, the stop flag."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TypeVar

from bot.lms.ispring_models import ModuleResult
from bot.reminders import schedule
from bot.reminders.collect import Collector, Learner
from bot.reminders.inplace import Seen
from bot.reminders.lms_reader import LmsReader, SnapshotStore
from bot.reminders.report import SweepReport
from bot.services.lms_queries import absent_key, progress_key
from bot.services.reminder_audience import ReminderPreferences
from bot.services.types import TrackedModuleRef

T = TypeVar("T")
log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Team:
    """What one workspace's sweep works with."""

    team_id: str
    reader: LmsReader
    collector: Collector
    tracked: list[TrackedModuleRef]
    learners: dict[str, Learner]
    prefs: dict[str, ReminderPreferences]
    zoho_users: dict[str, str]  # Zoho learner id -> Slack user (trainers are found through it)
    ispring_users: dict[str, str]  # iSpring user id -> Slack user
    has_ispring: bool = False
    linked: dict[str, dict[str, str]] = field(default_factory=dict)  # Slack user -> provider -> learner id
    mutes: dict[str, set[int]] = field(default_factory=dict)  # Slack user -> muted tracked-module ids
    only_user: str | None = None
    forced: Forced | None = None  # how a forced sweep treats people's schedules
    names: dict[str, str] = field(default_factory=dict)  # Slack user -> first name
    # (Slack user, item key, period) of session reminders told in this sweep's digests: no DM of their own.
    folded: set[tuple[str, str, str]] = field(default_factory=set)
    snapshot: SnapshotStore | None = None  # the sweep's batch of cached answers (None: read one at a time)
    sent: dict[int, Seen] | None = None  # what earlier sweeps saw of the sent digests (None: decode each one)
    _ispring: asyncio.Future[list[ModuleResult] | None] | None = None

    async def focus(self, learners: Iterable[Learner], *, answers: bool = False) -> None:
        """Read these learners' cached answers (every tracked module) in one go, letting the last batch's go.
        `answers=False`: only those changed since the engine last derived facts from them (`LmsReader.peek_facts`
        serves the rest); True for building digests, which read the answers themselves."""
        if self.snapshot is None or not self.tracked:
            return
        ids = sorted({learner.zoho_id for learner in learners if learner.zoho_id})
        keys = [
            k
            for i in ids
            for t in self.tracked
            for k in (progress_key(self.team_id, t, i), absent_key(self.team_id, t, i))
        ]
        await self.snapshot.load(keys, answers=answers)

    def pref(self, user_id: str) -> ReminderPreferences:
        return self.prefs.get(user_id) or ReminderPreferences(self.team_id, user_id)

    def start_ispring(self) -> None:
        """Start fetching iSpring results now; whoever needs them awaits `ispring()`, nobody else waits."""
        if self._ispring is None and self.has_ispring:
            self._ispring = asyncio.ensure_future(self._fetch_ispring())

    async def ispring(self) -> list[ModuleResult] | None:
        """Every iSpring result, fetched at most once per sweep however many ask (None: iSpring could not answer)."""
        self.start_ispring()
        return await asyncio.shield(self._ispring) if self._ispring is not None else None

    def preset_ispring(self, results: list[ModuleResult]) -> None:
        """Results just read (for an iSpring webhook): used instead of fetching them again."""
        future: asyncio.Future[list[ModuleResult] | None] = asyncio.get_running_loop().create_future()
        future.set_result(results)
        self._ispring = future

    def close(self) -> None:
        """The workspace's sweep is over: an iSpring fetch nobody awaits any more is not left running."""
        if self._ispring is not None and not self._ispring.done():
            self._ispring.cancel()

    async def _fetch_ispring(self) -> list[ModuleResult] | None:
        try:
            return await self.reader.ispring_results()
        except Exception as exc:  # noqa: BLE001 - iSpring learners wait for a later sweep; the rest go out
            log.info("iSpring results unavailable for %s: %s", self.team_id, exc)
            return None


@dataclass(frozen=True, slots=True)
class Forced:
    """A forced sweep (`lmsbot remind --now`): as if it were everyone's send time. By default it still keeps
    each person's quiet hours, chosen days and snooze; `--force` (`respect_schedule=False, respect_snooze=False`)
    sends to everyone whose reminders are on, right now."""

    respect_schedule: bool = False  # quiet hours and chosen days
    respect_snooze: bool = True

    def allows(self, prefs: ReminderPreferences, tz: tzinfo, now: datetime) -> bool:
        if self.respect_snooze and schedule.snoozed(prefs, now):
            return False
        if not self.respect_schedule:
            return True
        today = schedule.weekday(schedule.local(now, tz).date())
        return today in prefs.weekday_set and not schedule.in_quiet_hours(prefs, schedule.local(now, tz).time())


class Stop:
    """Set on SIGTERM (`ReminderEngine.stop`): every phase finishes the learner in hand and starts no other."""

    def __init__(self) -> None:
        self.requested = False


async def run_jobs(
    jobs: list[Callable[[], Awaitable[None]]],
    report: SweepReport,
    ready: Sequence[Callable[[], Awaitable[object]] | None] = (),
    *,
    concurrency: int,
    stop: Stop,
) -> None:
    """At most `concurrency` learners at once, started in the order given (each once its `ready` is done)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[None]], before: Callable[[], Awaitable[object]] | None) -> None:
        if before is not None:
            await before()
        async with gate:
            if stop.requested:
                return
            try:
                await job()
            except Exception as exc:
                log.exception("reminder job failed")
                report.errors.append(str(exc) or type(exc).__name__)

    waits = list(ready) + [None] * (len(jobs) - len(ready))
    await asyncio.gather(*(one(job, before) for job, before in zip(jobs, waits, strict=True)))


def bind(func: Callable[..., Awaitable[None]], *args: object) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        await func(*args)

    return job


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
