"""A learner's reminder preferences: on/off, local send time, weekdays, quiet hours, snooze, muted modules."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bot.errors import Problem, UserError
from bot.services.slack_gateway import SlackGateway
from bot.services.tracking import TrackError, TrackingService
from bot.services.types import ReminderSettings, TrackedModuleRef
from storage.repositories.audit import AuditRepository
from storage.repositories.preferences import PreferenceRepository, ReminderPreferences

log = logging.getLogger(__name__)


class PreferenceError(UserError):
    """A preference change that cannot be made: its Problem says why (or storage's validation, its own words)."""


class PreferenceService:
    def __init__(
        self, preferences: PreferenceRepository, tracking: TrackingService, slack: SlackGateway, audit: AuditRepository
    ) -> None:
        self._preferences = preferences
        self.tracking = tracking
        self.slack = slack
        self._audit = audit

    async def settings(self, team_id: str, user_id: str) -> ReminderSettings:
        prefs = await self._preferences.get(team_id, user_id)
        return await self._view(prefs)

    async def update(self, team_id: str, user_id: str, **changes: object) -> ReminderSettings:
        try:
            prefs = await self._preferences.update(team_id, user_id, **changes)
        except (ValueError, TypeError) as exc:
            raise PreferenceError(str(exc)) from exc
        return await self._view(prefs)

    async def remember_timezone(self, team_id: str, user_id: str) -> str | None:
        """Cache the Slack profile's time zone, so sends happen at the learner's local time."""
        try:
            user = await self.slack.user(team_id, user_id)
        except Exception as exc:  # noqa: BLE001 - keep the old zone if Slack is unavailable
            log.info("time zone of %s unavailable: %s", user_id, exc)
            return None
        if user.tz:
            await self.update(team_id, user_id, timezone=user.tz)
        return user.tz

    async def snooze(self, team_id: str, user_id: str, days: int, now: datetime | None = None) -> ReminderSettings:
        until = (now or datetime.now(UTC)) + timedelta(days=days)
        return await self.update(team_id, user_id, snoozed_until=until)

    async def mute(self, team_id: str, user_id: str, ref: str | int) -> TrackedModuleRef:
        tracked = await self._tracked(team_id, ref)
        await self._preferences.mute(team_id, user_id, tracked.id)
        return tracked

    async def unmute(self, team_id: str, user_id: str, ref: str | int) -> TrackedModuleRef:
        tracked = await self._tracked(team_id, ref)
        await self._preferences.unmute(team_id, user_id, tracked.id)
        return tracked

    async def _tracked(self, team_id: str, ref: str | int) -> TrackedModuleRef:
        try:
            found = (
                await self.tracking.get(team_id, ref)
                if isinstance(ref, int)
                else await self.tracking.find(team_id, ref)
            )
        except TrackError as exc:
            raise PreferenceError.recast(exc) from exc
        if found is None:
            raise PreferenceError(Problem.NO_SUCH_MODULE, ref=str(ref))
        return found

    async def _view(self, prefs: ReminderPreferences) -> ReminderSettings:
        muted_ids = await self._preferences.muted(prefs.team_id, prefs.slack_user_id)
        muted = tuple(t for t in await self.tracking.list(prefs.team_id) if t.id in muted_ids)
        return ReminderSettings(
            enabled=prefs.enabled,
            send_time=prefs.send_time,
            weekdays=tuple(d for d in prefs.weekdays.split(",") if d),
            digest=prefs.digest,
            quiet_start=prefs.quiet_start,
            quiet_end=prefs.quiet_end,
            snoozed_until=prefs.snoozed_until,
            timezone=prefs.timezone,
            muted=muted,
        )
