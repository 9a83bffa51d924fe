"""What learners and managers ask for: module progress, plans, sessions, iSpring results, status.

Every LMS answer goes through the shared cache, so a reply is fast when someone (or the reminder sweep) asked
recently, and still useful — marked with its age — while the LMS is rate-limited or down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from bot.config import Settings
from bot.errors import Problem, UserError
from bot.lms.errors import LMSError, NotFoundError
from bot.lms.factory import LmsClients
from bot.lms.ispring_models import ResultsFilter
from bot.lms.ratelimit import Priority
from bot.lms.zoho import Endpoint as ZohoEndpoint
from bot.lms.zoho_models import Module, ModuleProgress, Session, SessionEntity
from bot.services.cache import LmsCache, decode
from bot.services.links import LinkService
from bot.services.lms_queries import (
    ABSENT_MAX_AGE,
    FLAG,
    MODULE,
    PLANS,
    PROGRESS,
    RESULTS,
    SESSIONS,
    absent_key,
    ispring_results_key,
    module_key,
    progress_key,
    sessions_key,
)
from bot.services.registry import LmsRegistry
from bot.services.tracking import TrackError, TrackingService
from bot.services.types import (
    INTERACTIVE_MAX_WAIT,
    BudgetLine,
    DailyBudgetLine,
    Freshness,
    IspringProgress,
    ModuleStatus,
    PlansReport,
    ProgressPage,
    Provider,
    ResultsReport,
    SessionItem,
    SessionsReport,
    TrackedModuleRef,
)

T = TypeVar("T")

PENDING_MAX_AGE = 60.0  # `/lms progress`: work to do is re-read after a minute (done work after LMS_CACHE_SECONDS)
_PARALLEL = 4  # concurrent LMS calls per request: fast, and gentle on the 30-a-minute budget
# Modules one reply reads at most (one module-progress call each when not cached): 500 tracked modules must not
# cost 500 calls, 17 minutes of the endpoint's 30-a-minute budget, for one person. Buttons offer the rest.
PROGRESS_PAGE = 10


class NeedsSetup(UserError):
    """The caller cannot get an answer yet (not linked, nothing tracked, LMS not connected); the view says what
    to do."""


@dataclass(frozen=True, slots=True)
class Fetch:
    """How to fetch: people wait briefly and prefer fresh data; sweeps wait for budget and accept older data."""

    priority: Priority = Priority.INTERACTIVE
    max_wait: float | None = INTERACTIVE_MAX_WAIT
    max_age: float = 300.0
    # A module whose cached copy still shows work to do is re-read once older than this (None: `max_age`):
    # someone asking for their progress has often just finished something.
    pending_max_age: float | None = None
    # Someone is waiting: a fresh answer goes into their reply first, into the shared cache just after.
    reply_first: bool = False


class LearningService:
    def __init__(
        self,
        settings: Settings,
        registry: LmsRegistry,
        cache: LmsCache,
        links: LinkService,
        tracking: TrackingService,
        *,
        lms_now: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.lms_now = lms_now  # the one clock, read in the LMS's zone (bot.clock.wall_time)
        self.registry = registry
        self.cache = cache
        self.links = links
        self.tracking = tracking

    def interactive(self) -> Fetch:
        return Fetch(max_age=self.settings.lms_cache_seconds, pending_max_age=PENDING_MAX_AGE, reply_first=True)

    async def learner_id(self, team_id: str, user_id: str, provider: Provider = Provider.ZOHO) -> str:
        link = await self.links.learner_for(team_id, user_id, provider)
        if link is None:
            raise NeedsSetup(Problem.NOT_LINKED, provider=provider.value)
        return link.learner_id

    async def tracked(self, team_id: str, ref: str | None = None) -> list[TrackedModuleRef]:
        if ref:
            try:
                found = await self.tracking.find(team_id, ref)
            except TrackError as exc:
                raise NeedsSetup.recast(exc) from exc
            if found is None:
                raise NeedsSetup(Problem.NO_SUCH_MODULE_TO_SHOW, ref=ref)
            return [found]
        modules = await self.tracking.list(team_id, Provider.ZOHO)
        if not modules:
            raise NeedsSetup(Problem.NOTHING_TRACKED)
        return modules

    # --- progress ---------------------------------------------------------------------------------------

    async def progress(
        self, team_id: str, user_id: str, ref: str | None = None, fetch: Fetch | None = None
    ) -> list[ModuleStatus]:
        """The first page of the caller's modules (see `progress_page`)."""
        return (await self.progress_page(team_id, user_id, ref, fetch)).statuses

    async def progress_page(
        self,
        team_id: str,
        user_id: str,
        ref: str | None = None,
        fetch: Fetch | None = None,
        *,
        start: int = 0,
        limit: int = PROGRESS_PAGE,
    ) -> ProgressPage:
        """Tracked modules `start` to `start + limit` for the caller, each from the shared cache when fresh:
        never more than `limit` modules (so LMS calls) a reply, however many are tracked."""
        learner = await self.learner_id(team_id, user_id)
        modules = await self.tracked(team_id, ref)
        lms = await self._lms(team_id)
        fetch = fetch or self.interactive()
        start = max(0, min(start, len(modules) - 1))
        page = modules[start : start + limit]
        statuses = await _bounded([partial(self.module_status, lms, team_id, t, learner, fetch) for t in page])
        return ProgressPage(statuses=statuses, start=start, total=len(modules))

    async def overview(self, team_id: str, user_id: str, fetch: Fetch, *, limit: int = PROGRESS_PAGE) -> ProgressPage:
        """Every tracked module with a fresh cached answer (free), plus at most `limit` others read from the
        LMS (App Home: opening the tab again, or Refresh, reads the next ones). `total` counts them all."""
        learner = await self.learner_id(team_id, user_id)
        modules = await self.tracked(team_id)
        lms = await self._lms(team_id)
        fresh: dict[int, ModuleStatus] = {}
        stale: list[tuple[float, int, TrackedModuleRef]] = []  # (cached copy's time, 0 when none; order; module)
        for i, t in enumerate(modules):
            cached = await self.cached_status(team_id, t, learner, max_age=fetch.max_age)
            if cached is not None:
                fresh[t.id] = cached
                continue
            copy = await self.cache.peek(progress_key(team_id, t, learner_id=learner), PROGRESS)
            stale.append((copy[1].fetched_at.timestamp() if copy is not None else 0.0, i, t))
        # Never read first, then the oldest copies: Refresh (which wants everything fresh) works through them all.
        missing = [t for _, _, t in sorted(stale)][:limit]
        loaded = await _bounded([partial(self.module_status, lms, team_id, t, learner, fetch) for t in missing])
        got = fresh | {s.tracked.id: s for s in loaded}
        for _, _, t in stale:  # not read this time: their older copy, if any, marked with its age
            if t.id not in got and (old := await self.cached_status(team_id, t, learner, max_age=float("inf"))):
                got[t.id] = old
        return ProgressPage(statuses=[got[t.id] for t in modules if t.id in got], start=0, total=len(modules))

    async def cached_status(
        self, team_id: str, tracked: TrackedModuleRef, learner_id: str, *, max_age: float
    ) -> ModuleStatus | None:
        """The module's status from the shared cache alone (no LMS call); None when no fresh copy is there."""
        if await self._not_enrolled(team_id, tracked, learner_id):
            return ModuleStatus(tracked=tracked, not_enrolled=True)
        cached = await self.cache.peek(progress_key(team_id, tracked, learner_id), PROGRESS)
        if cached is None or self._age(cached[1]) > max_age:
            return None
        progress, freshness = cached
        module = None
        if progress.is_locked:
            settings = await self.cache.peek(module_key(team_id, tracked), MODULE)
            module = settings[0] if settings is not None else None
        return ModuleStatus(tracked=tracked, progress=progress, module=module, freshness=freshness, now=self.lms_now())

    async def _not_enrolled(self, team_id: str, tracked: TrackedModuleRef, learner_id: str) -> bool:
        """The LMS said within a day that this learner is not enrolled (and no progress was read since)."""
        absent = await self.cache.peek(absent_key(team_id, tracked, learner_id), FLAG)
        if absent is None or not absent[0] or self._age(absent[1]) >= ABSENT_MAX_AGE:
            return False
        return self._absent(absent, await self.cache.peek(progress_key(team_id, tracked, learner_id), PROGRESS))

    def _absent(self, absent: tuple[bool, Freshness] | None, progress: tuple[ModuleProgress, Freshness] | None) -> bool:
        if absent is None or not absent[0] or self._age(absent[1]) >= ABSENT_MAX_AGE:
            return False
        return progress is None or progress[1].fetched_at <= absent[1].fetched_at

    def _age(self, freshness: Freshness) -> float:
        return self.cache.clock() - freshness.fetched_at.timestamp()

    async def module_status(
        self, lms: LmsClients, team_id: str, tracked: TrackedModuleRef, learner_id: str, fetch: Fetch
    ) -> ModuleStatus:
        """One module for one learner; a failure becomes a plain-words error on that module only.

        Its "not enrolled" mark and its cached progress are read together, once (one query with the other
        modules' and the other requests' reads that arrive meanwhile)."""
        key = progress_key(team_id, tracked, learner_id)
        absent_entry, entry = await self.cache.entries(absent_key(team_id, tracked, learner_id), key)
        # The cached progress is decoded here only where it decides something (decoding is most of a cache hit's
        # CPU, and `fetch_read` decodes a copy it serves): against a recent "not enrolled" mark, and when its
        # age lies between the two limits, where work still to do means reading it again.
        absent = decode(absent_entry, FLAG)
        marked = absent is not None and absent[0] and self._age(absent[1]) < ABSENT_MAX_AGE
        if marked and self._absent(absent, decode(entry, PROGRESS)):
            return ModuleStatus(tracked=tracked, not_enrolled=True)
        max_age = fetch.max_age
        if entry is not None and fetch.pending_max_age is not None and fetch.pending_max_age < max_age:
            age = self.cache.clock() - entry[1].timestamp()
            cached = decode(entry, PROGRESS) if fetch.pending_max_age < age <= max_age else None
            if cached is not None and (cached[0].is_locked or cached[0].pending_mandatory):
                max_age = fetch.pending_max_age
        try:
            progress, freshness = await self.cache.fetch_read(
                key,
                entry,
                lambda: lms.zoho.module_progress(
                    tracked.course_id,
                    tracked.module_id,
                    learner_id,
                    batch_id=tracked.batch_id,
                    priority=fetch.priority,
                    max_wait=fetch.max_wait,
                ),
                PROGRESS,
                max_age=max_age,
                background=fetch.reply_first,
            )
        except NotFoundError:
            # Zoho answers 404 for a learner outside the module's course or batch: remembered for a day, as the
            # sweep does (same key), so neither asks again on every command.
            await self.cache.put(absent_key(team_id, tracked, learner_id), True, FLAG)
            return ModuleStatus(tracked=tracked, not_enrolled=True)
        except LMSError as exc:
            return ModuleStatus(tracked=tracked, error=exc.message)
        module: Module | None = None
        if progress.is_locked:
            # Why and until when: the module's own lock settings (change rarely, so an hour is fresh enough).
            try:
                settings, _fresh = await self.cache.fetch(
                    module_key(team_id, tracked),
                    lambda: lms.zoho.module(
                        tracked.course_id,
                        tracked.module_id,
                        batch_id=tracked.batch_id,
                        priority=fetch.priority,
                        max_wait=fetch.max_wait,
                    ),
                    MODULE,
                    max_age=max(fetch.max_age, 3600.0),
                )
                module = settings
            except LMSError:
                module = None
        return ModuleStatus(tracked=tracked, progress=progress, module=module, freshness=freshness, now=self.lms_now())

    # --- plans and sessions ---------------------------------------------------------------------------------

    async def plans(self, team_id: str, user_id: str, fetch: Fetch | None = None) -> PlansReport:
        learner = await self.learner_id(team_id, user_id)
        lms = await self._lms(team_id)
        fetch = fetch or self.interactive()
        plans, freshness = await self.cache.fetch(
            f"{team_id}:zoho:plans:{learner}",
            lambda: lms.zoho.learning_plans(learner, priority=fetch.priority, max_wait=fetch.max_wait),
            PLANS,
            max_age=fetch.max_age,
        )
        return PlansReport(plans=plans, freshness=freshness)

    async def sessions(
        self, team_id: str, ref: str | None = None, *, fetch: Fetch | None = None, user_id: str | None = None
    ) -> SessionsReport:
        """The sessions of the tracked blended modules, past and upcoming (the view tells them apart: the same
        sessions `/lms progress` shows, so both agree). With `user_id`, each carries that learner's attendance
        from their cached progress (no LMS call), so a past session reads attended or missed, as in progress."""
        modules = [t for t in await self.tracked(team_id, ref) if t.batch_id]
        if not modules:
            raise NeedsSetup(Problem.NO_BLENDED_BATCH)
        lms = await self._lms(team_id)
        fetch = fetch or self.interactive()
        items: list[SessionItem] = []
        errors: list[str] = []
        oldest: Freshness | None = None
        for tracked in modules:
            batch = tracked.batch_id or ""
            try:
                sessions, freshness = await self.cache.fetch(
                    sessions_key(team_id, tracked),
                    partial(
                        lms.zoho.module_sessions,
                        tracked.course_id,
                        batch,
                        tracked.module_id,
                        priority=fetch.priority,
                        max_wait=fetch.max_wait,
                    ),
                    SESSIONS,
                    max_age=fetch.max_age,
                )
            except LMSError as exc:
                errors.append(f"{tracked.label}: {exc.message}")
                continue
            if oldest is None or freshness.fetched_at < oldest.fetched_at or freshness.stale:
                oldest = freshness
            mine = await self._own_sessions(team_id, tracked, user_id)
            items += [SessionItem(tracked, s, _attendance(s, mine)) for s in sessions]
        items.sort(key=lambda i: i.session.starts_at or datetime.max)
        return SessionsReport(sessions=items, errors=errors, freshness=oldest)

    async def _own_sessions(self, team_id: str, tracked: TrackedModuleRef, user_id: str | None) -> list[SessionEntity]:
        """The learner's session entries in this module, from their cached progress however old (none if unknown)."""
        if user_id is None:
            return []
        link = await self.links.learner_for(team_id, user_id, Provider.ZOHO)
        if link is None:
            return []
        status = await self.cached_status(team_id, tracked, link.learner_id, max_age=float("inf"))
        if status is None or status.progress is None:
            return []
        return [e for e in status.progress.entities if isinstance(e, SessionEntity)]

    # --- iSpring results ------------------------------------------------------------------------------------

    async def results(
        self, team_id: str, flt: ResultsFilter, *, overdue_only: bool = False, fetch: Fetch | None = None
    ) -> ResultsReport:
        lms = await self._lms(team_id, Provider.ISPRING)
        fetch = fetch or self.interactive()
        key = ispring_results_key(team_id, flt)
        results, freshness = await self.cache.fetch(
            key,
            lambda: lms.ispring.module_results(flt, priority=fetch.priority, max_wait=fetch.max_wait),
            RESULTS,
            max_age=fetch.max_age,
        )
        names = {link.learner_id: link.slack_user_id for link in await self.links.links.list(team_id, Provider.ISPRING)}
        if overdue_only:
            results = [r for r in results if r.is_overdue and not r.is_done]
        return ResultsReport(results=results, names=names, freshness=freshness)

    async def ispring_progress(
        self, team_id: str, user_id: str, ref: str | None = None, fetch: Fetch | None = None
    ) -> IspringProgress | None:
        """The learner's own iSpring modules (None: not linked to iSpring, or iSpring is not connected).

        `ref` keeps the modules whose title, module id or course id matches it (as `/lms progress <module>`).
        An iSpring failure is an `error` on the report, so the Zoho part of a reply still shows.
        """
        link = await self.links.learner_for(team_id, user_id, Provider.ISPRING)
        if link is None:
            return None
        lms = await self.registry.for_team(team_id)
        if not lms.has_ispring:
            return None
        fetch = fetch or self.interactive()
        flt = ResultsFilter(user_ids=(link.learner_id,))
        key = ispring_results_key(team_id, flt)
        now = self.lms_now()
        try:
            results, freshness = await self.cache.fetch(
                key,
                lambda: lms.ispring.module_results(flt, priority=fetch.priority, max_wait=fetch.max_wait),
                RESULTS,
                max_age=fetch.max_age,
                background=fetch.reply_first,
            )
        except LMSError as exc:
            return IspringProgress(learner_id=link.learner_id, error=exc.message, now=now)
        mine = [r for r in results if r.user_id == link.learner_id]
        if ref:
            wanted = ref.strip().lower()
            mine = [
                r
                for r in mine
                if wanted in r.module_title.lower()
                or wanted in (str(r.module_id or "").lower(), str(r.course_id or "").lower())
            ]
        return IspringProgress(learner_id=link.learner_id, results=mine, freshness=freshness, now=now)

    # --- budgets ---------------------------------------------------------------------------------------------

    async def budgets(self, team_id: str) -> list[BudgetLine]:
        lms = await self._lms(team_id, None)
        if not lms.has_zoho:
            return []
        transport = lms.zoho.transport
        lines = []
        for endpoint in (
            ZohoEndpoint.MODULE_PROGRESS,
            ZohoEndpoint.MODULE_SESSIONS,
            ZohoEndpoint.LEARNING_PLANS,
            ZohoEndpoint.UPDATE_MODULE,
        ):
            budget = await lms.limiter.budget(transport.limit_key(endpoint))
            lines.append(BudgetLine(endpoint, budget.remaining, budget.limit, budget.locked_for))
        return lines

    async def daily_budget(self, team_id: str) -> DailyBudgetLine | None:
        """The workspace's Zoho account's daily budget (None when Zoho is not connected)."""
        lms = await self._lms(team_id, None)
        if not lms.has_zoho:
            return None
        return await daily_line(lms)

    async def _lms(self, team_id: str, provider: Provider | None = Provider.ZOHO) -> LmsClients:
        lms = await self.registry.for_team(team_id)
        connected = {Provider.ZOHO: lms.has_zoho, Provider.ISPRING: lms.has_ispring}
        if provider is not None and not connected[provider]:
            raise NeedsSetup(Problem.LMS_NOT_CONNECTED, provider=provider.value)
        return lms


async def daily_line(lms: LmsClients) -> DailyBudgetLine | None:
    quota = lms.zoho.transport.daily
    if quota is None:
        return None
    usage = await lms.limiter.daily_usage(quota)
    return DailyBudgetLine(usage.used, usage.limit, usage.used_today, usage.projected_today, usage.zone)


async def _bounded(jobs: list[Callable[[], Awaitable[T]]], limit: int = _PARALLEL) -> list[T]:
    """Run the jobs concurrently, at most `limit` at a time, keeping their order."""
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(run(job) for job in jobs)))


def _attendance(session: Session, mine: Sequence[SessionEntity]) -> SessionEntity | None:
    """The learner's entry for `session`: the same id, else the same name, day and start (Zoho's progress and
    sessions lists need not share ids)."""
    for entity in mine:
        if str(entity.entity_id) == str(session.session_id):
            return entity
    when = (session.name, session.start_date, session.start_time)
    return next((e for e in mine if (e.name, e.start_date, e.start_time) == when), None)
