"""Who the reminder sweep writes to and how each of them wants it: learner links, reminder preferences and muted
modules, read a workspace at a time; and the one thing a sweep writes back, a time zone learnt from a person's
Slack profile (so most sweeps need no Slack call for it).

The reminder engine reaches storage only through services like this one (an import-linter contract in
pyproject.toml): the composition root (bot/reminders_root.py) builds it from the process's repositories.
"""

from __future__ import annotations

from storage.repositories.links import LearnerLink as LearnerLink  # re-exported: the engine's types
from storage.repositories.links import LinkRepository
from storage.repositories.preferences import WEEKDAYS as WEEKDAYS
from storage.repositories.preferences import PreferenceRepository
from storage.repositories.preferences import ReminderPreferences as ReminderPreferences
from storage.repositories.reminder_state import ReminderStateRepository


class ReminderAudience:
    def __init__(
        self, links: LinkRepository, preferences: PreferenceRepository, state: ReminderStateRepository
    ) -> None:
        self._links = links
        self._preferences = preferences
        self._state = state

    async def links(self, team_id: str | None = None) -> list[LearnerLink]:
        """Every learner link (of one workspace, if given)."""
        return await self._links.list(team_id)

    async def link(self, team_id: str, slack_user_id: str, provider: str) -> LearnerLink | None:
        return await self._links.get(team_id, slack_user_id, provider)

    async def preferences(self, team_id: str) -> dict[str, ReminderPreferences]:
        """Stored preferences by Slack user; people missing from it have the defaults."""
        return await self._preferences.for_team(team_id)

    async def preference(self, team_id: str, slack_user_id: str) -> ReminderPreferences:
        return await self._preferences.get(team_id, slack_user_id)

    async def mutes(self, team_id: str) -> dict[str, set[int]]:
        """Muted tracked-module ids by Slack user (people with none are missing)."""
        return await self._state.mutes_for_team(team_id)

    async def remember_timezone(self, team_id: str, slack_user_id: str, zone: str) -> None:
        """The time zone a Slack profile gives, kept in the person's preferences."""
        await self._preferences.update(team_id, slack_user_id, timezone=zone)
