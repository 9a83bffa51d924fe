"""Every date, time and duration format the LMS APIs send, parsed in one place.

Seen in the documented samples: "2023-08-03" (session start date in progress), "11-01-2022" and "31-12-2022"
(DD-MM-YYYY: sessions, lockUntil), "22-Dec-2021" (display dates), "2:30 PM" (session times), "1755596717804"
(epoch milliseconds as a string), "2021-07-28T21:00:00+00:00" (iSpring, RFC 3339), and the strings "null"
and "" for "no value". Durations come as "30 minutes", "100 Mins" or a bare number of minutes.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from enum import StrEnum


class DateOrder(StrEnum):
    """How to read an ambiguous NN-NN-YYYY date such as "11-01-2022"."""

    DMY = "DMY"  # Zoho documents DD-MM-YYYY for its request dates
    MDY = "MDY"


_EMPTY = {"", "null", "none", "nil", "-"}
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_NAMED_MONTH_DATE = re.compile(r"^(\d{1,2})[- ]([A-Za-z]{3,9})[- ,]+(\d{4})$")
_EPOCH_MS = re.compile(r"^-?\d{11,14}$")
_CLOCK_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$")
_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}


class DateParseError(ValueError):
    """A value that claims to be a date or time but is in no known format."""


def is_empty(value: object) -> bool:
    """True for None and the LMS's spellings of "no value" ("", "null")."""
    return value is None or (isinstance(value, str) and value.strip().lower() in _EMPTY)


def parse_date(value: object, order: DateOrder = DateOrder.DMY) -> date | None:
    """A calendar date from any documented format; None for empty values.

    An NN-NN-YYYY date is read in `order`; when that reading is impossible (e.g. "31-12-2022" as MDY) the
    other order is used, since then there is only one valid reading.
    """
    if is_empty(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if m := _ISO_DATE.match(text):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), text)
    if m := _NUMERIC_DATE.match(text):
        first, second, year = int(m[1]), int(m[2]), int(m[3])
        day, month = (first, second) if order is DateOrder.DMY else (second, first)
        try:
            return date(year, month, day)
        except ValueError:
            return _make_date(year, day, month, text)  # the only other reading
    if m := _NAMED_MONTH_DATE.match(text):
        named = _MONTHS.get(m[2].lower())
        if named is None:
            raise DateParseError(f"unknown month in date {text!r}")
        return _make_date(int(m[3]), named, int(m[1]), text)
    moment = parse_datetime(text)
    if moment is None:  # pragma: no cover - parse_datetime only returns None for empty input
        return None
    return moment.date()


def parse_datetime(value: object) -> datetime | None:
    """An aware datetime from epoch milliseconds (number or string) or RFC 3339; None for empty values.

    Naive RFC 3339 values are taken as UTC.
    """
    if is_empty(value):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    text = str(value).strip()
    if _EPOCH_MS.match(text):
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise DateParseError(f"not a date-time: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_time(value: object) -> time | None:
    """A wall-clock time from "2:30 PM", "11:00 AM" or "14:30"; None for empty values."""
    if is_empty(value):
        return None
    if isinstance(value, time):
        return value
    text = str(value).strip()
    m = _CLOCK_TIME.match(text)
    if not m:
        raise DateParseError(f"not a time of day: {text!r}")
    hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
    if meridiem := m[4]:
        if not 1 <= hour <= 12:
            raise DateParseError(f"hour out of range in {text!r}")
        hour = hour % 12 + (12 if meridiem.lower() == "pm" else 0)
    try:
        return time(hour, minute, second)
    except ValueError as exc:
        raise DateParseError(f"not a time of day: {text!r}") from exc


def parse_duration_minutes(value: object) -> float | None:
    """Minutes from "30 minutes", "100 Mins", "1 hour", "2 hrs" or a bare number; None for empty values."""
    if is_empty(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    m = _DURATION.match(text)
    if not m:
        raise DateParseError(f"not a duration: {text!r}")
    amount, unit = float(m[1]), m[2].lower()
    if unit in ("", "m", "min", "mins", "minute", "minutes"):
        return amount
    if unit in ("h", "hr", "hrs", "hour", "hours"):
        return amount * 60
    if unit in ("d", "day", "days"):
        return amount * 60 * 24
    if unit in ("s", "sec", "secs", "second", "seconds"):
        return amount / 60
    raise DateParseError(f"unknown duration unit in {text!r}")


def format_zoho_date(value: date) -> str:
    """The DD-MM-YYYY form Zoho's request parameters (lockUntil) take."""
    return value.strftime("%d-%m-%Y")


def format_rfc3339(value: datetime) -> str:
    """UTC RFC 3339 with a Z, as iSpring's date-range filters are written."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _make_date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise DateParseError(f"not a valid date: {text!r}") from exc
