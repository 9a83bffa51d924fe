"""When a learner may be reminded: their local send time on their weekdays, never in quiet hours or while
snoozed. Pure functions of (preferences, time zone, now); wall-clock comparisons in the learner's zone make
them DST-correct (09:00 stays 09:00 local on both sides of a change).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.services.reminder_audience import WEEKDAYS, ReminderPreferences

DEFAULT_ZONE = ZoneInfo("UTC")


def zone(name: str | None) -> ZoneInfo:
    """The learner's zone; UTC when Slack has not told us (or named a zone this system does not know)."""
    if not name:
        return DEFAULT_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_ZONE


def local(now: datetime, tz: tzinfo) -> datetime:
    return now.astimezone(tz)


def local_period(now: datetime, tz: tzinfo) -> str:
    """The sent log's period for daily reminders: the learner's own date."""
    return local(now, tz).date().isoformat()


def week_period(now: datetime, tz: tzinfo) -> str:
    year, week, _ = local(now, tz).isocalendar()
    return f"{year}-W{week:02d}"


def weekday(day: date) -> str:
    return WEEKDAYS[day.weekday()]


def _clock(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def in_quiet_hours(prefs: ReminderPreferences, at: time) -> bool:
    return quiet_between(prefs.quiet_start, prefs.quiet_end, at)


def quiet_between(quiet_start: str | None, quiet_end: str | None, at: time) -> bool:
    """Quiet hours may wrap midnight (22:00-07:00); equal ends mean none."""
    if not quiet_start or not quiet_end:
        return False
    start, end = _clock(quiet_start), _clock(quiet_end)
    if start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end


def snoozed(prefs: ReminderPreferences, now: datetime) -> bool:
    return prefs.snoozed_until is not None and prefs.snoozed_until > now


def may_message(prefs: ReminderPreferences, tz: tzinfo, now: datetime) -> bool:
    """Whether any reminder may reach this person right now (on, not snoozed, not in quiet hours)."""
    return prefs.enabled and not snoozed(prefs, now) and not in_quiet_hours(prefs, local(now, tz).time())


def send_moment(prefs: ReminderPreferences, tz: tzinfo, day: date) -> datetime | None:
    """When the digest of `day` (local) becomes due, or None when `day` is not one of the learner's days.

    A send time inside quiet hours moves to the moment they end that day. Wall-clock arithmetic in the zone:
    on a DST day 09:00 is still 09:00 local (a time skipped by the change means the moment right after it).
    """
    if weekday(day) not in prefs.weekday_set:
        return None
    at = _clock(prefs.send_time)
    if in_quiet_hours(prefs, at) and prefs.quiet_end:
        at = _clock(prefs.quiet_end)
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).astimezone(tz)


def digest_due(prefs: ReminderPreferences, tz: tzinfo, now: datetime) -> bool:
    """Whether the learner's daily digest is due now: a send day, past the send time, allowed to message."""
    if not may_message(prefs, tz, now):
        return False
    moment = send_moment(prefs, tz, local(now, tz).date())
    return moment is not None and now >= moment


def held_reason(prefs: ReminderPreferences, tz: tzinfo, now: datetime) -> str | None:
    """Why a digest past today's send time is held back now ("snoozed", "quiet_hours"); None when it is not held
    (due, not a send day, before the send time, or reminders off)."""
    if not prefs.enabled:
        return None
    moment = send_moment(prefs, tz, local(now, tz).date())
    if moment is None or now < moment:
        return None
    if snoozed(prefs, now):
        return "snoozed"
    if in_quiet_hours(prefs, local(now, tz).time()):
        return "quiet_hours"
    return None


def next_digest_at(prefs: ReminderPreferences, tz: tzinfo, now: datetime, *, horizon_days: int = 8) -> datetime | None:
    """The next moment at or after `now` the digest may become due (for prefetching data ahead of it)."""
    if not prefs.enabled:
        return None
    today = local(now, tz).date()
    for offset in range(horizon_days):
        moment = send_moment(prefs, tz, today + timedelta(days=offset))
        if moment is None:
            continue
        if prefs.snoozed_until is not None and moment < prefs.snoozed_until:
            moment = prefs.snoozed_until.astimezone(tz)  # the snooze ends later that day, or on a later one
            if moment.date() != today + timedelta(days=offset):
                continue
        if moment >= now:
            return moment
    return None
