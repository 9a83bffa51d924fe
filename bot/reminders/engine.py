"""The reminder sweep: who is due, what they must still do, and one message each, exactly once.

A sweep, per workspace, works through its learners a batch at a time (`sweep_batch`): their cached LMS
answers and sent digests are read per batch and let go after it, so memory stays flat in the number of learners.
This module is its orchestrator — which workspaces and learners (bot/reminders/roster.py opens each workspace),
each phase in turn, the report — and the phases are modules of their own, sharing `team.Team`:
1. digests (bot/reminders/digests.py) — learners whose local send time has come, built from the cache without
   waiting for the LMS; then the planner refreshes, paced over the day, the data of those due within `plan_hours`;
2. in-place updates (bot/reminders/updates.py, its re-reads in rereads.py) — recent digests re-checked and
   edited with chat.update when items got done; "now unlocked" notes when a module they told was locked opens;
3. session reminders (bot/reminders/sessions.py) — the day before and shortly before, for learners and trainers;
4. the weekly overdue digest for managers and admins (bot/reminders/managers.py).
One learner's trouble (LMS down, Slack refusing) never stops the others: it is reported and retried later.

The engine and its phases reach storage through services only (the sent log, the audience, the cached answers);
bot/reminders_root.py builds them and the engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import logcontext, metrics
from bot.lms.ispring_models import ModuleResult
from bot.reminders.delivery import Delivery
from bot.reminders.digests import DigestPhase
from bot.reminders.facts import FactsMemo
from bot.reminders.inplace import SentMemo
from bot.reminders.managers import ManagerPhase
from bot.reminders.planner import Planner
from bot.reminders.report import SweepReport
from bot.reminders.rereads import Rereads
from bot.reminders.roster import Roster
from bot.reminders.sessions import SessionPhase
from bot.reminders.settings import ReminderConfig
from bot.reminders.team import Forced, Stop, chunks, days, utc_now
from bot.reminders.types import DIGEST_KEY, Renderer
from bot.reminders.updates import UpdatePhase
from bot.services.bulk_reads import BulkReads
from bot.services.cache import LmsCache
from bot.services.cached_answers import CachedAnswers
from bot.services.people import PeopleService
from bot.services.registry import LmsRegistry
from bot.services.reminder_audience import LearnerLink, ReminderAudience
from bot.services.sent_log import SentHead, SentLog, SentReminder
from bot.services.status import StatusService
from bot.services.tracking import TrackingService
from bot.services.workspaces import WorkspaceService

__all__ = ["Forced", "ReminderEngine", "utc_now"]
log = logging.getLogger(__name__)


class ReminderEngine:
    def __init__(
        self,
        renderer: Renderer,
        config: ReminderConfig,
        *,
        delivery: Delivery,
        sent_log: SentLog,
        audience: ReminderAudience,
        answers: CachedAnswers,
        workspaces: WorkspaceService,
        registry: LmsRegistry,
        cache: LmsCache,
        tracking: TrackingService,
        bulk_reads: BulkReads,
        status: StatusService,
        people: PeopleService,
        lms_zone: ZoneInfo,
        admins: frozenset[str],
        managers: frozenset[str],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.renderer = renderer
        self.config = config
        self.clock = clock
        self.state = sent_log  # the sent log: which digests are taken, and the recent ones to update
        self.audience = audience
        self.workspaces = workspaces
        self.status = status
        self.planner = Planner(config)
        self._stop = Stop()
        # Kept across sweeps (the process's lifetime), small per answer and per sent digest: what was derived
        # from each cached answer and sent digest, by row version, so unchanged ones are not decoded again.
        self.facts = FactsMemo()
        self.sent_memo = SentMemo()
        self.roster = Roster(
            config,
            audience=audience,
            answers=answers,
            registry=registry,
            cache=cache,
            tracking=tracking,
            bulk_reads=bulk_reads,
            delivery=delivery,
            facts=self.facts,
            lms_zone=lms_zone,
            clock=clock,
        )
        self.digests = DigestPhase(
            config, renderer, delivery, sent_log, self.planner, lms_zone=lms_zone, clock=clock, stop=self._stop
        )
        rereads = Rereads(config, self.planner, self._stop)
        self.updates = UpdatePhase(renderer, delivery, sent_log, self.sent_memo, rereads)
        self.sessions = SessionPhase(config, renderer, delivery, lms_zone)
        self.managers = ManagerPhase(
            config, renderer, delivery, people, admins=admins, managers=managers, stop=self._stop
        )

    def stop(self) -> None:
        """Finish the learner in hand and start no other (SIGTERM): nothing half-sent is left behind."""
        self._stop.requested = True

    async def sweep(
        self,
        *,
        force: bool | Forced = False,
        dry_run: bool = False,
        only_user: str | None = None,
        team_id: str | None = None,
    ) -> SweepReport:
        """One pass over every workspace. `force`: as if it were every learner's send time (dedup still applies;
        a `Forced` says whether quiet hours, chosen days and snoozes still hold — `True` keeps snoozes only);
        `dry_run`: send, claim and store nothing, report what would be sent."""
        forced = force if isinstance(force, Forced) else Forced() if force else None
        report = SweepReport(started_at=self.clock(), dry_run=dry_run)
        links_by_team: dict[str, list[LearnerLink]] = defaultdict(list)
        for link in await self.audience.links(team_id):
            links_by_team[link.team_id].append(link)
        # Workspaces side by side: one whose LMS is slow or hostile (each call bounded by the call deadline)
        # holds up its own learners only, never another workspace's.
        gate = asyncio.Semaphore(self.config.workspace_concurrency)

        async def one(team: str, links: list[LearnerLink]) -> None:
            async with gate:
                if self._stop.requested:
                    return
                logcontext.bind(workspace=team)  # this task's log lines (and its learners') name the workspace
                try:
                    await self._sweep_team(team, links, report, forced=forced, dry_run=dry_run, only_user=only_user)
                except Exception as exc:
                    log.exception("reminder sweep of %s failed", team)
                    report.errors.append(f"{team}: {exc}")

        await asyncio.gather(*(one(team, links) for team, links in sorted(links_by_team.items())))
        self.facts.tick()
        report.finished_at = self.clock()
        if not dry_run:
            metrics.SWEEP_SECONDS.observe((report.finished_at - report.started_at).total_seconds())
        return report

    async def _sweep_team(
        self,
        team_id: str,
        links: list[LearnerLink],
        report: SweepReport,
        *,
        forced: Forced | None,
        dry_run: bool,
        only_user: str | None,
    ) -> None:
        if not await self.workspaces.can_remind(team_id):  # uninstalled, or its bot token revoked: no LMS or Slack
            log.info("reminder sweep: skipped %s (the app is not installed there any more)", team_id)
            return
        force = forced is not None
        now = self.clock()
        team = await self.roster.open(team_id, links, report, forced=forced, only_user=only_user)
        wanted = [u for u in sorted(team.linked) if only_user is None or u == only_user]
        report.learners += len(wanted)
        since = now - timedelta(days=self.config.recent_days + 1)
        # Whether each learner's digest of today (or of their next send day) is taken: the claims of the periods
        # a sweep can look at, without their payloads.
        last = (now + timedelta(hours=self.config.plan_hours, days=2)).date()
        periods = [d.isoformat() for d in days((now - timedelta(days=2)).date(), last)]
        statuses = ("sent", "claimed", "failed")
        claims = await self.state.claim_states(team_id, DIGEST_KEY, periods, since, statuses=statuses)
        # The digests already out when this sweep began are the ones it updates in place (not those it sends).
        up_to = await self.state.last_id(team_id)
        taken = {(c.slack_user_id, c.period): c for c in claims}
        del claims
        await self.roster.enrol(team, wanted, taken, report, force=force, dry_run=dry_run, now=now)
        try:
            await self.digests.run(team, taken, report, force=force, dry_run=dry_run, now=now)
            if self._stop.requested:
                return
            del taken

            seen_rows: set[int] = set()

            async def batches() -> AsyncIterator[list[SentHead]]:  # each learner's rows in one batch, no payloads
                for users in chunks(sorted(team.learners), self.config.sweep_batch):
                    heads = await self.state.recent_heads(
                        team_id, DIGEST_KEY, since, slack_user_ids=users, up_to_id=up_to
                    )
                    seen_rows.update(h.id for h in heads)
                    yield heads

            team.sent = self.sent_memo.team(team_id)
            await self.updates.run(team, batches, report, dry_run=dry_run, now=self.clock())
            if only_user is None and not self._stop.requested:  # rows out of the window (or deleted) are let go
                self.sent_memo.keep_only(team_id, seen_rows)
            await self.sessions.run(team, report, dry_run=dry_run, now=self.clock())
            await self.managers.run(team, report, force=force, dry_run=dry_run, only_user=only_user, now=self.clock())
        finally:
            team.close()
        if not dry_run:
            await self.status.record_sweep(team_id, report.summary())  # `/lms status` and App Home show it

    async def tick_off(self, team_id: str, user_id: str, *, ispring: list[ModuleResult] | None = None) -> SweepReport:
        """Fresher data for one learner arrived (a command, Home, an iSpring webhook): tick the items now done
        off their digests of the last `recent_days` at once, from the cache (no LMS call here; `ispring`:
        results just read for this learner). Phase 2 alone, for one learner."""
        now = self.clock()
        report = SweepReport(started_at=now)
        since = now - timedelta(days=self.config.recent_days + 1)
        recent = await self.state.recent(team_id, [DIGEST_KEY], since, slack_user_id=user_id)
        if not recent or not await self.workspaces.can_remind(team_id):  # no token there: nothing to edit
            report.finished_at = self.clock()
            return report
        team = await self.roster.one(team_id, user_id, report)
        if ispring is not None:
            team.preset_ispring(ispring)

        async def batches() -> AsyncIterator[list[SentReminder]]:
            yield recent  # with their payloads: decoded here (a tick-off keeps no memo)

        try:
            await self.updates.run(team, batches, report, dry_run=False, now=now, refresh=False)
        finally:
            team.close()
        report.finished_at = self.clock()
        return report
