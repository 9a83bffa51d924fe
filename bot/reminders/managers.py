"""Phase 4 of the sweep: the weekly "who is still behind on what" for managers and admins, on
REMINDER_MANAGER_DIGEST_WEEKDAY at each one's send time: pending tracked Zoho items (from the cache) and overdue
iSpring modules, each manager seeing their own team's (admins without a team: everyone's)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from bot.lms.ratelimit import Priority
from bot.reminders import schedule
from bot.reminders.delivery import Delivery
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.reminders.team import Stop, Team, chunks, utc_now
from bot.reminders.types import (
    MANAGER_DIGEST_KEY,
    LearnerBacklog,
    ManagerDigest,
    ModuleBacklog,
    Outgoing,
    OverdueResult,
    Renderer,
)
from bot.services.people import NoTeam, PeopleService
from bot.services.slack_gateway import SlackUser

log = logging.getLogger(__name__)
MANAGERS_TTL = timedelta(minutes=30)


class ManagerPhase:
    def __init__(
        self,
        config: ReminderConfig,
        renderer: Renderer,
        delivery: Delivery,
        people: PeopleService,
        *,
        admins: frozenset[str],  # LMSBOT_ADMINS, besides Slack's workspace admins and owners
        managers: frozenset[str],  # LMSBOT_MANAGERS
        stop: Stop,
    ) -> None:
        self.config = config
        self.renderer = renderer
        self.delivery = delivery
        self.people = people
        self.admins = admins
        self.managers = managers
        self.stop = stop
        self._candidates: dict[str, tuple[datetime, list[SlackUser]]] = {}

    async def run(
        self, team: Team, report: SweepReport, *, force: bool, dry_run: bool, only_user: str | None, now: datetime
    ) -> None:
        if not self.config.manager_digest or self.stop.requested:
            return
        day = self.config.manager_digest_weekday
        near = {schedule.weekday((now + timedelta(days=d)).date()) for d in (-1, 0, 1)}
        if not force and day not in near:
            return  # it is that weekday nowhere on Earth: no Slack call needed
        content: ManagerDigest | None = None
        for person in await self._people(team.team_id, report):
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

    async def _team_overdue(self, team: Team, person: SlackUser, content: ManagerDigest) -> tuple[OverdueResult, ...]:
        """The overdue iSpring modules of this manager's team (admins without a team: everyone's)."""
        if not content.ispring_overdue:
            return ()
        admin = person.is_admin or person.is_owner or person.id in self.admins
        try:
            scope = await self.people.scope(team.team_id, person.id, admin=admin, priority=Priority.BACKGROUND)
        except NoTeam:
            return ()
        except Exception as exc:  # noqa: BLE001 - the team could not be worked out: only admins see everyone's
            log.info("manager digest: no team for %s: %s", person.id, exc)
            return content.ispring_overdue if admin else ()
        if scope.department_ids is None:
            return content.ispring_overdue
        wanted = set(scope.department_ids)
        return tuple(o for o in content.ispring_overdue if o.department_id in wanted)

    async def _people(self, team_id: str, report: SweepReport) -> list[SlackUser]:
        """Who may get it: Slack's workspace admins and owners, LMSBOT_ADMINS and LMSBOT_MANAGERS (the Slack
        member list is read at most every MANAGERS_TTL)."""
        cached = self._candidates.get(team_id)
        now = utc_now()
        if cached is not None and now - cached[0] < MANAGERS_TTL:
            return cached[1]
        extra = self.admins | self.managers
        people = [p for p in await self.delivery.members(team_id, report) if p.is_admin or p.is_owner or p.id in extra]
        self._candidates[team_id] = (now, people)
        return people

    async def _backlog(self, team: Team, now: datetime) -> ManagerDigest:
        """Who is behind on what: pending tracked Zoho items (from the cache) and overdue iSpring modules."""
        modules: list[ModuleBacklog] = []
        for tracked in team.tracked:
            behind: list[LearnerBacklog] = []
            name: str | None = None
            for batch in chunks(list(team.learners.values()), self.config.sweep_batch):
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
            directory = await self.people.directory(team.team_id, Priority.BACKGROUND) if results else None
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
