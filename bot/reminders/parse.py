"""What people type for their reminder settings (`/lms remind …`, the Home tab's controls), parsed: times of day,
snooze spans and dates. Pure functions; a word that says nothing sensible is a PreferenceError (worded by
handlers/views/problems.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from bot.errors import Problem
from bot.lms.dates import DateParseError, parse_date
from bot.reminders import schedule
from bot.services.preferences import PreferenceError
from bot.services.reminder_audience import WEEKDAYS
from bot.services.types import ReminderSettings

_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*([ap]m)?$", re.IGNORECASE)
_SPAN = re.compile(r"^(\d{1,3})\s*(d|day|days|w|wk|week|weeks)$", re.IGNORECASE)
MAX_SNOOZE_DAYS = 366


def parse_clock(text: str) -> str:
    """ "9", "9:30", "09:30", "5pm", "5:15 PM" → "HH:MM" (24-hour)."""
    m = _TIME.match(text.strip())
    if not m:
        raise PreferenceError(Problem.NOT_A_TIME_OF_DAY, value=text)
    hour, minute = int(m[1]), int(m[2] or 0)
    if m[3]:
        if not 1 <= hour <= 12:
            raise PreferenceError(Problem.NOT_A_TIME, value=text)
        hour = hour % 12 + (12 if m[3].lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        raise PreferenceError(Problem.NOT_A_TIME, value=text)
    return f"{hour:02d}:{minute:02d}"


def quiet_hours(text: str) -> tuple[str, str]:
    """ "18:00-08:00", "6pm - 8am" → ("18:00", "08:00")."""
    start, _, end = text.replace(" ", "").partition("-")
    if not end:
        raise PreferenceError(Problem.QUIET_NOT_A_RANGE)
    return parse_clock(start), parse_clock(end)


def snooze_until(words: list[str], zone_name: str | None, now: datetime) -> datetime:
    """ "1d", "3 days", "1w", "until 2026-12-24", "until 24-12-2026", "until monday" → when reminders resume
    (a date means its start, in the learner's zone)."""
    text = " ".join(words).strip().lower()
    if m := _SPAN.match(text):
        amount = int(m[1]) * (7 if m[2].startswith("w") else 1)
        if not 1 <= amount <= MAX_SNOOZE_DAYS:
            raise PreferenceError(Problem.SNOOZE_SPAN)
        return now + timedelta(days=amount)
    if not text.startswith("until ") or not text[6:].strip():
        raise PreferenceError(Problem.NOT_A_SNOOZE, value=text or "snooze")
    zone = schedule.zone(zone_name)
    today = now.astimezone(zone).date()
    target = _day(text[6:].strip(), today)
    if target is None:
        raise PreferenceError(Problem.NOT_A_DATE, value=text[6:].strip())
    if target <= today or (target - today).days > MAX_SNOOZE_DAYS:
        raise PreferenceError(Problem.SNOOZE_DAY_OUT_OF_RANGE)
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


def moved_by_quiet_hours(settings: ReminderSettings) -> bool:
    """Whether quiet hours move the send time (12:00–14:00 quiet: 13:00 comes at 14:00)."""
    at = time.fromisoformat(settings.send_time)
    quiet = schedule.quiet_between(settings.quiet_start, settings.quiet_end, at)
    return quiet and settings.quiet_end is not None
