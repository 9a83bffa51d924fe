"""The in-place phase's re-reads: before recent digests are re-checked (bot/reminders/updates.py), the modules
they still show pending are re-read, oldest data first, within a small budget per sweep (what the daily budget
leaves beside the planner's reads). No call where a re-read could show nothing new."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.lms.zoho_models import LockType
from bot.reminders import schedule
from bot.reminders.facts import ProgressFacts
from bot.reminders.inplace import Batches, Seen, SentRow
from bot.reminders.lms_reader import Unavailable
from bot.reminders.planner import Planner
from bot.reminders.settings import ReminderConfig
from bot.reminders.team import Stop, Team
from bot.services.bulk_reads import Skip
from bot.services.types import TrackedModuleRef

log = logging.getLogger(__name__)
FORCED_REFRESH_AFTER = 60.0  # seconds: what a forced sweep re-reads of the data sent digests show

# The sent digests among a batch's rows worth looking at, with what earlier sweeps saw of them.
Listed = Callable[[Team, Sequence[SentRow]], Awaitable[list[tuple[SentRow, Seen]]]]


class Rereads:
    def __init__(self, config: ReminderConfig, planner: Planner, stop: Stop) -> None:
        self.config = config
        self.planner = planner
        self.stop = stop

    async def run(self, team: Team, batches: Batches, listed: Listed, now: datetime) -> None:
        """Re-read, within a small budget and oldest data first, the modules sent digests still show pending."""
        budget = self.config.refresh_calls_per_sweep
        spare = self.planner.spare(team.reader)  # what the daily budget leaves beside the planner's reads
        budget = budget if spare is None else min(budget, spare)
        if budget <= 0:
            return
        # `lmsbot remind --now` is someone asking for now: data over a minute old is re-read too.
        after = self.config.refresh_after_seconds
        if team.forced is not None:
            after = min(after, FORCED_REFRESH_AFTER)
        # The `budget` oldest, kept while the batches stream by: ordered by the copy's time, then where the pair
        # first appears among the sent digests (oldest digest first), as one sorted list of them all would be.
        oldest: list[tuple[_Desc, TrackedModuleRef, str]] = []
        bulk_age = self.config.refresh_bulk_hours * 3600.0
        async for rows in batches():
            wanted: dict[tuple[int, str], tuple[tuple[datetime, int, int], TrackedModuleRef]] = {}
            for row, seen in await listed(team, rows):
                learner = team.learners[row.slack_user_id]
                if not learner.zoho_id:
                    continue
                today = schedule.local(now, learner.tz).date()
                for index, tracked, lock_until in seen.summary.refresh:
                    if lock_until is not None and lock_until > today:
                        continue  # locked until a later date: no answer can change before then
                    first = wanted.get((tracked.id, learner.zoho_id))
                    claimed = seen.summary.claimed_at
                    assert claimed is not None  # a digest's summary has it
                    place = first[0] if first else (claimed, row.id, index)
                    wanted[(tracked.id, learner.zoho_id)] = (place, tracked)
            if not wanted:
                continue
            await team.focus(team.learners[row.slack_user_id] for row in rows if row.slack_user_id in team.learners)
            for (_, learner_id), (place, tracked) in wanted.items():
                cached = await team.reader.peek_facts(tracked, learner_id)
                fetched = cached.fetched_at if cached else datetime.min.replace(tzinfo=UTC)
                if (now - fetched).total_seconds() < after:
                    continue
                if await _cannot_change(team, tracked, learner_id, cached, now, wanted):
                    continue
                if team.reader.bulk_on:  # re-read only what the bulk answer shows changed since the cached read
                    settings = await team.reader.module(tracked)
                    date_lock = settings is None or settings.lock_type is LockType.UNTIL_DATE
                    skip = await team.reader.bulk_skip(
                        tracked, learner_id, cached, max_age=after, bulk_age=bulk_age, locked_ok=not date_lock
                    )
                    if skip is Skip.UNCHANGED or skip is Skip.NOT_ENROLLED:
                        continue
                item = (_Desc((fetched, *place)), tracked, learner_id)
                if len(oldest) < budget:
                    heapq.heappush(oldest, item)
                elif item[0] > oldest[0][0]:  # older than the newest kept: it takes that one's place
                    heapq.heapreplace(oldest, item)
        aged = sorted(oldest, key=lambda a: a[0], reverse=True)
        made = 0
        try:
            for _, tracked, learner_id in aged:
                if self.stop.requested:
                    return
                try:
                    made += 1
                    await team.reader.progress(tracked, learner_id, max_age=after)
                except Unavailable as exc:
                    log.info("refresh of %s for %s skipped: %s", tracked.label, learner_id, exc)
                    return  # the LMS is struggling: no more refreshes this sweep
        finally:
            self.planner.spent(team.reader, made)


async def _cannot_change(
    team: Team,
    tracked: TrackedModuleRef,
    learner_id: str,
    cached: ProgressFacts | None,
    now: datetime,
    wanted: Mapping[tuple[int, str], object],
) -> bool:
    """Whether a re-read could show anything new: not while every pending item is a session yet to start,
    nor while the module stays locked until the one before it is done and that one is not (as last read; it
    is re-checked here too, and once it reads done this one is re-read; the digest may have told the lock
    without reading this module at all)."""
    if cached is not None and not cached.is_locked:
        return cached.future_only(now) is not None
    settings = await team.reader.module(tracked)
    if settings is None or settings.lock_type is not LockType.UNTIL_PREVIOUS_COMPLETED:
        return False
    before = await team.collector.previous(tracked)
    if not isinstance(before, TrackedModuleRef) or (before.id, learner_id) not in wanted:
        return False
    prior = await team.reader.peek_facts(before, learner_id)
    return prior is not None and not prior.complete


@dataclass(frozen=True, slots=True)
class _Desc:
    """A sort key in reverse (a heap of these keeps the largest on top)."""

    key: tuple[datetime, datetime, int, int]

    def __lt__(self, other: _Desc) -> bool:
        return self.key > other.key

    def __gt__(self, other: _Desc) -> bool:
        return self.key < other.key
