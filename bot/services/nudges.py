"""The weekly digest's "Nudge them": one friendly DM to each overdue learner of the manager's team, once a week.

"Once" is the sent log's unique key (learner, `nudge:<ISO week>`): a second click, another manager's click or
two clicks at once all find the claim taken, so a learner hears it at most once a week whoever asks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, TypedDict

from bot.config import Settings
from bot.lms.ispring_models import ModuleResult, ResultsFilter
from bot.services.learning import LearningService
from bot.services.people import PeopleService
from bot.services.roles import RoleService
from bot.services.slack_gateway import SlackGateway
from storage.repositories.reminders import SentReminderRepository

NUDGE_STALE_AFTER = timedelta(minutes=10)
# bot.reminders.delivery.REMINDER_EVENT (not imported: bot.reminders needs the container, which needs this)
REMINDER_EVENT = "lmsbot_reminder"


def reminder_metadata(item_key: str, period: str) -> dict[str, object]:
    return {"event_type": REMINDER_EVENT, "event_payload": {"item_key": item_key, "period": period}}


@dataclass(frozen=True, slots=True)
class NudgeOutcome:
    nudged: int = 0
    already: int = 0  # nudged earlier this week (by anyone)
    failed: int = 0
    unreachable: int = 0  # overdue learners with no Slack user to write to


def nudge_period(today: date) -> tuple[str, str]:
    """(item key, period) in the sent log: `nudge:2026-W49`, the ISO week in the LMS's zone."""
    year, week, _ = today.isocalendar()
    period = f"{year}-W{week:02d}"
    return f"nudge:{period}", period


class NudgeDM(TypedDict):
    """The DM a learner gets, as the views word it (text fallback and blocks)."""

    text: str
    blocks: list[dict[str, Any]]


# (manager, the learner's overdue modules) -> the DM: the views' words (handlers.views.digest.nudge_dm).
ComposeNudge = Callable[[str, list[ModuleResult]], NudgeDM]


class NudgeService:
    def __init__(
        self,
        settings: Settings,
        roles: RoleService,
        people: PeopleService,
        learning: LearningService,
        slack: SlackGateway,
        sent_log: SentReminderRepository,
        *,
        lms_now: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.lms_now = lms_now  # the one clock, read in the LMS's zone (bot.clock.wall_time)
        self.roles = roles
        self.people = people
        self.learning = learning
        self.slack = slack
        self._sent_log = sent_log

    async def nudge_overdue(self, team_id: str, manager: str, compose: ComposeNudge) -> NudgeOutcome:
        roles = await self.roles.require_manager(team_id, manager, "nudge learners")
        scope = await self.people.scope(team_id, manager, admin=roles.admin)
        flt = ResultsFilter(department_ids=scope.department_ids or ())
        report = await self.learning.results(team_id, flt, overdue_only=True)
        directory = await self.people.directory(team_id)
        slack_ids = {**directory.slack_ids(), **report.names}
        by_person: dict[str, list[ModuleResult]] = defaultdict(list)
        unreachable: set[str] = set()
        for result in report.results:
            slack_user = slack_ids.get(result.user_id)
            if slack_user is None:
                unreachable.add(result.user_id)
            else:
                by_person[slack_user].append(result)
        outcome = NudgeOutcome(unreachable=len(unreachable))
        key, period = nudge_period(self.lms_now().date())
        for learner, modules in sorted(by_person.items()):
            if learner == manager:
                continue
            claim = await self._sent_log.claim(team_id, learner, key, period, stale_after=NUDGE_STALE_AFTER)
            if claim is None:
                outcome = replace(outcome, already=outcome.already + 1)
                continue
            dm = compose(manager, modules)
            try:
                channel = await self.slack.dm_channel(team_id, learner)
                ts = await self.slack.post(team_id, channel, dm["text"], dm["blocks"], reminder_metadata(key, period))
            except Exception:  # noqa: BLE001 - counted and retried on the next click
                await self._sent_log.mark_failed(claim)
                outcome = replace(outcome, failed=outcome.failed + 1)
                continue
            await self._sent_log.confirm(claim, channel, ts)
            outcome = replace(outcome, nudged=outcome.nudged + 1)
        return outcome
