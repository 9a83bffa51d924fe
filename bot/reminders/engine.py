"""The reminder sweep: who is due, what they must still do, and one message each, exactly once.

A sweep, per workspace, works through its learners a batch at a time (`sweep_batch`): their cached LMS
answers and sent digests are read per batch and let go after it, so memory stays flat in the number of learners.
1. digests — learners whose local send time has come (all of them with `force`), soonest first, built from the
   cache without waiting for the LMS; then the planner (bot/reminders/planner.py) refreshes, paced over the
   day, the data of those due within `plan_hours`;
2. in-place updates — recent digests re-checked (cache first, a few LMS calls at most) and edited with
   chat.update when items got done; "now unlocked" notes when a module they were told is locked opens;
3. session reminders — the day before and shortly before, for learners and for the trainers;
4. the weekly overdue digest for managers and admins.
One learner's trouble (LMS down, Slack refusing) never stops the others: it is reported and retried later.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot import logcontext, metrics
from bot.container import Services
from bot.lms.ispring_models import ModuleResult
from bot.lms.ratelimit import Priority
from bot.lms.zoho_models import LockType
from bot.reminders import schedule
from bot.reminders.collect import Collector, Learner, ispring_key, session_info
from bot.reminders.delivery import Delivery
from bot.reminders.facts import UNKNOWN_VERSION, FactsMemo, ProgressFacts
from bot.reminders.inplace import CheckKey, Seen, SentMemo, SentSummary, Shared, summarize
from bot.reminders.lms_reader import LmsReader, SnapshotStore, Unavailable
from bot.reminders.planner import Pair, Planner
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.reminders.types import (
    DIGEST_KEY,
    MANAGER_DIGEST_KEY,
    MISSED_PERIOD,
    Digest,
    DigestEntry,
    EntryKind,
    LearnerBacklog,
    ManagerDigest,
    MissedSession,
    ModuleBacklog,
    Outgoing,
    OverdueResult,
    Renderer,
    SessionInfo,
    SessionLead,
    SessionReminder,
    UnlockedNotice,
)
from bot.services import agenda
from bot.services.bulk_reads import Skip
from bot.services.cache import LmsCache
from bot.services.learning import absent_key, progress_key
from bot.services.people import NoTeam
from bot.services.slack_gateway import SlackUser
from bot.services.types import Provider, TrackedModuleRef
from storage.repositories.links import LearnerLink
from storage.repositories.preferences import ReminderPreferences
from storage.repositories.reminder_state import ClaimState, ReminderStateRepository, SentHead
from storage.repositories.reminders import SentReminder

T = TypeVar("T")
# Sent digests, a batch of learners' at a time: rows without payloads (a sweep) or with them (a tick-off).
Batches = Callable[[], AsyncIterator[Sequence[SentHead | SentReminder]]]

log = logging.getLogger(__name__)
MANAGERS_TTL = timedelta(minutes=30)
FORCED_REFRESH_AFTER = 60.0  # seconds: what a forced sweep re-reads of the data sent digests show


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Team:
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


class ReminderEngine:
    def __init__(
        self,
        services: Services,
        renderer: Renderer,
        config: ReminderConfig | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.services = services
        self.renderer = renderer
        self.config = config or services.settings.reminders
        self.clock = clock
        self.state = ReminderStateRepository(services.db)
        self.delivery = Delivery(
            services.slack,
            services.reminders,
            self.state,
            stale_after=timedelta(seconds=self.config.claim_stale_seconds),
        )
        self.lms_zone = ZoneInfo(services.settings.lms_timezone)
        self.planner = Planner(self.config)
        self._stopping = False
        self._managers: dict[str, tuple[datetime, list[SlackUser]]] = {}
        # Kept across sweeps (the process's lifetime), small per answer and per sent digest: what was derived
        # from each cached answer and sent digest, by row version, so unchanged ones are not decoded again.
        self.facts = FactsMemo()
        self.sent_memo = SentMemo()

    def stop(self) -> None:
        """Finish the learner in hand and start no other (SIGTERM): nothing half-sent is left behind."""
        self._stopping = True

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
        for link in await self.services.links_repo.list(team_id):
            links_by_team[link.team_id].append(link)
        # Workspaces side by side: one whose LMS is slow or hostile (each call bounded by the call deadline)
        # holds up its own learners only, never another workspace's.
        gate = asyncio.Semaphore(self.config.workspace_concurrency)

        async def one(team: str, links: list[LearnerLink]) -> None:
            async with gate:
                if self._stopping:
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

    # --- one workspace ----------------------------------------------------------------------------------------

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
        s = self.services
        if not await s.workspaces.can_remind(team_id):  # uninstalled, or its bot token revoked: no LMS or Slack call
            log.info("reminder sweep: skipped %s (the app is not installed there any more)", team_id)
            return
        force = forced is not None
        now = self.clock()
        lms = await s.registry.for_team(team_id)
        snapshot = SnapshotStore(
            s.cache.store,
            self.state.cached_answers,
            self.clock,
            versions=self.state.cached_versions,
            memo=self.facts,
        )
        reader = LmsReader(team_id, lms, LmsCache(snapshot, clock=s.cache.clock), self.config, report, self.clock)
        tracked = await s.tracking.list(team_id, Provider.ZOHO) if lms.has_zoho else []
        zoho_url = lms.zoho.transport.base_url if lms.has_zoho else None  # this workspace's own data center
        collector = Collector(reader, tracked, self.config, report, self.lms_zone, zoho_url)
        mutes = await self.state.mutes_for_team(team_id)
        by_user: dict[str, dict[str, str]] = defaultdict(dict)
        for link in links:
            if link.provider == "zoho" and not lms.has_zoho:
                continue
            if link.provider == "ispring" and not lms.has_ispring:
                continue
            by_user[link.slack_user_id][link.provider] = link.learner_id
        team = _Team(
            team_id=team_id,
            reader=reader,
            collector=collector,
            tracked=tracked,
            learners={},
            prefs=await s.preferences.for_team(team_id),
            zoho_users={ids["zoho"]: user for user, ids in by_user.items() if "zoho" in ids},
            ispring_users={ids["ispring"]: user for user, ids in by_user.items() if "ispring" in ids},
            has_ispring=lms.has_ispring,
            only_user=only_user,
            forced=forced,
            snapshot=snapshot,
        )
        if tracked:  # ZOHO_BULK_READS: a verified bulk answer may spare module-progress calls
            zoho_learners = {ids["zoho"]: frozenset(mutes.get(u, ())) for u, ids in by_user.items() if "zoho" in ids}
            reader.use_bulk(s.bulk_reads, zoho_learners, tracked)
        wanted = [u for u in sorted(by_user) if only_user is None or u == only_user]
        report.learners += len(wanted)
        since = now - timedelta(days=self.config.recent_days + 1)
        # Whether each learner's digest of today (or of their next send day) is taken: the claims of the periods
        # a sweep can look at, without their payloads.
        last = (now + timedelta(hours=self.config.plan_hours, days=2)).date()
        periods = [d.isoformat() for d in _days((now - timedelta(days=2)).date(), last)]
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
            await self._digests(team, taken, report, force=force, dry_run=dry_run, now=now)
            if self._stopping:
                return
            del taken

            seen_rows: set[int] = set()

            async def batches() -> AsyncIterator[list[SentHead]]:  # each learner's rows in one batch, no payloads
                for users in _chunks(sorted(team.learners), self.config.sweep_batch):
                    heads = await self.state.recent_heads(
                        team_id, DIGEST_KEY, since, slack_user_ids=users, up_to_id=up_to
                    )
                    seen_rows.update(h.id for h in heads)
                    yield heads

            team.sent = self.sent_memo.team(team_id)
            await self._update_sent(team, batches, report, dry_run=dry_run, now=self.clock())
            if only_user is None and not self._stopping:  # rows out of the window (or deleted) are let go
                self.sent_memo.keep_only(team_id, seen_rows)
            await self._session_reminders(team, report, dry_run=dry_run, now=self.clock())
            await self._manager_digests(
                team, report, force=force, dry_run=dry_run, only_user=only_user, now=self.clock()
            )
        finally:
            team.close()
        if not dry_run:
            await s.status.record_sweep(team_id, report.summary())  # `/lms status` and App Home show it

    async def _resolve_people(
        self,
        team: _Team,
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
                    await self.services.preferences.update(team.team_id, user_id, timezone=zone_name)

    # --- 1. daily digests -------------------------------------------------------------------------------------

    async def _digests(
        self,
        team: _Team,
        taken: dict[tuple[str, str], ClaimState],
        report: SweepReport,
        *,
        force: bool,
        dry_run: bool,
        now: datetime,
    ) -> None:
        stale = timedelta(seconds=self.config.claim_stale_seconds)
        due: list[tuple[datetime, Learner, str]] = []
        soon: list[tuple[datetime, Learner]] = []
        for learner in team.learners.values():
            prefs = team.pref(learner.user_id)
            if not prefs.enabled:
                continue
            period = schedule.local_period(now, learner.tz)
            row = taken.get((learner.user_id, period))
            if row is not None and (row.status == "sent" or (row.status == "claimed" and now - row.claimed_at < stale)):
                if force or schedule.digest_due(prefs, learner.tz, now):
                    report.already += 1
                continue
            if not force and not dry_run:  # past the send time but held: counted at each sweep that holds it
                metrics.digest_skipped(schedule.held_reason(prefs, learner.tz, now))
            if force and team.forced is not None and team.forced.allows(prefs, learner.tz, now):
                due.append((now, learner, period))
            elif schedule.digest_due(prefs, learner.tz, now):
                moment = schedule.send_moment(prefs, learner.tz, schedule.local(now, learner.tz).date()) or now
                due.append((moment, learner, period))
            elif self.config.prefetch_minutes > 0 and not force:
                upcoming = schedule.next_digest_at(prefs, learner.tz, now)
                if upcoming is not None and upcoming - now <= timedelta(hours=self.config.plan_hours):
                    next_period = upcoming.astimezone(learner.tz).date().isoformat()
                    if (learner.user_id, next_period) not in taken:
                        soon.append((upcoming, learner))
        # Soonest delivery first: whoever has waited longest, then those about to be due.
        due.sort(key=lambda d: (d[0], d[1].user_id))
        soon.sort(key=lambda d: (d[0], d[1].user_id))
        report.due += len(due)
        if any(learner.ispring_id for _, learner, _ in due):
            team.start_ispring()  # in the background: only learners with an iSpring link wait for it
        for batch in _chunks(due, self.config.sweep_batch):
            if self._stopping:
                return
            await team.focus((learner for _, learner, _ in batch), answers=True)
            jobs: list[Callable[[], Awaitable[None]]] = [
                _bind(self._digest_for, team, learner, period, report, dry_run) for _, learner, period in batch
            ]
            # Whoever needs iSpring waits for its answer before taking a slot, so a slow iSpring holds no slot
            # that a Zoho-only learner could use.
            ready = [team.ispring if learner.ispring_id else None for _, learner, _ in batch]
            await self._run(jobs, report, ready)
        if soon and team.tracked and not self._stopping:
            await self._plan(team, soon, report, self.clock())

    async def _plan(
        self, team: _Team, soon: list[tuple[datetime, Learner]], report: SweepReport, now: datetime
    ) -> None:
        """Refresh, paced over the day, the answers of learners due within `plan_hours` (bot/reminders/planner.py)."""
        pairs: list[Pair] = []
        for batch in _chunks(soon, self.config.sweep_batch):
            await team.focus(learner for _, learner in batch)
            pairs += await self.planner.plan(team.reader, team.tracked, batch, now)
        pairs.sort(key=Pair.order)
        report.planned += len(pairs)
        allowed = await self.planner.allowance(team.reader, pairs, now)
        if allowed:  # something must be read now: first settle all it can from one bulk answer (no calls each)

            async def focus(chunk: Sequence[Pair]) -> None:
                await team.focus(pair.learner for pair in chunk)

            pairs = await self.planner.settle(team.reader, pairs, report, focus=focus, batch=self.config.sweep_batch)
            allowed = min(allowed, await self.planner.allowance(team.reader, pairs, now))
        chosen = pairs[:allowed]
        del pairs
        if chosen:
            await team.focus(pair.learner for pair in chosen)
            await self.planner.refresh(team.reader, chosen, report)
            report.prefetched += len({p.learner.user_id for p in chosen})

    async def _digest_for(
        self,
        team: _Team,
        learner: Learner,
        period: str,
        report: SweepReport,
        dry_run: bool,
    ) -> None:
        logcontext.bind(slack_user=learner.user_id)  # a task of its own (`_run`): the context ends with it
        ispring = await team.ispring() if learner.ispring_id else None
        now = self.clock()
        if team.forced is None:
            # At its send time a digest does not wait for the LMS: the planner refreshed its data within the
            # planning window (or could not, and then the cached copy is used and the digest says "as of").
            window = self.config.plan_hours * 3600.0
            wait = self.config.digest_wait_seconds
            collected = await team.collector.collect(learner, now, ispring=ispring, max_age=window, max_wait=wait)
        else:
            collected = await team.collector.collect(learner, now, ispring=ispring)
        if not collected.complete:
            report.deferred.append(f"{learner.user_id}: {'; '.join(collected.unavailable)}")
            return
        missed = await self._untold(team.team_id, learner.user_id, collected.missed, now)
        digest = Digest(
            period=period,
            entries=tuple(collected.entries),
            learner_name=team.names.get(learner.user_id),
            sessions=tuple(sorted(collected.sessions, key=lambda s: s.starts_at)),
            missed=missed,
            lms_zone=self.lms_zone.key,
            made_at=now,
            lms_home=None if self.config.zoho_item_url else team.collector.zoho_url,
            as_of=self._as_of(collected.oldest, now),
            unchecked=tuple(collected.unchecked),
        )
        if digest.as_of is not None or digest.unchecked:
            report.as_of += 1
        if collected.oldest is not None:
            report.data_age_hours[int((now - collected.oldest).total_seconds() // 3600)] += 1
        if not digest.pending and not digest.missed and not digest.unchecked:
            report.nothing += 1
            if not dry_run:
                metrics.digest_skipped("nothing_due")
                await self.delivery.record_nothing(team.team_id, learner.user_id, DIGEST_KEY, period)
            return
        # One message, not three: the session reminders due now are told in the digest.
        folded = await self._due_session_reminders(team, learner, digest.sessions, now)
        digest = replace(digest, reminders=tuple((info.session_id, lead) for info, lead in folded))
        out = Outgoing(
            team.team_id,
            learner.user_id,
            DIGEST_KEY,
            period,
            _digest_summary(learner.user_id, digest),
            self.renderer.digest(digest),
            digest.to_payload(),
        )
        if await self.delivery.send(out, report, dry_run=dry_run):
            if team.forced is None and not dry_run:
                self._observe_lateness(team, learner, period)
            for info, lead in folded:
                key, session_period = session_key("session", info, lead), session_period_of(info)
                team.folded.add((learner.user_id, key, session_period))
                if not dry_run:  # delivered, under the key its own DM would have had: never sent apart later
                    await self.delivery.record_delivered(
                        team.team_id, learner.user_id, key, session_period, DIGEST_KEY, period
                    )
            if not dry_run:
                for told in digest.missed:  # told once: the next digests leave it out
                    await self.delivery.record_nothing(team.team_id, learner.user_id, told.key, MISSED_PERIOD)

    def _observe_lateness(self, team: _Team, learner: Learner, period: str) -> None:
        moment = schedule.send_moment(team.pref(learner.user_id), learner.tz, date.fromisoformat(period))
        if moment is not None:
            metrics.DIGEST_LATENESS.observe(max(0.0, (self.clock() - moment).total_seconds()))

    async def _due_session_reminders(
        self, team: _Team, learner: Learner, sessions: Sequence[SessionInfo], now: datetime
    ) -> list[tuple[SessionInfo, SessionLead]]:
        """The learner's session reminders the session phase would send in this sweep and has not sent yet."""
        if not learner.zoho_id:
            return []
        candidates: list[tuple[SessionInfo, SessionLead]] = []
        for info in sessions:
            lead = self._lead(info, now)
            if lead is None or info.tracked.id in learner.muted or not info.tracked.batch_id:
                continue
            listed = {s.session_id: s for s in await team.reader.sessions(info.tracked) or []}
            session = listed.get(info.session_id)
            if session is None or session.is_completed:
                continue
            if await self._attends(team, info.tracked, learner.zoho_id, info.session_id):
                candidates.append((info, lead))
        if not candidates:
            return []
        keys = [session_key("session", info, lead) for info, lead in candidates]
        since = now - timedelta(hours=self.config.session_day_before_hours, days=1)
        told = {
            (r.item_key, r.period)
            for r in await self.state.recent(
                team.team_id, keys, since, statuses=("sent", "claimed"), slack_user_id=learner.user_id
            )
        }
        return [
            (info, lead)
            for info, lead in candidates
            if (session_key("session", info, lead), session_period_of(info)) not in told
        ]

    def _lead(self, info: SessionInfo, now: datetime) -> SessionLead | None:
        """Which reminder of this session is due now: "soon" within the shortly-before window, "day-before"
        within the day-before one, None when neither (or it has started)."""
        day_before = timedelta(hours=self.config.session_day_before_hours)
        soon = timedelta(minutes=self.config.session_soon_minutes)
        if not now < info.starts_at <= now + max(day_before, soon):
            return None
        return "soon" if info.starts_at - now <= soon else "day-before"

    async def _untold(
        self, team_id: str, user_id: str, missed: list[MissedSession], now: datetime
    ) -> tuple[MissedSession, ...]:
        """The missed sessions this learner has not been told about yet (the sent log remembers each one)."""
        if not missed:
            return ()
        since = now - timedelta(days=agenda.MISSED_SESSION_DAYS + 1)
        told = {
            r.item_key for r in await self.state.recent(team_id, [m.key for m in missed], since, slack_user_id=user_id)
        }
        return tuple(sorted((m for m in missed if m.key not in told), key=lambda m: m.session.starts_at))

    def _as_of(self, oldest: datetime | None, now: datetime) -> datetime | None:
        """When the data a digest rests on is older than the planning window: its time (the digest says so)."""
        if oldest is None or (now - oldest).total_seconds() <= self.config.plan_hours * 3600.0:
            return None
        return oldest

    async def _run(
        self,
        jobs: list[Callable[[], Awaitable[None]]],
        report: SweepReport,
        ready: Sequence[Callable[[], Awaitable[object]] | None] = (),
    ) -> None:
        """At most `concurrency` learners at once, started in the order given (each once its `ready` is done)."""
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(job: Callable[[], Awaitable[None]], before: Callable[[], Awaitable[object]] | None) -> None:
            if before is not None:
                await before()
            async with gate:
                if self._stopping:
                    return
                try:
                    await job()
                except Exception as exc:
                    log.exception("reminder job failed")
                    report.errors.append(str(exc) or type(exc).__name__)

        waits = list(ready) + [None] * (len(jobs) - len(ready))
        await asyncio.gather(*(one(job, before) for job, before in zip(jobs, waits, strict=True)))

    # --- 2. recent digests: tick items off in place, tell about unlocked modules ---------------------------------

    async def tick_off(self, team_id: str, user_id: str, *, ispring: list[ModuleResult] | None = None) -> SweepReport:
        """Fresher data for one learner arrived (a command, Home, an iSpring webhook): tick the items now done
        off their digests of the last `recent_days` at once, from the cache (no LMS call here; `ispring`:
        results just read for this learner)."""
        s = self.services
        now = self.clock()
        report = SweepReport(started_at=now)
        since = now - timedelta(days=self.config.recent_days + 1)
        recent = await self.state.recent(team_id, [DIGEST_KEY], since, slack_user_id=user_id)
        if not recent or not await s.workspaces.can_remind(team_id):  # no token there: nothing to edit
            report.finished_at = self.clock()
            return report
        lms = await s.registry.for_team(team_id)
        reader = LmsReader(team_id, lms, s.cache, self.config, report, self.clock)
        tracked = await s.tracking.list(team_id, Provider.ZOHO) if lms.has_zoho else []
        zoho_url = lms.zoho.transport.base_url if lms.has_zoho else None
        ids: dict[str, str] = {}
        for provider in ("zoho", "ispring"):
            link = await s.links_repo.get(team_id, user_id, provider)
            if link is not None:
                ids[provider] = link.learner_id
        mutes = await self.state.mutes_for_team(team_id)
        team = _Team(
            team_id=team_id,
            reader=reader,
            collector=Collector(reader, tracked, self.config, report, self.lms_zone, zoho_url),
            tracked=tracked,
            learners={},
            prefs={user_id: await s.preferences.get(team_id, user_id)},
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
            await self._update_sent(team, batches, report, dry_run=False, now=now, refresh=False)
        finally:
            team.close()
        report.finished_at = self.clock()
        return report

    async def _update_sent(
        self,
        team: _Team,
        batches: Batches,
        report: SweepReport,
        *,
        dry_run: bool,
        now: datetime,
        refresh: bool = True,
    ) -> None:
        """Tick done items off the sent digests in place and tell about unlocked modules, a batch of learners at a
        time (`batches` gives each learner's rows in one batch). A digest whose row and answers are as an earlier
        sweep found them, with nothing to tick off then, is not decoded again (bot/reminders/inplace.py)."""
        if refresh and not dry_run:
            await self._refresh(team, batches, now)
        async for rows in batches():
            sent = await self._sent_digests(team, rows)
            if not sent.rows:
                continue
            await team.focus(team.learners[row.slack_user_id] for row, _ in sent.rows)
            ispring = await team.ispring() if any(seen.summary.ispring for _, seen in sent.rows) else None
            results: dict[str, dict[str, ModuleResult]] = defaultdict(dict)
            for result in ispring or []:
                results[result.user_id][ispring_key(result)] = result
            # Which digests must be looked at again: those never checked, or whose answers (or day) moved since,
            # or with an iSpring item now done; and each learner's latest, when it tells of unlocked modules.
            checks: dict[int, CheckKey] = {}
            stale: list[int] = []
            latest: dict[str, tuple[SentHead | SentReminder, Seen]] = {}
            for row, seen in sent.rows:
                learner = team.learners[row.slack_user_id]
                checks[row.id] = key = self._check_key(team, learner, seen.summary, now)
                mine = results.get(learner.ispring_id or "", {})
                ispring_done = any(k in mine and mine[k].is_done for k in seen.summary.ispring)
                if key is None or seen.checked != key or ispring_done:
                    stale.append(row.id)
                if (
                    row.slack_user_id not in latest
                    or latest[row.slack_user_id][1].summary.period <= seen.summary.period
                ):
                    latest[row.slack_user_id] = (row, seen)
            told = [row.id for row, seen in latest.values() if seen.summary.unlocked]
            await sent.decode([*stale, *told])
            updated: dict[int, Digest] = {}
            for row_id in stale:
                found = sent.digests.get(row_id)
                if found is None:
                    continue  # gone since the sweep began
                record, digest = found
                if not sent.seen[row_id].summary.digest or sent.seen[row_id].summary.stopped:
                    continue  # changed since it was listed (e.g. stopped from its button): as the listing says now
                learner = team.learners[record.slack_user_id]
                done, unlocked = await self._progress_since(team, learner, digest, record, ispring, now)
                if not done and not unlocked:
                    sent.seen[row_id].checked = checks[row_id]
                    continue
                digest = digest.with_done(done, unlocked)
                updated[row_id] = digest
                line = f"{learner.user_id} digest of {digest.period}: {len(done)} done, {len(unlocked)} unlocked"
                message = self.renderer.digest(digest)
                if dry_run or await self.delivery.update(record, message, digest.to_payload(), report):
                    report.updated.append(line)
            for row, seen in latest.values():
                digest_now = updated.get(row.id)
                if digest_now is None and (row.id not in sent.digests or not seen.summary.unlocked):
                    continue  # it tells of no unlocked module: no notice to send
                if digest_now is None:
                    digest_now = sent.digests[row.id][1]
                await self._unlocked_notices(
                    team, team.learners[row.slack_user_id], digest_now, report, dry_run=dry_run, now=now
                )

    def _check_key(self, team: _Team, learner: Learner, summary: SentSummary, now: datetime) -> CheckKey:
        """What a digest's tick-offs depend on besides itself: the learner's day and the versions of its answers."""
        today = schedule.local(now, learner.tz).date()
        zoho = learner.zoho_id
        if not zoho or not summary.deps:
            return hash((today, zoho))
        if team.snapshot is None:
            return None  # nothing to compare with: looked at every time
        versions = [team.snapshot.version_of(progress_key(team.team_id, t, zoho)) for t in summary.deps]
        if UNKNOWN_VERSION in versions:
            return None
        return hash((today, zoho, *versions))

    async def _sent_digests(self, team: _Team, rows: Sequence[SentHead | SentReminder]) -> _SentBatch:
        """The digests among these rows that went out to learners of this sweep whose reminders are on. Rows seen
        before at the same version are not read again; the others are read (one query) and decoded once."""
        memo = team.sent if team.sent is not None else {}
        wanted: list[SentHead | SentReminder] = []
        for row in rows:
            learner = team.learners.get(row.slack_user_id)
            if learner is None or not team.pref(learner.user_id).enabled:  # rows listed are sent ones only
                continue
            wanted.append(row)
        records = {r.id: r for r in wanted if isinstance(r, SentReminder)}
        batch = _SentBatch(self.state, memo, self.sent_memo.shared, records)
        await batch.decode([r.id for r in wanted if r.id not in memo or memo[r.id].summary.version != r.version])
        for row in wanted:
            seen = batch.seen.get(row.id)
            if seen is None or not seen.summary.digest or seen.summary.stopped:
                continue
            batch.rows.append((row, seen))
        return batch

    async def _refresh(self, team: _Team, batches: Batches, now: datetime) -> None:
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
            for row, seen in (await self._sent_digests(team, rows)).rows:
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
                if await self._cannot_change(team, tracked, learner_id, cached, now, wanted):
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
                if self._stopping:
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
        self,
        team: _Team,
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

    async def _progress_since(
        self,
        team: _Team,
        learner: Learner,
        digest: Digest,
        row: SentReminder,
        ispring: list[ModuleResult] | None,
        now: datetime,
    ) -> tuple[frozenset[str], frozenset[int]]:
        """Entry keys now done and locked modules now open, judged from the cache (no LMS call here)."""
        done: set[str] = set()
        unlocked: set[int] = set()
        today = schedule.local(now, learner.tz).date()
        results = {ispring_key(r): r for r in ispring or [] if r.user_id == learner.ispring_id}
        progress_cache: dict[int, ProgressFacts | None] = {}
        for entry in digest.entries:
            if entry.key in digest.done:
                continue
            if entry.kind is EntryKind.ISPRING:
                result = results.get(entry.key)
                if result is not None and result.is_done:
                    done.add(entry.key)
                continue
            if entry.tracked is None or not learner.zoho_id or entry.tracked.id in digest.unlocked:
                continue
            if entry.tracked.id not in progress_cache:
                progress_cache[entry.tracked.id] = await team.reader.peek_facts(entry.tracked, learner.zoho_id)
            progress = progress_cache[entry.tracked.id]
            if entry.kind is EntryKind.TASK:
                entity_id = entry.key.rsplit(":", 1)[-1]
                if progress is not None and not progress.is_locked and entity_id not in progress.pending:
                    done.add(entry.key)
            elif entry.kind is EntryKind.LOCKED and _opened(entry, today, progress, row.sent_at):
                unlocked.add(entry.tracked.id)
        return frozenset(done), frozenset(unlocked)

    async def _unlocked_notices(
        self, team: _Team, learner: Learner, digest: Digest, report: SweepReport, *, dry_run: bool, now: datetime
    ) -> None:
        if not digest.unlocked or not schedule.may_message(team.pref(learner.user_id), learner.tz, now):
            return
        for entry in digest.locked:
            if entry.tracked is None or entry.tracked.id not in digest.unlocked or entry.tracked.id in learner.muted:
                continue
            pending = 0
            if learner.zoho_id:
                cached = await team.reader.peek_facts(entry.tracked, learner.zoho_id)
                if cached is not None and not cached.is_locked:
                    pending = cached.pending_count
            notice = UnlockedNotice(entry.tracked, entry.module_name, pending)
            out = Outgoing(
                team.team_id,
                learner.user_id,
                f"unlocked:{entry.tracked.id}",
                digest.period,
                f"now unlocked → {learner.user_id}: {entry.module_name or entry.tracked.label}",
                self.renderer.unlocked(notice),
                {"kind": "unlocked", "tracked_id": entry.tracked.id},
            )
            await self.delivery.send(out, report, dry_run=dry_run)

    # --- 3. sessions ------------------------------------------------------------------------------------------

    async def _session_reminders(self, team: _Team, report: SweepReport, *, dry_run: bool, now: datetime) -> None:
        day_before = timedelta(hours=self.config.session_day_before_hours)
        soon = timedelta(minutes=self.config.session_soon_minutes)
        if max(day_before, soon) <= timedelta(0):
            return
        members: list[SlackUser] | None = None
        for tracked in [t for t in team.tracked if t.batch_id]:
            sessions = await team.reader.sessions(tracked) or []
            if not sessions:
                continue
            module = await team.reader.module(tracked)
            for session in sessions:
                info = session_info(tracked, module.name if module else None, None, session, self.lms_zone)
                lead = self._lead(info, now) if info is not None and not session.is_completed else None
                if info is None or lead is None:
                    continue
                period = session_period_of(info)
                for batch in _chunks(list(team.learners.values()), self.config.sweep_batch):
                    await team.focus(batch)
                    for learner in batch:
                        if not learner.zoho_id or tracked.id in learner.muted:
                            continue
                        if await self._attends(team, tracked, learner.zoho_id, session.session_id):
                            notice = SessionReminder(info, lead, False, team.names.get(learner.user_id))
                            await self._session_one(
                                team, learner.user_id, learner.tz, notice, period, report, dry_run, now
                            )
                trainer = team.zoho_users.get(session.trainer_erecno or "")
                if trainer is None and session.trainer:
                    if members is None:
                        members = await self.delivery.members(team.team_id, report)
                    wanted = session.trainer.strip().lower()
                    trainer = next((m.id for m in members if m.real_name.strip().lower() == wanted), None)
                if trainer is not None and (team.only_user is None or trainer == team.only_user):
                    tz = schedule.zone(team.pref(trainer).timezone)
                    notice = SessionReminder(info, lead, True, team.names.get(trainer))
                    await self._session_one(team, trainer, tz, notice, period, report, dry_run, now)

    async def _attends(self, team: _Team, tracked: TrackedModuleRef, learner_id: str, session_id: str) -> bool:
        """Whether the session is in the learner's own progress, mandatory (or optional ones wanted), not attended."""
        cached = await team.reader.peek_facts(tracked, learner_id)
        if cached is None and not await team.reader.not_enrolled(tracked, learner_id):
            try:
                got = await team.reader.progress(tracked, learner_id, max_age=self.config.fresh_seconds)
            except Unavailable:
                return False
            cached = got.facts if got is not None else None
        if cached is None:
            return False
        session = cached.sessions.get(session_id)
        if session is None:
            return False
        complete, mandatory = session
        return not complete and (mandatory or self.config.session_optional)

    async def _session_one(
        self,
        team: _Team,
        user_id: str,
        tz: tzinfo,
        reminder: SessionReminder,
        period: str,
        report: SweepReport,
        dry_run: bool,
        now: datetime,
    ) -> None:
        if not schedule.may_message(team.pref(user_id), tz, now):
            return  # quiet hours or snoozed: a later sweep in the window sends it
        info = reminder.session
        role = "trainer" if reminder.as_trainer else "session"
        key = session_key(role, info, reminder.lead)
        if (user_id, key, period) in team.folded:
            return  # told in this sweep's digest (a dry run records nothing, so remember it here)
        out = Outgoing(
            team.team_id,
            user_id,
            key,
            period,
            f"{role} {reminder.lead} → {user_id}: {info.name} at {info.starts_at:%Y-%m-%d %H:%M %Z}",
            self.renderer.session(reminder),
            {"kind": role, "session_id": info.session_id, "lead": reminder.lead},
        )
        await self.delivery.send(out, report, dry_run=dry_run)

    # --- 4. weekly digest for managers and admins -------------------------------------------------------------

    async def _manager_digests(
        self, team: _Team, report: SweepReport, *, force: bool, dry_run: bool, only_user: str | None, now: datetime
    ) -> None:
        if not self.config.manager_digest or self._stopping:
            return
        day = self.config.manager_digest_weekday
        near = {schedule.weekday((now + timedelta(days=d)).date()) for d in (-1, 0, 1)}
        if not force and day not in near:
            return  # it is that weekday nowhere on Earth: no Slack call needed
        content: ManagerDigest | None = None
        for person in await self._manager_candidates(team.team_id, report):
            if only_user is not None and person.id != only_user:
                continue
            prefs = team.pref(person.id)
            if not prefs.enabled or not prefs.digest:
                continue
            tz = schedule.zone(prefs.timezone or person.tz)
            weekly = replace(prefs, weekdays=day)
            if not force and not schedule.digest_due(weekly, tz, now):
                continue
            if force and team.forced is not None and not team.forced.allows(weekly, tz, now):
                continue
            if content is None:
                content = await self._backlog(team, now)
            if content.empty:
                return
            mine = await self._team_overdue(team, person, content)
            if not content.modules and not mine:
                continue  # nothing overdue in this manager's team
            period = schedule.week_period(now, tz)
            digest = replace(
                content, week=period, recipient_name=person.real_name.split(" ")[0] or None, ispring_overdue=mine
            )
            out = Outgoing(
                team.team_id,
                person.id,
                MANAGER_DIGEST_KEY,
                period,
                f"manager digest → {person.id}: {len(digest.modules)} modules, {len(digest.ispring_overdue)} overdue",
                self.renderer.manager_digest(digest),
                {"kind": "manager-digest"},
            )
            await self.delivery.send(out, report, dry_run=dry_run)

    async def _team_overdue(self, team: _Team, person: SlackUser, content: ManagerDigest) -> tuple[OverdueResult, ...]:
        """The overdue iSpring modules of this manager's team (admins without a team: everyone's)."""
        if not content.ispring_overdue:
            return ()
        settings = self.services.settings
        admin = person.is_admin or person.is_owner or person.id in settings.user_list(settings.lmsbot_admins)
        try:
            scope = await self.services.people.scope(team.team_id, person.id, admin=admin, priority=Priority.BACKGROUND)
        except NoTeam:
            return ()
        except Exception as exc:  # noqa: BLE001 - the team could not be worked out: only admins see everyone's
            log.info("manager digest: no team for %s: %s", person.id, exc)
            return content.ispring_overdue if admin else ()
        if scope.department_ids is None:
            return content.ispring_overdue
        wanted = set(scope.department_ids)
        return tuple(o for o in content.ispring_overdue if o.department_id in wanted)

    async def _manager_candidates(self, team_id: str, report: SweepReport) -> list[SlackUser]:
        cached = self._managers.get(team_id)
        now = utc_now()
        if cached is not None and now - cached[0] < MANAGERS_TTL:
            return cached[1]
        settings = self.services.settings
        extra = settings.user_list(settings.lmsbot_admins) | settings.user_list(settings.lmsbot_managers)
        people = [p for p in await self.delivery.members(team_id, report) if p.is_admin or p.is_owner or p.id in extra]
        self._managers[team_id] = (now, people)
        return people

    async def _backlog(self, team: _Team, now: datetime) -> ManagerDigest:
        """Who is behind on what: pending tracked Zoho items (from the cache) and overdue iSpring modules."""
        modules: list[ModuleBacklog] = []
        for tracked in team.tracked:
            behind: list[LearnerBacklog] = []
            name: str | None = None
            for batch in _chunks(list(team.learners.values()), self.config.sweep_batch):
                await team.focus(batch)
                for learner in batch:
                    if not learner.zoho_id:
                        continue
                    cached = await team.reader.peek_facts(tracked, learner.zoho_id)
                    if cached is None or cached.is_locked or not cached.pending_count:
                        continue
                    name = name or cached.module_name or None
                    behind.append(LearnerBacklog(learner.user_id, cached.pending_count))
            if behind:
                behind.sort(key=lambda b: (-b.pending, b.slack_user_id))
                modules.append(ModuleBacklog(tracked, name, tuple(behind)))
        overdue: list[OverdueResult] = []
        if team.has_ispring:
            results = await team.ispring() or []
            directory = await self.services.people.directory(team.team_id, Priority.BACKGROUND) if results else None
            people = directory.people if directory else {}
            for result in results:
                if result.is_done or not (result.is_overdue or (result.due_date is not None and result.due_date < now)):
                    continue
                due = result.due_date.date() if result.due_date else None
                who = people.get(result.user_id)
                slack_user = team.ispring_users.get(result.user_id) or (who.slack_user_id if who else None)
                overdue.append(
                    OverdueResult(
                        slack_user,
                        result.user_id,
                        result.module_title,
                        due,
                        name=who.name if who else None,
                        department_id=who.department_id if who else None,
                    )
                )
        overdue.sort(key=lambda o: (o.due or now.date(), o.learner))
        return ManagerDigest(week="", modules=tuple(modules), ispring_overdue=tuple(overdue))


@dataclass
class _SentBatch:
    """A batch's sent digests: the rows to look at (with what earlier sweeps saw of them), and the digests
    decoded so far (`decode`: read and decode these rows, one query)."""

    state: ReminderStateRepository
    seen: dict[int, Seen]  # the workspace's memo (a tick-off's own, thrown away after it)
    shared: Shared  # equal parts of summaries shared
    records: dict[int, SentReminder]  # rows already read with their payloads
    rows: list[tuple[SentHead | SentReminder, Seen]] = field(default_factory=list)
    digests: dict[int, tuple[SentReminder, Digest]] = field(default_factory=dict)

    async def decode(self, ids: Sequence[int]) -> None:
        todo = [i for i in dict.fromkeys(ids) if i not in self.digests]
        missing = [i for i in todo if i not in self.records]
        if missing:
            self.records.update(await self.state.by_ids(missing))
        for row_id in todo:
            record = self.records.get(row_id)
            if record is None or record.status != "sent":
                continue  # gone, or no longer sent, since the batch's rows were listed
            digest = Digest.from_payload(record.payload)
            known = self.seen.get(row_id)
            if known is None or known.summary.version != record.version:
                self.seen[row_id] = Seen(summarize(record.version, record.claimed_at, digest, self.shared))
            if digest is not None:
                self.digests[row_id] = (record, digest)


def _opened(entry: DigestEntry, today: date, progress: ProgressFacts | None, sent_at: datetime | None) -> bool:
    """A lock the digest told about has ended: its date has come, or the LMS says so since the digest went out."""
    if entry.lock_type == LockType.UNTIL_DATE and entry.lock_until is not None and entry.lock_until <= today:
        return True
    return progress is not None and not progress.is_locked and (sent_at is None or progress.fetched_at >= sent_at)


def session_key(role: str, info: SessionInfo, lead: SessionLead) -> str:
    """The sent log's item key of a session reminder ("session" for a learner, "trainer" for its trainer)."""
    return f"{role}:{info.session_id}:{lead}"


def session_period_of(info: SessionInfo) -> str:
    """A session reminder's period: the session's date in the LMS's zone."""
    return info.starts_at.date().isoformat()


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class _Desc:
    """A sort key in reverse (a heap of these keeps the largest on top)."""

    key: tuple[datetime, datetime, int, int]

    def __lt__(self, other: _Desc) -> bool:
        return self.key > other.key

    def __gt__(self, other: _Desc) -> bool:
        return self.key < other.key


def _bind(func: Callable[..., Awaitable[None]], *args: object) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        await func(*args)

    return job


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _digest_summary(user_id: str, digest: Digest) -> str:
    pending = digest.pending
    modules = {e.tracked.id for e in pending if e.tracked is not None}
    ispring = sum(1 for e in pending if e.kind is EntryKind.ISPRING)
    parts = [f"{_n(len(pending) - ispring, 'Zoho item')} in {_n(len(modules), 'module')}"]
    if ispring:
        parts.append(f"{_n(ispring, 'iSpring module')} due")
    if digest.locked:
        parts.append(f"{len(digest.locked)} locked")
    if digest.sessions:
        parts.append(_n(len(digest.sessions), "upcoming session"))
    if digest.missed:
        parts.append(_n(len(digest.missed), "missed session"))
    if digest.reminders:
        parts.append(_n(len(digest.reminders), "session reminder") + " in it")
    who = f"{user_id} ({digest.learner_name})" if digest.learner_name else user_id
    return f"digest {digest.period} → {who}: " + ", ".join(parts)
