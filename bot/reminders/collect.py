"""A learner's reminder items from the LMS: pending mandatory items of tracked modules, locked modules with
why and until when, upcoming sessions, and iSpring modules due soon or overdue.

Cheap first: muted modules are never read; a module locked until a later date, or known complete from the
cache, or locked because the learner has not finished the module before it, costs no call. This module decides
which answers to read and when; what the entries say, given the answers, is bot/reminders/entries.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from bot.lms.ispring_models import ModuleResult
from bot.lms.zoho_models import LockType, Module, ModuleProgress, SessionEntity
from bot.reminders.entries import ispring_entries, ispring_key, locked_entry, session_info, task_entries, usable_url
from bot.reminders.lms_reader import LmsReader, Progress, Unavailable
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.reminders.types import DigestEntry, MissedSession, SessionInfo
from bot.services import agenda
from bot.services.bulk_reads import Skip
from bot.services.types import TrackedModuleRef

UPCOMING_SESSION_DAYS = 7  # the digest lists sessions this close
URL_LIMIT = 3000  # Slack's longest button URL


@dataclass(frozen=True, slots=True)
class Learner:
    team_id: str
    user_id: str
    zoho_id: str | None
    ispring_id: str | None
    tz: tzinfo
    muted: frozenset[int] = frozenset()


@dataclass
class Collected:
    entries: list[DigestEntry] = field(default_factory=list)
    sessions: list[SessionInfo] = field(default_factory=list)
    missed: list[MissedSession] = field(default_factory=list)  # mandatory sessions that ended without them
    unavailable: list[str] = field(default_factory=list)  # why some data is missing: the learner waits
    unchecked: list[str] = field(default_factory=list)  # modules with no answer at all (the digest says so)
    oldest: datetime | None = None  # the oldest LMS answer with something still to do that the entries rest on

    @property
    def complete(self) -> bool:
        return not self.unavailable


class Collector:
    def __init__(
        self,
        reader: LmsReader,
        tracked: Sequence[TrackedModuleRef],
        config: ReminderConfig,
        report: SweepReport,
        lms_zone: tzinfo,
        zoho_url: str | None,
    ) -> None:
        self.reader = reader
        self.tracked = list(tracked)
        self.config = config
        self.report = report
        self.lms_zone = lms_zone
        self.zoho_url = zoho_url

    async def collect(
        self,
        learner: Learner,
        now: datetime,
        *,
        ispring: Sequence[ModuleResult] | None,
        max_age: float | None = None,
        max_wait: float | None = None,
    ) -> Collected:
        """`max_age`: answers younger than this are used as they are (default `fresh_seconds`); `max_wait`: wait at
        most this long for a fresher one, else use the cached copy however old (None: wait as long as it takes)."""
        out = Collected()
        if learner.zoho_id:
            age = self.config.fresh_seconds if max_age is None else max_age
            await self._zoho(learner, learner.zoho_id, now, out, age, max_wait)
        if learner.ispring_id:
            if ispring is None:
                out.unavailable.append("iSpring results unavailable")
            else:
                entries = ispring_entries(ispring, learner.ispring_id, now, learner.tz, self.config)
                links = await self._ispring_links(ispring, {e.key for e in entries})
                if links:
                    entries = ispring_entries(ispring, learner.ispring_id, now, learner.tz, self.config, links)
                out.entries += entries
        return out

    async def _ispring_links(self, results: Sequence[ModuleResult], keys: set[str]) -> dict[tuple[str, str], str]:
        """The `viewUrl` iSpring gives each module of the courses these entries are in: (course, module) -> URL."""
        courses = sorted({r.course_id for r in results if r.course_id and ispring_key(r) in keys})
        links: dict[tuple[str, str], str] = {}
        for course_id in courses:
            for module in await self.reader.ispring_course_modules(course_id) or []:
                if usable_url(module.view_url):
                    links[(course_id, module.module_id)] = str(module.view_url)
        return links

    async def _zoho(
        self, learner: Learner, learner_id: str, now: datetime, out: Collected, max_age: float, max_wait: float | None
    ) -> None:
        today = now.astimezone(learner.tz).date()
        modules = await self._in_course_order([t for t in self.tracked if t.id not in learner.muted])
        status: dict[int, ModuleProgress] = {}
        absent: set[tuple[str, str | None]] = set()  # (course, batch) the learner is not enrolled in
        for tracked in modules:
            self.report.pairs += 1
            where = (tracked.course_id, tracked.batch_id)
            cached = await self.reader.peek_progress(tracked, learner_id)
            if where in absent or (cached is None and await self.reader.not_enrolled(tracked, learner_id)):
                # Not in this course (or batch): no call, and nothing to say about its locks either.
                absent.add(where)
                self.report.known_skips += 1
                continue
            settings = await self.reader.module(tracked)
            name = settings.name if settings else None
            if settings is not None and _locked_until_later(settings, today):
                self.report.known_skips += 1
                out.entries.append(locked_entry(tracked, name, settings, None, None))
                continue
            if cached is not None and cached.complete and self._age(now, cached) < self.config.complete_recheck_seconds:
                self.report.known_skips += 1
                status[tracked.id] = cached.value
                continue
            before = await self.previous(tracked)
            if (
                settings is not None
                and settings.lock_type is LockType.UNTIL_PREVIOUS_COMPLETED
                and isinstance(before, TrackedModuleRef)
                and before.id in status
                and not _done(status[before.id])
            ):
                # It stays locked until the module before it is done, and that one is not: no call needed.
                self.report.known_skips += 1
                out.entries.append(locked_entry(tracked, name, settings, before, status[before.id]))
                continue
            # None unless bulk reads are on; a bulk answer as old as the copies this digest may use will do.
            skip = await self.reader.bulk_skip(
                tracked, learner_id, cached, max_age=max_age, at_send=max_wait is not None
            )
            if skip is Skip.NOT_ENROLLED:
                self.report.known_skips += 1
                absent.add(where)
                continue
            if skip is Skip.COMPLETE:  # as module-progress would have said: nothing pending, not locked
                self.report.known_skips += 1
                label = self.reader.bulk_module_name(tracked, learner_id) or name or ""
                status[tracked.id] = ModuleProgress(module_id=tracked.module_id, module_name=label)
                continue
            waiting_only_for_sessions = (
                cached is not None and not cached.value.is_locked and future_only(cached.value, now) is not None
            )
            try:
                if (skip is Skip.UNCHANGED or waiting_only_for_sessions) and cached is not None:
                    # Unchanged per the bulk answer, or nothing can be done before a session starts: no call.
                    self.report.known_skips += 1
                    got: Progress | None = cached
                else:
                    got = await self.reader.progress(
                        tracked,
                        learner_id,
                        max_age=max_age,
                        max_wait=max_wait,
                        max_stale=None if max_wait is None else math.inf,
                    )
            except Unavailable as exc:
                if max_wait is not None:  # a digest at its send time does not wait: it says what it could not check
                    out.unchecked.append(name or tracked.label)
                    continue
                out.unavailable.append(f"{tracked.label}: {exc}")
                return  # the learner waits for a later sweep: spend no more budget on them now
            if got is None:
                absent.add(where)  # not enrolled in this module's course or batch
                continue
            progress = got.value
            status[tracked.id] = progress
            # Vouched for by the bulk answer (unchanged since the copy was read): the data is as old as that answer.
            seen_at = (self.reader.bulk_as_of(tracked) or got.fetched_at) if skip is Skip.UNCHANGED else got.fetched_at
            if not got.complete and (out.oldest is None or seen_at < out.oldest):
                out.oldest = seen_at
            name = progress.module_name or name
            if progress.is_locked:
                prior = status.get(before.id) if isinstance(before, TrackedModuleRef) else None
                out.entries.append(locked_entry(tracked, name, settings, before, prior))
                continue
            out.entries += task_entries(tracked, name, progress, now, self.lms_zone, self.config.zoho_item_url)
            upcoming, missed = await self._sessions(tracked, name, progress, now)
            out.sessions += upcoming
            out.missed += missed

    async def _sessions(
        self, tracked: TrackedModuleRef, name: str | None, progress: ModuleProgress, now: datetime
    ) -> tuple[list[SessionInfo], list[MissedSession]]:
        """The learner's own sessions in this module starting within the next week, not attended yet; and the
        mandatory ones that ended without them lately, each with the module's next session if the LMS lists one."""
        mine = [e for e in progress.entities if isinstance(e, SessionEntity) and not e.is_complete]
        if not mine:
            return [], []
        listed = await self.reader.sessions(tracked) or []
        details = {s.session_id: s for s in listed}
        horizon = now + timedelta(days=UPCOMING_SESSION_DAYS)
        lms_now = now.astimezone(self.lms_zone)
        missed_ids = {e.entity_id for e in agenda.recently_missed(progress, lms_now)}
        found: list[SessionInfo] = []
        missed: list[MissedSession] = []
        for entity in mine:
            info = session_info(tracked, name, entity, details.get(entity.entity_id), self.lms_zone)
            if info is None:
                continue
            if entity.entity_id in missed_ids:
                following = agenda.next_session(listed, lms_now, skip=entity.entity_id)
                after = session_info(tracked, name, None, following, self.lms_zone) if following else None
                missed.append(MissedSession(info, after))
            elif now <= info.starts_at <= horizon:
                found.append(info)
        return found, missed

    async def _in_course_order(self, modules: list[TrackedModuleRef]) -> list[TrackedModuleRef]:
        """Tracked modules ordered as their courses order them, so a module's predecessor is read first."""
        rank: dict[int, tuple[str, str, int]] = {}
        for tracked in modules:
            order = await self.reader.course_modules(tracked)
            ids = [m.module_id for m in order or []]
            index = ids.index(tracked.module_id) if tracked.module_id in ids else len(ids)
            rank[tracked.id] = (tracked.course_id, tracked.batch_id or "", index)
        return sorted(modules, key=lambda t: rank[t.id])

    async def previous(self, tracked: TrackedModuleRef) -> TrackedModuleRef | str | None:
        """The module before this one in its course: the tracked one if tracked, else its name."""
        order = await self.reader.course_modules(tracked)
        ids = [m.module_id for m in order or []]
        if tracked.module_id not in ids or ids.index(tracked.module_id) == 0 or order is None:
            return None
        before = order[ids.index(tracked.module_id) - 1]
        for other in self.tracked:
            if (other.course_id, other.batch_id, other.module_id) == (
                tracked.course_id,
                tracked.batch_id,
                before.module_id,
            ):
                return other
        return before.name or before.module_id

    @staticmethod
    def _age(now: datetime, cached: Progress) -> float:
        return (now - cached.fetched_at.astimezone(UTC)).total_seconds()


# --- what the Collector alone needs ---------------------------------------------------------------------------


def _done(progress: ModuleProgress) -> bool:
    return not progress.is_locked and not progress.pending_mandatory


def future_only(progress: ModuleProgress, now: datetime) -> datetime | None:
    """When every pending mandatory item is a session that has not started yet: the first one's start."""
    pending = progress.pending_mandatory
    if not pending:
        return None
    starts: list[datetime] = []
    for entity in pending:
        if not isinstance(entity, SessionEntity) or entity.start_date is None:
            return None
        starts.append(datetime.combine(entity.start_date, datetime.min.time(), tzinfo=UTC))
    first = min(starts)
    return first if first - timedelta(days=1) > now else None


def _locked_until_later(settings: Module, today: date) -> bool:
    return settings.lock_type is LockType.UNTIL_DATE and settings.lock_until is not None and settings.lock_until > today
