"""Phase 1 of the sweep: the daily digests. Learners whose local send time has come (all of them when forced),
soonest first, get one message built from the cache without waiting for the LMS (the session reminders due now
told in it, the missed sessions not told yet); then the planner (bot/reminders/planner.py) refreshes, paced over
the day, the data of those due within `plan_hours`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import logcontext, metrics
from bot.reminders import schedule
from bot.reminders.collect import Learner
from bot.reminders.delivery import Delivery
from bot.reminders.planner import Pair, Planner
from bot.reminders.report import SweepReport
from bot.reminders.sessions import attends, lead_of, session_key, session_period_of
from bot.reminders.settings import ReminderConfig
from bot.reminders.team import Stop, Team, bind, chunks, run_jobs
from bot.reminders.types import (
    DIGEST_KEY,
    MISSED_PERIOD,
    Digest,
    EntryKind,
    MissedSession,
    Outgoing,
    Renderer,
    SessionInfo,
    SessionLead,
)
from bot.services import agenda
from bot.services.sent_log import ClaimState, SentLog


class DigestPhase:
    def __init__(
        self,
        config: ReminderConfig,
        renderer: Renderer,
        delivery: Delivery,
        sent_log: SentLog,
        planner: Planner,
        *,
        lms_zone: ZoneInfo,
        clock: Callable[[], datetime],
        stop: Stop,
    ) -> None:
        self.config = config
        self.renderer = renderer
        self.delivery = delivery
        self.sent_log = sent_log
        self.planner = planner
        self.lms_zone = lms_zone
        self.clock = clock
        self.stop = stop

    async def run(
        self,
        team: Team,
        taken: dict[tuple[str, str], ClaimState],
        report: SweepReport,
        *,
        force: bool,
        dry_run: bool,
        now: datetime,
    ) -> None:
        """`taken`: the claims of the periods this sweep can look at, by (Slack user, period)."""
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
        for batch in chunks(due, self.config.sweep_batch):
            if self.stop.requested:
                return
            await team.focus((learner for _, learner, _ in batch), answers=True)
            jobs: list[Callable[[], Awaitable[None]]] = [
                bind(self._digest_for, team, learner, period, report, dry_run) for _, learner, period in batch
            ]
            # Whoever needs iSpring waits for its answer before taking a slot, so a slow iSpring holds no slot
            # that a Zoho-only learner could use.
            ready = [team.ispring if learner.ispring_id else None for _, learner, _ in batch]
            await run_jobs(jobs, report, ready, concurrency=self.config.concurrency, stop=self.stop)
        if soon and team.tracked and not self.stop.requested:
            await self._plan(team, soon, report, self.clock())

    async def _plan(self, team: Team, soon: list[tuple[datetime, Learner]], report: SweepReport, now: datetime) -> None:
        """Refresh, paced over the day, the answers of learners due within `plan_hours` (bot/reminders/planner.py)."""
        pairs: list[Pair] = []
        for batch in chunks(soon, self.config.sweep_batch):
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

    async def _digest_for(self, team: Team, learner: Learner, period: str, report: SweepReport, dry_run: bool) -> None:
        logcontext.bind(slack_user=learner.user_id)  # a task of its own (`run_jobs`): the context ends with it
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

    def _observe_lateness(self, team: Team, learner: Learner, period: str) -> None:
        moment = schedule.send_moment(team.pref(learner.user_id), learner.tz, date.fromisoformat(period))
        if moment is not None:
            metrics.DIGEST_LATENESS.observe(max(0.0, (self.clock() - moment).total_seconds()))

    async def _due_session_reminders(
        self, team: Team, learner: Learner, sessions: Sequence[SessionInfo], now: datetime
    ) -> list[tuple[SessionInfo, SessionLead]]:
        """The learner's session reminders the session phase would send in this sweep and has not sent yet."""
        if not learner.zoho_id:
            return []
        candidates: list[tuple[SessionInfo, SessionLead]] = []
        for info in sessions:
            lead = lead_of(info, now, self.config)
            if lead is None or info.tracked.id in learner.muted or not info.tracked.batch_id:
                continue
            listed = {s.session_id: s for s in await team.reader.sessions(info.tracked) or []}
            session = listed.get(info.session_id)
            if session is None or session.is_completed:
                continue
            if await attends(team, info.tracked, learner.zoho_id, info.session_id, self.config):
                candidates.append((info, lead))
        if not candidates:
            return []
        keys = [session_key("session", info, lead) for info, lead in candidates]
        since = now - timedelta(hours=self.config.session_day_before_hours, days=1)
        told = {
            (r.item_key, r.period)
            for r in await self.sent_log.recent(
                team.team_id, keys, since, statuses=("sent", "claimed"), slack_user_id=learner.user_id
            )
        }
        return [
            (info, lead)
            for info, lead in candidates
            if (session_key("session", info, lead), session_period_of(info)) not in told
        ]

    async def _untold(
        self, team_id: str, user_id: str, missed: list[MissedSession], now: datetime
    ) -> tuple[MissedSession, ...]:
        """The missed sessions this learner has not been told about yet (the sent log remembers each one)."""
        if not missed:
            return ()
        since = now - timedelta(days=agenda.MISSED_SESSION_DAYS + 1)
        keys = [m.key for m in missed]
        told = {r.item_key for r in await self.sent_log.recent(team_id, keys, since, slack_user_id=user_id)}
        return tuple(sorted((m for m in missed if m.key not in told), key=lambda m: m.session.starts_at))

    def _as_of(self, oldest: datetime | None, now: datetime) -> datetime | None:
        """When the data a digest rests on is older than the planning window: its time (the digest says so)."""
        if oldest is None or (now - oldest).total_seconds() <= self.config.plan_hours * 3600.0:
            return None
        return oldest


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
