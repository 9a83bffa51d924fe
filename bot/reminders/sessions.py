"""Phase 3 of the sweep: session reminders, the day before and shortly before, for the learners who attend and
for the trainer running the session. One the day's digest already told (bot/reminders/digests.py) is not sent
again on its own."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from bot.reminders import schedule
from bot.reminders.delivery import Delivery
from bot.reminders.entries import session_info
from bot.reminders.lms_reader import Unavailable
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.reminders.team import Team, chunks
from bot.reminders.types import Outgoing, Renderer, SessionInfo, SessionLead, SessionReminder
from bot.services.slack_gateway import SlackUser
from bot.services.types import TrackedModuleRef


class SessionPhase:
    def __init__(self, config: ReminderConfig, renderer: Renderer, delivery: Delivery, lms_zone: tzinfo) -> None:
        self.config = config
        self.renderer = renderer
        self.delivery = delivery
        self.lms_zone = lms_zone

    async def run(self, team: Team, report: SweepReport, *, dry_run: bool, now: datetime) -> None:
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
                lead = lead_of(info, now, self.config) if info is not None and not session.is_completed else None
                if info is None or lead is None:
                    continue
                period = session_period_of(info)
                for batch in chunks(list(team.learners.values()), self.config.sweep_batch):
                    await team.focus(batch)
                    for learner in batch:
                        if not learner.zoho_id or tracked.id in learner.muted:
                            continue
                        if await attends(team, tracked, learner.zoho_id, session.session_id, self.config):
                            notice = SessionReminder(info, lead, False, team.names.get(learner.user_id))
                            await self._one(team, learner.user_id, learner.tz, notice, period, report, dry_run, now)
                trainer = team.zoho_users.get(session.trainer_erecno or "")
                if trainer is None and session.trainer:
                    if members is None:
                        members = await self.delivery.members(team.team_id, report)
                    wanted = session.trainer.strip().lower()
                    trainer = next((m.id for m in members if m.real_name.strip().lower() == wanted), None)
                if trainer is not None and (team.only_user is None or trainer == team.only_user):
                    tz = schedule.zone(team.pref(trainer).timezone)
                    notice = SessionReminder(info, lead, True, team.names.get(trainer))
                    await self._one(team, trainer, tz, notice, period, report, dry_run, now)

    async def _one(
        self,
        team: Team,
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


async def attends(
    team: Team, tracked: TrackedModuleRef, learner_id: str, session_id: str, config: ReminderConfig
) -> bool:
    """Whether the session is in the learner's own progress, mandatory (or optional ones wanted), not attended."""
    cached = await team.reader.peek_facts(tracked, learner_id)
    if cached is None and not await team.reader.not_enrolled(tracked, learner_id):
        try:
            got = await team.reader.progress(tracked, learner_id, max_age=config.fresh_seconds)
        except Unavailable:
            return False
        cached = got.facts if got is not None else None
    if cached is None:
        return False
    session = cached.sessions.get(session_id)
    if session is None:
        return False
    complete, mandatory = session
    return not complete and (mandatory or config.session_optional)


def lead_of(info: SessionInfo, now: datetime, config: ReminderConfig) -> SessionLead | None:
    """Which reminder of this session is due now: "soon" within the shortly-before window, "day-before"
    within the day-before one, None when neither (or it has started)."""
    day_before = timedelta(hours=config.session_day_before_hours)
    soon = timedelta(minutes=config.session_soon_minutes)
    if not now < info.starts_at <= now + max(day_before, soon):
        return None
    return "soon" if info.starts_at - now <= soon else "day-before"


def session_key(role: str, info: SessionInfo, lead: SessionLead) -> str:
    """The sent log's item key of a session reminder ("session" for a learner, "trainer" for its trainer)."""
    return f"{role}:{info.session_id}:{lead}"


def session_period_of(info: SessionInfo) -> str:
    """A session reminder's period: the session's date in the LMS's zone."""
    return info.starts_at.date().isoformat()
