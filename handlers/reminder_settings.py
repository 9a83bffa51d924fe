"""`/lms remind …`: the caller's own reminder preferences."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from bot.container import Services
from bot.lms.dates import DateParseError, parse_date
from bot.reminders import schedule
from bot.reminders.types import Digest
from bot.reminders_root import build_actions
from bot.services.preferences import PreferenceError
from bot.services.types import ReminderSettings
from handlers.views import SlackMessage, bad_arguments_message, reminder_settings_message
from handlers.views.digest import digest_message
from handlers.views.formatting import slack_time, weekdays
from handlers.views.status import reminder_changed_message, reminder_refused_message
from storage.repositories.preferences import WEEKDAYS, ReminderPreferences

log = logging.getLogger(__name__)
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*([ap]m)?$", re.IGNORECASE)
_SPAN = re.compile(r"^(\d{1,3})\s*(d|day|days|w|wk|week|weeks)$", re.IGNORECASE)
_LEARNER_USAGE = (
    "on · off · at HH:MM · days mon-fri|mon,wed|weekdays|weekends · quiet HH:MM-HH:MM · quiet off · "
    "snooze 1d|1w|until <date> · mute <module> · unmute <module> · status"
)
_MANAGER_USAGE = _LEARNER_USAGE.replace(" · mute", " · digest on|off · mute")
SNOOZE_FORMS = "`snooze 1d`, `snooze 1w` or `snooze until 2026-12-24` (or a weekday: `snooze until monday`)"
MAX_SNOOZE_DAYS = 366


def _now(s: Services) -> datetime:
    return datetime.fromtimestamp(s.cache.clock(), UTC)  # the services' clock (virtual in tests)


def parse_clock(text: str) -> str:
    """ "9", "9:30", "09:30", "5pm", "5:15 PM" → "HH:MM" (24-hour)."""
    m = _TIME.match(text.strip())
    if not m:
        raise PreferenceError(f"`{text}` is not a time of day; write it like 09:00 or 5pm.")
    hour, minute = int(m[1]), int(m[2] or 0)
    if m[3]:
        if not 1 <= hour <= 12:
            raise PreferenceError(f"`{text}` is not a time of day.")
        hour = hour % 12 + (12 if m[3].lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        raise PreferenceError(f"`{text}` is not a time of day.")
    return f"{hour:02d}:{minute:02d}"


def snooze_until(words: list[str], zone_name: str | None, now: datetime) -> datetime:
    """ "1d", "3 days", "1w", "until 2026-12-24", "until 24-12-2026", "until monday" → when reminders resume
    (a date means its start, in the learner's zone)."""
    text = " ".join(words).strip().lower()
    if m := _SPAN.match(text):
        amount = int(m[1]) * (7 if m[2].startswith("w") else 1)
        if not 1 <= amount <= MAX_SNOOZE_DAYS:
            raise PreferenceError(f"Snooze for 1 to {MAX_SNOOZE_DAYS} days; write {SNOOZE_FORMS}.")
        return now + timedelta(days=amount)
    if not text.startswith("until ") or not text[6:].strip():
        raise PreferenceError(f"`{text or 'snooze'}` is not a snooze; write {SNOOZE_FORMS}.")
    zone = schedule.zone(zone_name)
    today = now.astimezone(zone).date()
    target = _day(text[6:].strip(), today)
    if target is None:
        raise PreferenceError(f"`{text[6:].strip()}` is not a date; write {SNOOZE_FORMS}.")
    if target <= today or (target - today).days > MAX_SNOOZE_DAYS:
        raise PreferenceError(f"Snooze until a day after today and within a year; write {SNOOZE_FORMS}.")
    return datetime.combine(target, time(0, 0), tzinfo=zone).astimezone(UTC)


def _day(text: str, today: date) -> date | None:
    if text == "tomorrow":
        return today + timedelta(days=1)
    named = [i for i, name in enumerate(WEEKDAYS) if text.startswith(name)]
    if len(named) == 1 and text.isalpha():
        return today + timedelta(days=(named[0] - today.weekday() - 1) % 7 + 1)  # the next one, never today
    try:
        return parse_date(text)
    except DateParseError:
        return None


def when_it_comes(settings: ReminderSettings) -> str:
    """The send time in words, saying when quiet hours move it (12:00–14:00 quiet: 13:00 comes at 14:00)."""
    prefs = ReminderPreferences(
        "", "", send_time=settings.send_time, quiet_start=settings.quiet_start, quiet_end=settings.quiet_end
    )
    at = time.fromisoformat(settings.send_time)
    if schedule.in_quiet_hours(prefs, at) and settings.quiet_end:
        return (
            f"Reminders will come at {settings.quiet_end}, your time: {settings.send_time} is inside your quiet hours "
            f"({settings.quiet_start}–{settings.quiet_end})."
        )
    return f"Reminders will come at {settings.send_time}, your time."


async def remind_command(s: Services, team_id: str, user_id: str, args: list[str]) -> SlackMessage:
    prefs = s.reminder_prefs
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
            start, _, end = " ".join(rest).replace(" ", "").partition("-")
            if not end:
                raise PreferenceError("Write quiet hours as a range, e.g. `quiet 18:00-08:00`.")
            settings = await prefs.update(team_id, user_id, quiet_start=parse_clock(start), quiet_end=parse_clock(end))
            note = f"No reminders between {settings.quiet_start} and {settings.quiet_end}. {when_it_comes(settings)}"
        elif word == "snooze" and rest:
            current = await prefs.settings(team_id, user_id)
            until = snooze_until(rest, current.timezone, _now(s))
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
        return reminder_refused_message(exc.message)
    return reminder_changed_message(note, settings, manager=manager)


async def clear_digest_notes(s: Services, team_id: str, user_id: str) -> None:
    """Reminders are back on: recent digests that say "Snoozed until …" or "stopped" get their buttons back."""
    await _restyle_digests(s, team_id, user_id, lambda d: replace(d, snoozed_until=None, stopped=False))


async def _restyle_digests(
    s: Services, team_id: str, user_id: str, change: Callable[[Digest], Digest], *, latest_only: bool = False
) -> None:
    """Edit the learner's recent digests in place so their note ("Snoozed until …") says what is true now."""
    actions = build_actions(s, clock=lambda: _now(s))
    found = await actions.recent_digests(team_id, user_id)
    for row, digest in found[-1:] if latest_only else found:
        changed = change(digest)
        if changed == digest or not row.channel_id or not row.message_ts:
            continue
        shown = digest_message(changed)
        try:
            await s.slack.update(team_id, row.channel_id, row.message_ts, shown["text"], list(shown["blocks"]))
        except Exception as exc:  # noqa: BLE001 - the setting is saved; an old message keeping its note is minor
            log.info("could not update digest %s of %s: %s", row.id, user_id, exc)
            continue
        await actions.state.set_payload(row.id, changed.to_payload())
