"""The refresh planner: which (learner, module) answers a sweep re-reads ahead of their owners' send times.

Each pair is re-read once within the `plan_hours` before its learner's next send time, done `prefetch_minutes`
before it, so the digest itself never waits for the LMS. Reads are paced: the planner works out how many it
must make now so that every remaining one still fits before its own deadline at the rate it may count on —
the smaller of the module-progress endpoint's per-minute share and the account's daily budget spread over 24
hours, times `plan_rate_share` — and makes no more (reads as late as the budget allows are the freshest). When
that is not enough it spends the sweep's share where it matters most: soonest send time first, then modules
never read, in progress before not started, items due soonest. What is left is built at send time from the
cached copy, marked "as of <date>".

No call at all for a pair whose answer cannot have changed: known complete (`complete_recheck_days`), locked
until a later date, its only pending items sessions that have not started, or not enrolled. The planner
remembers, per pair, when it was read and until when it is settled, so a sweep over 10,000 learners decodes no
cached answers it does not need.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.lms.ratelimit import Priority, RateLimitPolicy
from bot.lms.zoho_models import LockType, Module
from bot.reminders.collect import Learner
from bot.reminders.facts import ProgressFacts
from bot.reminders.lms_reader import LmsReader, Unavailable
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.services.bulk_reads import Skip
from bot.services.types import TrackedModuleRef

log = logging.getLogger(__name__)
DAY = 86400.0
NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Pair:
    """One (learner, module) answer to re-read before `deadline` (its learner's send time minus the lead)."""

    deadline: datetime
    rank: int  # 0 never read, 1 in progress, 2 not started
    due: date  # the soonest dated pending item (date.max: none dated)
    learner: Learner
    tracked: TrackedModuleRef
    max_age: float  # a copy younger than this (read since the window opened) needs no call

    def order(self) -> tuple[datetime, int, date, str, int]:
        return (self.deadline, self.rank, self.due, self.learner.user_id, self.tracked.id)


def settled_until(
    cached: ProgressFacts | None, settings: Module | None, now: datetime, config: ReminderConfig
) -> datetime | None:
    """Until when this answer cannot change (no call needed before then); None: it may change any time."""
    if settings is not None and settings.lock_type is LockType.UNTIL_DATE and settings.lock_until is not None:
        opens = datetime.combine(settings.lock_until, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
        if opens > now:  # a day early: the lock date is in the LMS's zone, which this does not know
            return opens
    if cached is None:
        return None
    if cached.complete:
        return cached.fetched_at + timedelta(seconds=config.complete_recheck_seconds)
    if cached.is_locked:
        return None
    starts = cached.future_only(now)
    return starts - timedelta(days=1) if starts is not None else None


def _behind_previous(settings: Module) -> bool:
    return settings.lock_type is LockType.UNTIL_PREVIOUS_COMPLETED


def _locked_until_later(settings: Module, today: date) -> bool:
    """As the digest judges it (bot/reminders/collect.py): locked until a date after today."""
    return settings.lock_type is LockType.UNTIL_DATE and settings.lock_until is not None and settings.lock_until > today


def _rank(cached: ProgressFacts | None) -> tuple[int, date]:
    if cached is None:
        return 0, date.max
    return (1 if cached.started else 2), cached.due


@dataclass(slots=True)
class _Memo:
    read_at: datetime = NEVER  # the cached answer's time, as last seen
    quiet_until: datetime = NEVER  # settled: nothing to read before then
    absent: bool = False


class Planner:
    """Lives as long as the engine (the scheduler process); one memo per (workspace, learner, module)."""

    def __init__(self, config: ReminderConfig, policy: RateLimitPolicy | None = None) -> None:
        self.config = config
        self.policy = policy or RateLimitPolicy()
        self._memo: dict[tuple[str, str, int], _Memo] = {}
        self._spare: dict[str, tuple[float, datetime]] = {}  # per workspace: in-place refresh calls left, as of
        self._tracked: dict[str, list[TrackedModuleRef]] = {}  # per workspace: its tracked modules, as last planned

    def forget(self, team_id: str) -> None:
        for key in [k for k in self._memo if k[0] == team_id]:
            del self._memo[key]

    async def plan(
        self,
        reader: LmsReader,
        tracked: Sequence[TrackedModuleRef],
        upcoming: Sequence[tuple[datetime, Learner]],
        now: datetime,
    ) -> list[Pair]:
        """Every pair of these learners (each with their next send time) still to re-read before it, by priority."""
        window = timedelta(hours=self.config.plan_hours)
        lead = timedelta(minutes=self.config.prefetch_minutes)
        settings: dict[int, Module | None] = {}
        self._tracked[reader.team_id] = list(tracked)
        pairs: list[Pair] = []
        for send_at, learner in upcoming:
            if not learner.zoho_id or send_at - now > window:
                continue
            opens = send_at - window
            for module in tracked:
                if module.id in learner.muted:
                    continue
                memo = self._memo.setdefault((learner.team_id, learner.zoho_id, module.id), _Memo())
                if memo.read_at >= opens or memo.quiet_until > send_at:
                    continue
                if memo.absent and now - memo.read_at < timedelta(days=1):
                    continue
                if module.id not in settings:  # as last read: the digest reads them again when it is due
                    settings[module.id] = await reader.known_module(module)
                cached = await reader.peek_facts(module, learner.zoho_id)
                if cached is None and await reader.not_enrolled(module, learner.zoho_id):
                    memo.absent, memo.read_at = True, now
                    continue
                memo.absent = False
                if cached is not None:
                    memo.read_at = cached.fetched_at
                    if cached.fetched_at >= opens:
                        continue
                day = send_at.astimezone(learner.tz).date()
                if await self._behind_pending(reader, tracked, module, learner, settings, day):
                    continue  # the digest tells its lock from the module before it, not from its own answer
                quiet = settled_until(cached, settings[module.id], now, self.config)
                if quiet is not None:
                    memo.quiet_until = quiet
                    if quiet > send_at:
                        continue
                rank, due = _rank(cached)
                max_age = max(0.0, (now - opens).total_seconds())
                pairs.append(Pair(max(now, send_at - lead), rank, due, learner, module, max_age))
        pairs.sort(key=Pair.order)
        return pairs

    async def _behind_pending(
        self,
        reader: LmsReader,
        tracked: Sequence[TrackedModuleRef],
        module: TrackedModuleRef,
        learner: Learner,
        settings: dict[int, Module | None],
        today: date,
        *,
        bulk: bool = False,
    ) -> bool:
        """Locked until the module before it is done, and that one — tracked, not muted, open, as last read — is
        not: the digest then tells this module's lock from that one's answer and never reads this one
        (bot/reminders/collect.py), so no call for it can change what is sent. Once the one before reads done,
        this one is planned again (each sweep looks anew). `bulk`: when that one was never read, the verified
        bulk answer in hand says whether it is done (that one, unlocked by its settings, is read before the
        digest, which then judges as here; should it read done after all, the digest reads this one)."""
        mine = settings[module.id]
        if mine is None or not _behind_previous(mine) or learner.zoho_id is None:
            return False
        order = await reader.known_course_modules(module)  # as last read: the digest reads it again when due
        ids = [m.module_id for m in order or []]
        if module.module_id not in ids or ids.index(module.module_id) == 0:
            return False
        before_id = ids[ids.index(module.module_id) - 1]
        before = next(
            (
                t
                for t in tracked
                if (t.course_id, t.batch_id, t.module_id) == (module.course_id, module.batch_id, before_id)
            ),
            None,
        )
        if before is None or before.id in learner.muted:
            return False
        if before.id not in settings:
            settings[before.id] = await reader.known_module(before)
        before_settings = settings[before.id]
        if before_settings is None or _locked_until_later(before_settings, today):
            return False  # the digest skips that one without an answer: it reads this one
        prior = await reader.peek_facts(before, learner.zoho_id)
        if prior is not None:
            return not prior.is_locked and not prior.complete
        return (
            bulk
            and before_settings.lock_type is LockType.UNLOCKED
            and reader.bulk_complete(before, learner.zoho_id) is False
        )

    async def allowance(self, reader: LmsReader, pairs: Sequence[Pair], now: datetime) -> int:
        """How many of `pairs` (in order) to read in this sweep: what keeps the rest feasible, within the caps."""
        if not pairs:
            return 0
        per_second = self.policy.limit_for(Priority.BACKGROUND) / self.policy.effective_window
        rate = per_second
        headroom = math.inf
        transport = reader.lms.zoho.transport
        limiter = transport.limiter
        if transport.daily is not None and limiter is not None:
            daily = self.policy.daily_limit_for(Priority.BACKGROUND, transport.daily.limit)
            usage = await limiter.daily_usage(transport.daily)
            rate = min(rate, daily / DAY)
            headroom = max(0, daily - usage.used)
        rate *= self.config.plan_rate_share
        required = 0.0
        for k, pair in enumerate(pairs, start=1):
            required = max(required, k - rate * max(0.0, (pair.deadline - now).total_seconds()))
        if headroom < len(pairs):
            # More pairs than calls left in the rolling 24 h: waiting gains the soonest nothing (what frees up later
            # serves the later ones), while other work (session lists, in-place updates, people's commands) may
            # spend what is left meanwhile. So the soonest are read now, as many as the calls left fall short.
            required = max(required, len(pairs) - headroom)
        # A sweep spends at most what the endpoint gives in one sweep interval, so it never runs into the next.
        per_sweep = max(1, int(per_second * self.config.plan_rate_share * self.config.sweep_minutes * 60))
        return int(min(math.ceil(required), per_sweep, headroom, len(pairs)))

    def spare(self, reader: LmsReader) -> int | None:
        """Calls this sweep may spend on reads the planner does not plan (in-place updates of sent digests): the
        part of the daily budget the planner leaves, as a bucket that refills over the day and holds at most one
        sweep's `refresh_calls_per_sweep` (so a quiet workspace ticks work off at once, and a busy one never
        spends more than that share however many digests are out). None: no daily budget, no limit of its own.
        Tell it what was spent with `spent`."""
        transport = reader.lms.zoho.transport
        if transport.daily is None or transport.limiter is None:
            return None
        daily = self.policy.daily_limit_for(Priority.BACKGROUND, transport.daily.limit)
        rate = daily * (1 - self.config.plan_rate_share) / DAY
        cap = float(self.config.refresh_calls_per_sweep)
        now = reader.now()
        level, since = self._spare.get(reader.team_id, (cap, now))
        level = min(cap, level + rate * max(0.0, (now - since).total_seconds()))
        self._spare[reader.team_id] = (level, now)
        return int(level)

    def spent(self, reader: LmsReader, calls: int) -> None:
        level, since = self._spare.get(reader.team_id, (0.0, reader.now()))
        self._spare[reader.team_id] = (max(0.0, level - calls), since)

    async def settle(
        self,
        reader: LmsReader,
        pairs: Sequence[Pair],
        report: SweepReport,
        *,
        focus: Callable[[Sequence[Pair]], Awaitable[None]] | None = None,
        batch: int | None = None,
    ) -> list[Pair]:
        """Settle from the bulk answer (ZOHO_BULK_READS, verified) every pair it can: complete, not enrolled, or
        unchanged since its cached read, all at once, whichever sweep it falls in; one bulk answer read after
        their windows opened serves them all. Returns the pairs left to read module by module, in order.
        `focus`: called with each `batch` of pairs before they are looked at (to read their cached answers).

        The bulk answer is read again only when one of the pairs that must be read now (`allowance`) opened its
        window after the answer in hand was read: a whole course's pages cost what many module reads do, and
        one answer read late enough serves every send time of the day whose window was open then. Pairs whose
        window opened after it are left for a later answer (they are not due yet)."""
        if not pairs:
            return []
        pressing = pairs[: max(1, await self.allowance(reader, pairs, reader.now()))]
        if not await reader.bulk_ready(min(p.max_age for p in pressing)):
            return list(pairs)
        left: list[Pair] = []
        size = batch or len(pairs)
        for start in range(0, len(pairs), size):
            if focus is not None:
                await focus(pairs[start : start + size])
            left += await self._settle(reader, pairs[start : start + size], report)
        return left

    async def _settle(self, reader: LmsReader, pairs: Sequence[Pair], report: SweepReport) -> list[Pair]:
        left: list[Pair] = []
        for pair in pairs:
            learner_id = pair.learner.zoho_id
            assert learner_id is not None
            if not reader.bulk_covers(pair.max_age):
                left.append(pair)  # its window opened after the answer in hand was read
                continue
            cached = await reader.peek_facts(pair.tracked, learner_id)
            skip = await reader.bulk_skip(pair.tracked, learner_id, cached, max_age=pair.max_age)
            if skip is None and cached is None:
                tracked = self._tracked.get(reader.team_id, [])
                settings: dict[int, Module | None] = {pair.tracked.id: await reader.known_module(pair.tracked)}
                today = pair.deadline.astimezone(pair.learner.tz).date()
                if await self._behind_pending(reader, tracked, pair.tracked, pair.learner, settings, today, bulk=True):
                    report.refreshed += 1
                    continue  # planned again next sweep, by then from the answer of the module before it
            if skip is None:
                left.append(pair)
                continue
            memo = self._memo.setdefault((pair.learner.team_id, learner_id, pair.tracked.id), _Memo())
            self._settled(memo, skip, reader, pair.tracked)
            report.refreshed += 1
        return left

    def _settled(self, memo: _Memo, skip: Skip, reader: LmsReader, tracked: TrackedModuleRef) -> None:
        now = reader.now()
        if skip is Skip.NOT_ENROLLED:
            memo.absent, memo.read_at = True, now
        elif skip is Skip.COMPLETE:
            memo.quiet_until = now + timedelta(seconds=self.config.complete_recheck_seconds)
        elif skip is Skip.UNCHANGED:  # as current as the bulk answer that vouches for it
            memo.read_at = reader.bulk_as_of(tracked) or now

    async def refresh(self, reader: LmsReader, pairs: Sequence[Pair], report: SweepReport) -> int:
        """Re-read these pairs (a few at a time); stops at the first the LMS cannot answer. Returns how many."""
        gate = asyncio.Semaphore(self.config.concurrency)
        stop = asyncio.Event()
        done = 0

        async def one(pair: Pair) -> None:
            nonlocal done
            learner_id = pair.learner.zoho_id
            assert learner_id is not None
            async with gate:
                if stop.is_set():
                    return
                memo = self._memo.setdefault((pair.learner.team_id, learner_id, pair.tracked.id), _Memo())
                cached = await reader.peek_facts(pair.tracked, learner_id)
                try:
                    skip = (
                        await reader.bulk_skip(pair.tracked, learner_id, cached, max_age=pair.max_age)
                        if reader.bulk_covers(pair.max_age)  # else one call, not a course's pages again
                        else None
                    )
                    if skip is not None:
                        self._settled(memo, skip, reader, pair.tracked)
                    else:
                        got = await reader.progress(pair.tracked, learner_id, max_age=pair.max_age)
                        memo.read_at = got.fetched_at if got is not None else reader.now()
                        memo.absent = got is None
                except Unavailable as exc:
                    log.info("planned refresh of %s for %s stopped: %s", pair.tracked.label, learner_id, exc)
                    stop.set()  # budget spent or the LMS struggling: the rest is built from the cache
                    return
                done += 1
                report.refreshed += 1

        await asyncio.gather(*(one(p) for p in pairs))
        # What every digest of these modules shares (course order, session dates) is read now too, not at send time.
        for module in {p.tracked.id: p.tracked for p in pairs}.values():
            await reader.course_modules(module)
            await reader.sessions(module)
        return done
