from datetime import UTC, date, datetime, time

import pytest

from bot.lms.dates import (
    DateOrder,
    DateParseError,
    format_rfc3339,
    format_zoho_date,
    parse_date,
    parse_datetime,
    parse_duration_minutes,
    parse_time,
)


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2023-08-03", DateOrder.DMY, date(2023, 8, 3)),
        ("2023-08-03", DateOrder.MDY, date(2023, 8, 3)),
        ("11-01-2022", DateOrder.DMY, date(2022, 1, 11)),
        ("11-01-2022", DateOrder.MDY, date(2022, 11, 1)),
        # Only one reading is possible, whatever the configured order.
        ("31-12-2022", DateOrder.DMY, date(2022, 12, 31)),
        ("31-12-2022", DateOrder.MDY, date(2022, 12, 31)),
        ("27-12-2021", DateOrder.MDY, date(2021, 12, 27)),
        ("22-Dec-2021", DateOrder.DMY, date(2021, 12, 22)),
        ("1755596717804", DateOrder.DMY, date(2025, 8, 19)),
        ("2021-07-28T21:00:00+00:00", DateOrder.DMY, date(2021, 7, 28)),
    ],
)
def test_parse_date_every_documented_format(text: str, order: DateOrder, expected: date) -> None:
    assert parse_date(text, order) == expected


@pytest.mark.parametrize("empty", ["", "null", "NULL", " ", None])
def test_empty_spellings_become_none(empty: object) -> None:
    assert parse_date(empty) is None
    assert parse_datetime(empty) is None
    assert parse_time(empty) is None
    assert parse_duration_minutes(empty) is None


@pytest.mark.parametrize("bad", ["32-13-2022", "2022-02-30", "yesterday", "31-31-2022", "12-Foo-2022"])
def test_bad_dates_raise_clearly(bad: str) -> None:
    with pytest.raises(DateParseError):
        parse_date(bad)


def test_epoch_ms_and_rfc3339_are_aware_utc() -> None:
    assert parse_datetime("1755596717804") == datetime(2025, 8, 19, 9, 45, 17, 804000, tzinfo=UTC)
    assert parse_datetime("2021-07-28T21:00:00+00:00") == datetime(2021, 7, 28, 21, tzinfo=UTC)
    assert parse_datetime("2019-12-24T21:00:00Z") == datetime(2019, 12, 24, 21, tzinfo=UTC)
    naive = parse_datetime("2019-12-24T21:00:00")
    assert naive is not None and naive.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2:30 PM", time(14, 30)),
        ("2:00 PM", time(14, 0)),
        ("11:00 AM", time(11, 0)),
        ("12:15 AM", time(0, 15)),
        ("12:00 PM", time(12, 0)),
        ("1:00 pm", time(13, 0)),
        ("14:30", time(14, 30)),
    ],
)
def test_parse_time(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("bad", ["13:00 PM", "25:00", "noon", "0:30 AM"])
def test_bad_times_raise(bad: str) -> None:
    with pytest.raises(DateParseError):
        parse_time(bad)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("0 minutes", 0),
        ("30 minutes", 30),
        ("100 Mins", 100),
        ("2 minutes", 2),
        ("1 hour", 60),
        (45, 45),
        ("10", 10),
    ],
)
def test_durations(text: object, minutes: float) -> None:
    assert parse_duration_minutes(text) == minutes


def test_formats_for_requests() -> None:
    assert format_zoho_date(date(2022, 12, 31)) == "31-12-2022"
    assert format_rfc3339(datetime(2019, 12, 24, 21, tzinfo=UTC)) == "2019-12-24T21:00:00Z"
