"""The reminder engine's composition root: the engine and the digest's buttons built from a process's `Services`,
each part given the few services it uses (the engine reaches storage only through them), and the real Slack
views (handlers are reached only from composition roots). `lmsbot scheduler`, `lmsbot worker`, `lmsbot remind`
and the Slack app (for tick-offs) build their engine here.

Built when asked for, not with the services: a test or benchmark may replace the services' sent-log repository
(`Services.reminders`, to stamp rows with its own clock) before it builds an engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.container import Services
from bot.reminders.actions import ReminderActions
from bot.reminders.delivery import Delivery
from bot.reminders.engine import ReminderEngine, utc_now
from bot.reminders.settings import ReminderConfig
from bot.services.cached_answers import CachedAnswers
from bot.services.reminder_audience import ReminderAudience
from bot.services.sent_log import SentLog
from storage.repositories.reminder_state import ReminderStateRepository


def build_engine(
    services: Services, config: ReminderConfig | None = None, *, clock: Callable[[], datetime] = utc_now
) -> ReminderEngine:
    from handlers.views.digest import DigestViews

    config = config or services.settings.reminders
    settings = services.settings
    state = ReminderStateRepository(services.db)
    sent_log = SentLog(services.reminders, state)
    return ReminderEngine(
        DigestViews(),
        config,
        delivery=Delivery(services.slack, sent_log, stale_after=timedelta(seconds=config.claim_stale_seconds)),
        sent_log=sent_log,
        audience=ReminderAudience(services.links_repo, services.preferences, state),
        answers=CachedAnswers(state),
        workspaces=services.workspaces,
        registry=services.registry,
        cache=services.cache,
        tracking=services.tracking,
        bulk_reads=services.bulk_reads,
        status=services.status,
        people=services.people,
        lms_zone=ZoneInfo(settings.lms_timezone),
        admins=settings.user_list(settings.lmsbot_admins),
        managers=settings.user_list(settings.lmsbot_managers),
        clock=clock,
    )


def build_actions(services: Services, clock: Callable[[], datetime] | None = None) -> ReminderActions:
    """The digest's buttons (snooze, stop, mute)."""
    sent_log = SentLog(services.reminders, ReminderStateRepository(services.db))
    if clock is None:
        return ReminderActions(services.reminder_prefs, sent_log)
    return ReminderActions(services.reminder_prefs, sent_log, clock)
