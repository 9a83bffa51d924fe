"""Per-user reminder preferences (defaults when the user never changed anything) and per-module mutes."""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Row, delete, select

from storage.errors import NotFound
from storage.models import DEFAULT_SEND_TIME, DEFAULT_WEEKDAYS, ReminderMuteRow, ReminderPreferenceRow, TrackedModuleRow
from storage.repositories._common import Repository, rowcount, upsert

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True, slots=True)
class ReminderPreferences:
    team_id: str
    slack_user_id: str
    enabled: bool = True
    send_time: str = DEFAULT_SEND_TIME  # "HH:MM" in the user's time zone
    weekdays: str = DEFAULT_WEEKDAYS  # "mon,tue,..." in week order
    digest: bool = True
    quiet_start: str | None = None
    quiet_end: str | None = None
    snoozed_until: datetime | None = None
    timezone: str | None = None  # IANA name cached from the Slack profile
    updated_at: datetime | None = None  # None: never stored, these are the defaults

    @property
    def weekday_set(self) -> frozenset[str]:
        return frozenset(day for day in self.weekdays.split(",") if day)

    @property
    def stored(self) -> bool:
        return self.updated_at is not None


EDITABLE = frozenset(
    f.name for f in fields(ReminderPreferences) if f.name not in ("team_id", "slack_user_id", "updated_at")
)


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS = {
    "weekdays": WEEKDAYS[:5],
    "workdays": WEEKDAYS[:5],
    "weekends": WEEKDAYS[5:],
    "weekend": WEEKDAYS[5:],
    "daily": WEEKDAYS,
    "everyday": WEEKDAYS,
    "all": WEEKDAYS,
}
DAY_FORMS = "`mon-fri`, `mon,wed,fri`, `weekdays`, `weekends` or `daily`"


def _one_day(word: str) -> int | None:
    """ "mon", "Monday", "tues" → 0…6; None for anything else (never a guess from the first letters)."""
    if len(word) < 2:
        return None
    matches = [i for i, name in enumerate(_DAY_NAMES) if name.startswith(word)]
    return matches[0] if len(matches) == 1 else None


def parse_weekdays(text: str) -> str:
    """ "mon-fri", "fri-mon", "mon,wed,fri", "mon wed", "weekdays", "weekends", "daily" → "mon,tue,…" in week order.

    Anything else is a ValueError that names the valid forms.
    """
    days: set[str] = set()
    for part in re.split(r"[\s,;]+", re.sub(r"\s*-\s*", "-", text.strip().lower())):
        if not part:
            continue
        if part in _DAY_WORDS:
            days.update(_DAY_WORDS[part])
            continue
        first, dash, last = part.partition("-")
        start, end = _one_day(first), _one_day(last) if dash else None
        if start is None or (dash and end is None):
            raise ValueError(f"`{part}` is not a day or a range of days; write {DAY_FORMS}")
        if end is None:
            days.add(WEEKDAYS[start])
        else:
            span = (end - start) % 7 + 1  # wraps: fri-mon is Fri, Sat, Sun, Mon
            days.update(WEEKDAYS[(start + i) % 7] for i in range(span))
    if not days:
        raise ValueError(f"Which days? Write {DAY_FORMS}.")
    return ",".join(day for day in WEEKDAYS if day in days)


def normalize_weekdays(value: str | builtins.list[str] | tuple[str, ...] | frozenset[str] | set[str]) -> str:
    text = value if isinstance(value, str) else ",".join(value)
    return parse_weekdays(text) if text.strip(" ,") else ""


def _check_time(name: str, value: Any, *, optional: bool) -> str | None:
    if value is None and optional:
        return None
    text = str(value).strip() if value is not None else ""
    if len(text) == 4 and text[1] == ":":
        text = "0" + text  # 9:30 → 09:30
    if not _HHMM.match(text):
        raise ValueError(f"{name} must be a time like 09:00, not {value!r}")
    return text


def _validate(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - EDITABLE
    if unknown:
        raise TypeError(f"unknown preference(s): {', '.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name in ("enabled", "digest"):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
            clean[name] = value
        elif name == "send_time":
            clean[name] = _check_time(name, value, optional=False)
        elif name in ("quiet_start", "quiet_end"):
            clean[name] = _check_time(name, value, optional=True)
        elif name == "weekdays":
            clean[name] = normalize_weekdays(value)
        elif name == "snoozed_until":
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise ValueError("snoozed_until must be an aware datetime or None")
            clean[name] = value.astimezone(UTC) if value is not None else None
        elif name == "timezone":
            if value is not None:
                try:
                    ZoneInfo(value)
                except (ZoneInfoNotFoundError, ValueError):
                    raise ValueError(f"unknown time zone {value!r}") from None
            clean[name] = value
    return clean


class PreferenceRepository(Repository):
    async def get(self, team_id: str, slack_user_id: str) -> ReminderPreferences:
        async with self.db.transaction(write=False) as session:
            row = await session.get(ReminderPreferenceRow, (team_id, slack_user_id))
            return _record(row) if row else ReminderPreferences(team_id, slack_user_id)

    async def for_team(self, team_id: str) -> dict[str, ReminderPreferences]:
        """Stored preferences by Slack user id; users missing from it have the defaults."""
        prefs = ReminderPreferenceRow.__table__.c  # Core rows, not ORM objects: every sweep reads them all
        query = select(*prefs).where(prefs.team_id == team_id)
        async with self.db.transaction(write=False) as session:
            return {row.slack_user_id: _record(row) for row in await session.execute(query)}

    async def update(self, team_id: str, slack_user_id: str, **changes: Any) -> ReminderPreferences:
        """Change some preferences (validated); nothing is written when the values are already so."""
        clean = _validate(changes)
        async with self.db.transaction(locks=[f"prefs:{team_id}:{slack_user_id}"]) as session:
            row = await session.get(ReminderPreferenceRow, (team_id, slack_user_id))
            current = _record(row) if row else ReminderPreferences(team_id, slack_user_id)
            if all(getattr(current, name) == value for name, value in clean.items()):
                return current
            now = self.now()
            if row is None:
                values = {f.name: getattr(current, f.name) for f in fields(ReminderPreferences)}
                row = ReminderPreferenceRow(**{**values, **clean, "updated_at": now})
                session.add(row)
            else:
                for name, value in clean.items():
                    setattr(row, name, value)
                row.updated_at = now
            await session.flush()
            return _record(row)

    async def all_enabled(self, team_id: str | None = None) -> builtins.list[ReminderPreferences]:
        """Stored preferences with reminders on (users without a row are on too, with the defaults)."""
        query = select(ReminderPreferenceRow).where(ReminderPreferenceRow.enabled.is_(True))
        if team_id is not None:
            query = query.where(ReminderPreferenceRow.team_id == team_id)
        query = query.order_by(ReminderPreferenceRow.team_id, ReminderPreferenceRow.slack_user_id)
        async with self.db.transaction(write=False) as session:
            return [_record(row) for row in (await session.scalars(query)).all()]

    async def mute(self, team_id: str, slack_user_id: str, tracked_module_id: int) -> bool:
        """Stop reminders about one tracked module for this user. False if it was already muted."""
        async with self.db.transaction() as session:
            module = await session.get(TrackedModuleRow, tracked_module_id)
            if module is None or module.team_id != team_id:
                raise NotFound(f"tracked module #{tracked_module_id} does not exist in this workspace")
            statement = (
                upsert(self.db, ReminderMuteRow)
                .values(
                    team_id=team_id,
                    slack_user_id=slack_user_id,
                    tracked_module_id=tracked_module_id,
                    created_at=self.now(),
                )
                .on_conflict_do_nothing(index_elements=["team_id", "slack_user_id", "tracked_module_id"])
                .returning(ReminderMuteRow.id)
            )
            return (await session.execute(statement)).scalar_one_or_none() is not None

    async def unmute(self, team_id: str, slack_user_id: str, tracked_module_id: int) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(ReminderMuteRow).where(
                    ReminderMuteRow.team_id == team_id,
                    ReminderMuteRow.slack_user_id == slack_user_id,
                    ReminderMuteRow.tracked_module_id == tracked_module_id,
                )
            )
            return rowcount(result) > 0

    async def muted(self, team_id: str, slack_user_id: str) -> set[int]:
        query = select(ReminderMuteRow.tracked_module_id).where(
            ReminderMuteRow.team_id == team_id, ReminderMuteRow.slack_user_id == slack_user_id
        )
        async with self.db.transaction(write=False) as session:
            return set((await session.scalars(query)).all())


def _record(row: ReminderPreferenceRow | Row[Any]) -> ReminderPreferences:
    return ReminderPreferences(
        team_id=row.team_id,
        slack_user_id=row.slack_user_id,
        enabled=row.enabled,
        send_time=row.send_time,
        weekdays=row.weekdays,
        digest=row.digest,
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        snoozed_until=row.snoozed_until,
        timezone=row.timezone,
        updated_at=row.updated_at,
    )
