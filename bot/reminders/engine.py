"""The reminder sweep: who is due, what they must still do, and one message each, exactly once.

A sweep, per workspace, works through its learners a batch at a time (`sweep_batch`): their cached LMS
answers and sent digests are read per batch and let go after it, so memory stays flat in the number of learners.
This module is its orchestrator — which workspaces and learners, each phase in turn, the report — and the phases
are modules of their own:
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
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import logcontext, metrics
from bot.lms.factory import LmsClients
from bot.lms.ispring_models import ModuleResult
from bot.reminders import schedule
from bot.reminders.collect import Collector, Learner
from bot.reminders.delivery import Delivery
from bot.reminders.digests import DigestPhase
from bot.reminders.facts import FactsMemo
from bot.reminders.inplace import SentMemo
from bot.reminders.lms_reader import LmsReader, SnapshotStore
from bot.reminders.managers import ManagerPhase
from bot.reminders.planner import Planner
from bot.reminders.report import SweepReport
from bot.reminders.rereads import Rereads
from bot.reminders.sessions import SessionPhase
from bot.reminders.settings import ReminderConfig
from bot.reminders.team import Forced, Stop, Team, chunks, days, utc_now
from bot.reminders.types import DIGEST_KEY, Renderer
from bot.reminders.updates import UpdatePhase
from bot.services.bulk_reads import BulkReads
from bot.services.cache import LmsCache
from bot.services.cached_answers import CachedAnswers
from bot.services.people import PeopleService
from bot.services.registry import LmsRegistry
from bot.services.reminder_audience import LearnerLink, ReminderAudience
from bot.services.sent_log import ClaimState, SentHead, SentLog, SentReminder
from bot.services.status import StatusService
from bot.services.tracking import TrackingService
from bot.services.types import Provider, TrackedModuleRef
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
        self.delivery = delivery
        self.state = sent_log
        self.audience = audience
        self.answers = answers
        self.workspaces = workspaces
        self.registry = registry
        self.cache = cache
        self.tracking = tracking
        self.bulk_reads = bulk_reads
        self.status = status
        self.lms_zone = lms_zone
        self.planner = Planner(config)
        self._stop = Stop()
        # Kept across sweeps (the process's lifetime), small per answer and per sent digest: what was derived
        # from each cached answer and sent digest, by row version, so unchanged ones are not decoded again.
        self.facts = FactsMemo()
        self.sent_memo = SentMemo()
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
        snapshot = SnapshotStore(
            self.cache.store, self.answers.answers, self.clock, versions=self.answers.versions, memo=self.facts
        )
        lms, reader, tracked, collector = await self._open(team_id, report, LmsCache(snapshot, clock=self.cache.clock))
        mutes = await self.audience.mutes(team_id)
        by_user: dict[str, dict[str, str]] = defaultdict(dict)
        for link in links:
            if link.provider == "zoho" and not lms.has_zoho:
                continue
            if link.provider == "ispring" and not lms.has_ispring:
                continue
            by_user[link.slack_user_id][link.provider] = link.learner_id
        team = Team(
            team_id=team_id,
            reader=reader,
            collector=collector,
            tracked=tracked,
            learners={},
            prefs=await self.audience.preferences(team_id),
            zoho_users={ids["zoho"]: user for user, ids in by_user.items() if "zoho" in ids},
            ispring_users={ids["ispring"]: user for user, ids in by_user.items() if "ispring" in ids},
            has_ispring=lms.has_ispring,
            only_user=only_user,
            forced=forced,
            snapshot=snapshot,
        )
        if tracked:  # ZOHO_BULK_READS: a verified bulk answer may spare module-progress calls
            zoho_learners = {ids["zoho"]: frozenset(mutes.get(u, ())) for u, ids in by_user.items() if "zoho" in ids}
            reader.use_bulk(self.bulk_reads, zoho_learners, tracked)
        wanted = [u for u in sorted(by_user) if only_user is None or u == only_user]
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
        await self._resolve_people(team, wanted, taken, report, force=force, dry_run=dry_run, now=now)
        for user_id in wanted:
            ids = by_user[user_id]
            team.learners[user_id] = Learner(
                team_id,
                user_id,
                ids.get("zoho"),
                ids.get("ispring"),
                schedule.zone(team.pref(user_id).timezone),
                frozenset(mutes.get(user_id, ())),
            )
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

    async def _open(
        self, team_id: str, report: SweepReport, cache: LmsCache
    ) -> tuple[LmsClients, LmsReader, list[TrackedModuleRef], Collector]:
        """The workspace's LMS as this sweep reads it (through `cache`), and its tracked Zoho modules."""
        lms = await self.registry.for_team(team_id)
        reader = LmsReader(team_id, lms, cache, self.config, report, self.clock)
        tracked = await self.tracking.list(team_id, Provider.ZOHO) if lms.has_zoho else []
        zoho_url = lms.zoho.transport.base_url if lms.has_zoho else None  # this workspace's own data center
        return lms, reader, tracked, Collector(reader, tracked, self.config, report, self.lms_zone, zoho_url)

    async def _resolve_people(
        self,
        team: Team,
        users: list[str],
        sent: dict[tuple[str, str], ClaimState],
        report: SweepReport,
        *,
        force: bool,
        dry_run: bool,
        now: datetime,
    ) -> None:
        """Slack profiles for the people we need them for: anyone whose time zone we do not know yet, and
        anyone who may get a digest now (for their name, and to notice a changed time zone)."""
        wanted: set[str] = set()
        for user_id in users:
            prefs = team.pref(user_id)
            if not prefs.enabled:
                continue
            tz = schedule.zone(prefs.timezone)
            if prefs.timezone is None or (
                (user_id, schedule.local_period(now, tz)) not in sent and (force or schedule.digest_due(prefs, tz, now))
            ):
                wanted.add(user_id)
        profiles = await self.delivery.profiles(team.team_id, wanted, report)
        for user_id, profile in profiles.items():
            team.names[user_id] = profile.real_name.split(" ")[0] if profile.real_name else profile.name
            zone_name = profile.tz if profile.tz and schedule.zone(profile.tz).key == profile.tz else None
            prefs = team.pref(user_id)
            if zone_name and zone_name != prefs.timezone:
                team.prefs[user_id] = replace(prefs, timezone=zone_name)
                if not dry_run:  # the profile's zone, remembered so most sweeps need no Slack call
                    await self.audience.remember_timezone(team.team_id, user_id, zone_name)

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
        lms, reader, tracked, collector = await self._open(team_id, report, self.cache)
        ids: dict[str, str] = {}
        for provider in ("zoho", "ispring"):
            link = await self.audience.link(team_id, user_id, provider)
            if link is not None:
                ids[provider] = link.learner_id
        mutes = await self.audience.mutes(team_id)
        team = Team(
            team_id=team_id,
            reader=reader,
            collector=collector,
            tracked=tracked,
            learners={},
            prefs={user_id: await self.audience.preference(team_id, user_id)},
            zoho_users={},
            ispring_users={},
            has_ispring=lms.has_ispring and "ispring" in ids,
            only_user=user_id,
        )
        team.learners[user_id] = Learner(
            team_id,
            user_id,
            ids.get("zoho") if lms.has_zoho else None,
            ids.get("ispring") if lms.has_ispring else None,
            schedule.zone(team.pref(user_id).timezone),
            frozenset(mutes.get(user_id, ())),
        )
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
