"""`/lms remind …`: the caller's own reminder preferences."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.clock import Clock, utc
from bot.reminders.actions import ReminderActions
from bot.reminders.parse import moved_by_quiet_hours, parse_clock, quiet_hours, snooze_until
from bot.reminders.types import Digest
from bot.services.preferences import PreferenceError, PreferenceService
from bot.services.roles import RoleService
from bot.services.slack_gateway import SlackGateway
from bot.services.types import ReminderSettings
from handlers.views import SlackMessage, bad_arguments_message, reminder_settings_message
from handlers.views.digest import digest_message
from handlers.views.formatting import slack_time, weekdays
from handlers.views.problems import problem_text
from handlers.views.status import reminder_changed_message, reminder_refused_message

log = logging.getLogger(__name__)
_LEARNER_USAGE = (
    "on · off · at HH:MM · days mon-fri|mon,wed|weekdays|weekends · quiet HH:MM-HH:MM · quiet off · "
    "snooze 1d|1w|until <date> · mute <module> · unmute <module> · status"
)
_MANAGER_USAGE = _LEARNER_USAGE.replace(" · mute", " · digest on|off · mute")


@dataclass(frozen=True, slots=True)
class RemindServices:
    """What `/lms remind` and the Home tab's reminder controls use."""

    preferences: PreferenceService
    roles: RoleService
    digests: ReminderActions  # the learner's recent digests, whose notes follow their settings
    slack: SlackGateway
    clock: Clock  # the services' clock (virtual in tests)


def when_it_comes(settings: ReminderSettings) -> str:
    """The send time in words, saying when quiet hours move it (12:00–14:00 quiet: 13:00 comes at 14:00)."""
    if moved_by_quiet_hours(settings):
        return (
            f"Reminders will come at {settings.quiet_end}, your time: {settings.send_time} is inside your quiet hours "
            f"({settings.quiet_start}–{settings.quiet_end})."
        )
    return f"Reminders will come at {settings.send_time}, your time."


async def remind_command(s: RemindServices, team_id: str, user_id: str, args: list[str]) -> SlackMessage:
    prefs = s.preferences
    word = args[0].lower() if args else "status"
    rest = args[1:]
    manager = (await s.roles.roles(team_id, user_id)).can_see_others
    try:
        if word == "status":
            settings = await prefs.settings(team_id, user_id)
            return reminder_settings_message(settings, manager=manager)
        await prefs.remember_timezone(team_id, user_id)
        if word == "on":
            settings = await prefs.update(team_id, user_id, enabled=True, snoozed_until=None)
            note = "Reminders are on."
            await clear_digest_notes(s, team_id, user_id)
        elif word == "off":
            settings = await prefs.update(team_id, user_id, enabled=False)
            note = "Reminders are off. `/lms remind on` brings them back."
        elif word == "at" and rest:
            settings = await prefs.update(team_id, user_id, send_time=parse_clock(" ".join(rest)), enabled=True)
            note = when_it_comes(settings)
        elif word == "days" and rest:
            settings = await prefs.update(team_id, user_id, weekdays=" ".join(rest))
            note = f"Reminders will come {weekdays(settings.weekdays)}."
        elif word == "quiet" and rest and rest[0].lower() == "off":
            settings = await prefs.update(team_id, user_id, quiet_start=None, quiet_end=None)
            note = "Quiet hours removed."
        elif word == "quiet" and rest:
            start, end = quiet_hours(" ".join(rest))
            settings = await prefs.update(team_id, user_id, quiet_start=start, quiet_end=end)
            note = f"No reminders between {settings.quiet_start} and {settings.quiet_end}. {when_it_comes(settings)}"
        elif word == "snooze" and rest:
            current = await prefs.settings(team_id, user_id)
            until = snooze_until(rest, current.timezone, utc(s.clock))
            settings = await prefs.update(team_id, user_id, snoozed_until=until)
            note = f"Snoozed until {slack_time(until, '{date_short_pretty} {time}')}. `/lms remind on` wakes them up."
            await _restyle_digests(
                s, team_id, user_id, lambda d: replace(d, snoozed_until=until, stopped=False), latest_only=True
            )
        elif word == "digest" and manager:
            current = await prefs.settings(team_id, user_id)
            wanted = (rest[0].lower() == "on") if rest else not current.digest
            settings = await prefs.update(team_id, user_id, digest=wanted)
            note = "Weekly overdue digest (for managers) is " + ("on." if wanted else "off.")
        elif word in ("mute", "unmute") and rest:
            tracked = await (prefs.mute if word == "mute" else prefs.unmute)(team_id, user_id, rest[0])
            settings = await prefs.settings(team_id, user_id)
            note = f"`{tracked.label}` is {'muted' if word == 'mute' else 'unmuted'}."
        else:
            return bad_arguments_message(
                "remind", problem=f"Try one of: {_MANAGER_USAGE if manager else _LEARNER_USAGE} (or use the Home tab)"
            )
    except PreferenceError as exc:  # said with the Home tab hint (and shown as the tab's note from its controls)
        return reminder_refused_message(problem_text(exc))
    return reminder_changed_message(note, settings, manager=manager)


async def clear_digest_notes(s: RemindServices, team_id: str, user_id: str) -> None:
    """Reminders are back on: recent digests that say "Snoozed until …" or "stopped" get their buttons back."""
    await _restyle_digests(s, team_id, user_id, lambda d: replace(d, snoozed_until=None, stopped=False))


async def _restyle_digests(
    s: RemindServices,
    team_id: str,
    user_id: str,
    change: Callable[[Digest], Digest],
    *,
    latest_only: bool = False,
) -> None:
    """Edit the learner's recent digests in place so their note ("Snoozed until …") says what is true now."""
    found = await s.digests.recent_digests(team_id, user_id)
    for sent in found[-1:] if latest_only else found:
        changed = change(sent.digest)
        if changed == sent.digest or not sent.channel_id or not sent.message_ts:
            continue
        shown = digest_message(changed)
        try:
            await s.slack.update(team_id, sent.channel_id, sent.message_ts, shown["text"], list(shown["blocks"]))
        except Exception as exc:  # noqa: BLE001 - the setting is saved; an old message keeping its note is minor
            log.info("could not update digest %s of %s: %s", sent.id, user_id, exc)
            continue
        await s.digests.save(sent, changed)
