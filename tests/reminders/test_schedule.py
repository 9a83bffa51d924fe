"""When a digest is due: local send time, weekdays, quiet hours, snooze and DST, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.reminders import schedule
from storage.repositories.preferences import ReminderPreferences


def prefs(**changes: Any) -> ReminderPreferences:
    return ReminderPreferences("T1", "U1", **changes)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


AUCKLAND, LOS_ANGELES, BERLIN = (schedule.zone(z) for z in ("Pacific/Auckland", "America/Los_Angeles", "Europe/Berlin"))


def test_one_instant_is_monday_morning_in_auckland_and_sunday_in_los_angeles() -> None:
    now = utc(2026, 3, 29, 20, 0)  # Mon 09:00 NZDT; Sun 13:00 PDT
    assert schedule.digest_due(prefs(), AUCKLAND, now)
    assert schedule.local_period(now, AUCKLAND) == "2026-03-30"
    assert not schedule.digest_due(prefs(), LOS_ANGELES, now)  # Sunday there
    assert schedule.local_period(now, LOS_ANGELES) == "2026-03-29"
    assert not schedule.digest_due(prefs(), AUCKLAND, now - timedelta(minutes=1))  # 08:59 in Auckland
    # Los Angeles gets its Monday digest 19 hours later, at 09:00 PDT.
    assert schedule.next_digest_at(prefs(), LOS_ANGELES, now) == utc(2026, 3, 30, 16, 0)


@pytest.mark.parametrize(
    ("day", "due_utc"),
    [
        ((2026, 3, 27), (2026, 3, 27, 8, 0)),  # Friday before the change: 09:00 CET = 08:00 UTC
        ((2026, 3, 30), (2026, 3, 30, 7, 0)),  # Monday after: 09:00 CEST = 07:00 UTC
        ((2026, 10, 23), (2026, 10, 23, 7, 0)),  # Friday before the change back: CEST
        ((2026, 10, 26), (2026, 10, 26, 8, 0)),  # Monday after: CET again
    ],
)
def test_berlin_is_reminded_at_nine_local_on_both_sides_of_each_dst_change(
    day: tuple[int, int, int], due_utc: tuple[int, int, int, int, int]
) -> None:
    moment = utc(*due_utc)
    assert schedule.send_moment(prefs(), BERLIN, datetime(*day).date()) == moment
    assert schedule.local(moment, BERLIN).strftime("%H:%M") == "09:00"
    assert schedule.digest_due(prefs(), BERLIN, moment)
    assert not schedule.digest_due(prefs(), BERLIN, moment - timedelta(seconds=1))


def test_weekdays_decide_the_days() -> None:
    saturday = utc(2026, 4, 4, 12, 0)
    assert not schedule.digest_due(prefs(), schedule.DEFAULT_ZONE, saturday)
    assert schedule.digest_due(prefs(weekdays="sat,sun"), schedule.DEFAULT_ZONE, saturday)
    assert schedule.next_digest_at(prefs(), schedule.DEFAULT_ZONE, saturday) == utc(2026, 4, 6, 9, 0)  # Monday


def test_quiet_hours_hold_a_digest_until_they_end() -> None:
    quiet = prefs(quiet_start="08:00", quiet_end="10:00")
    assert not schedule.digest_due(quiet, schedule.DEFAULT_ZONE, utc(2026, 3, 30, 9, 30))
    assert schedule.send_moment(quiet, schedule.DEFAULT_ZONE, datetime(2026, 3, 30).date()) == utc(2026, 3, 30, 10)
    assert schedule.digest_due(quiet, schedule.DEFAULT_ZONE, utc(2026, 3, 30, 10, 0))
    overnight = prefs(quiet_start="22:00", quiet_end="07:00", send_time="06:30")
    assert not schedule.may_message(overnight, schedule.DEFAULT_ZONE, utc(2026, 3, 30, 23, 0))
    assert not schedule.digest_due(overnight, schedule.DEFAULT_ZONE, utc(2026, 3, 30, 6, 45))
    assert schedule.digest_due(overnight, schedule.DEFAULT_ZONE, utc(2026, 3, 30, 7, 0))


def test_snooze_and_off() -> None:
    now = utc(2026, 3, 30, 9, 30)
    snoozed = prefs(snoozed_until=now + timedelta(days=1))
    assert not schedule.digest_due(snoozed, schedule.DEFAULT_ZONE, now)
    assert not schedule.digest_due(snoozed, schedule.DEFAULT_ZONE, now + timedelta(hours=23))
    assert schedule.digest_due(snoozed, schedule.DEFAULT_ZONE, now + timedelta(days=1))
    assert schedule.next_digest_at(snoozed, schedule.DEFAULT_ZONE, now) == now + timedelta(days=1)
    assert not schedule.digest_due(prefs(enabled=False), schedule.DEFAULT_ZONE, now)
    assert schedule.next_digest_at(prefs(enabled=False), schedule.DEFAULT_ZONE, now) is None


def test_unknown_zone_falls_back_to_utc_and_weeks_are_iso() -> None:
    assert schedule.zone("Mars/Olympus_Mons") is schedule.DEFAULT_ZONE
    assert schedule.zone(None) is schedule.DEFAULT_ZONE
    assert schedule.week_period(utc(2026, 3, 29, 20, 0), AUCKLAND) == "2026-W14"
    assert schedule.week_period(utc(2026, 3, 29, 20, 0), LOS_ANGELES) == "2026-W13"
