"""Words, dates, emoji and numbers as the views show them. Pure text in, mrkdwn text out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from bot.lms.zoho_models import (
    ENTITY_TYPES,
    Assignment,
    EmbedLink,
    Entity,
    EntityType,
    LockType,
    Module,
    OfflineTest,
    OnlineTest,
    SessionEntity,
)
from bot.services import agenda
from bot.services.types import Freshness, Provider, TrackedModuleRef

ENTITY_EMOJI: dict[str, str] = {
    EntityType.ONLINE_TEST: ":computer:",
    EntityType.OFFLINE_TEST: ":pencil:",
    EntityType.ASSIGNMENT: ":page_facing_up:",
    EntityType.SESSION: ":spiral_calendar_pad:",
    EntityType.EMBED_LINK: ":link:",
}
UNKNOWN_ENTITY_EMOJI = ":grey_question:"
DONE = ":white_check_mark:"
PENDING = ":hourglass_flowing_sand:"
LOCKED = ":lock:"
WARNING = ":warning:"
FAILED = ":x:"
PROVIDER_NAMES: dict[Provider, str] = {Provider.ZOHO: "Zoho People", Provider.ISPRING: "iSpring Learn"}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def esc(text: str) -> str:
    """LMS text made safe for mrkdwn: Slack reads &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    inner = esc(text).replace("`", "'")  # a backtick would end the code span early
    return f"`{inner}`"


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def number(value: float) -> str:
    """1.0 -> "1", 9.09 -> "9.09": marks and minutes read as people write them."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def weekday_day(value: date) -> str:
    return f"{value:%a} {day(value)}"


def clock(value: time) -> str:
    return f"{value:%H:%M}"


def minutes(value: float | None) -> str:
    return "—" if value is None else f"{number(value)} min"


def zone_name(moment: datetime) -> str:
    """ "UTC", "EST", "CET": how a fallback names the zone a time is written in."""
    return moment.tzname() or "UTC"


def session_when(start: datetime, end: datetime | None = None, *, now: datetime | None = None) -> str:
    """A session's start (and end) as Slack date tokens, so each reader sees their own local time.

    `start`/`end` are aware, in the LMS's zone; the fallback (for clients that cannot show tokens) is written
    in that zone and names it: "Tue 1 Dec 2026 16:00 UTC", or "today at 16:00 UTC" when `now` is that day.
    """
    if now is not None and start.date() == now.astimezone(start.tzinfo).date():
        fallback = f"today at {start:%H:%M} {zone_name(start)}"
    else:
        fallback = f"{weekday_day(start.date())} {start:%H:%M} {zone_name(start)}"
    text = f"<!date^{int(start.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"
    if end is not None and end > start:
        text += f"–<!date^{int(end.timestamp())}^{{time}}|{end:%H:%M} {zone_name(end)}>"
    return text


def as_aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # naive means UTC, as in bot.lms.dates


def slack_time(moment: datetime, token: str = "{time}") -> str:
    """A <!date> token: Slack shows it in each reader's own time zone; the fallback is UTC."""
    aware = as_aware(moment)
    fallback = aware.astimezone(UTC).strftime("%H:%M UTC" if token == "{time}" else "%d %b %Y %H:%M UTC")
    return f"<!date^{int(aware.timestamp())}^{token}|{fallback}>"


def freshness_line(freshness: Freshness | None) -> str | None:
    if freshness is None:
        return None
    line = f"as of {slack_time(freshness.fetched_at)}"
    if freshness.stale:
        line += f" · {WARNING} cached copy — {esc(freshness.reason or 'the LMS did not answer')}"
    return line


def oldest(freshnesses: Sequence[Freshness | None]) -> Freshness | None:
    known = [f for f in freshnesses if f is not None]
    if not known:
        return None
    first = min(known, key=lambda f: as_aware(f.fetched_at))
    stale = [f for f in known if f.stale]
    if stale:
        reasons = sorted({f.reason for f in stale if f.reason})
        return Freshness(fetched_at=first.fetched_at, stale=True, reason="; ".join(reasons) or None)
    return first


def lock_reason(module: Module | None) -> str:
    """Why a module is locked, from its settings: lockType 1 has a date, 2 waits for the previous module."""
    if module is not None:
        if module.lock_type is LockType.UNTIL_DATE and module.lock_until is not None:
            return f"Locked until {day(module.lock_until)}"
        if module.lock_type is LockType.UNTIL_PREVIOUS_COMPLETED:
            return "Locked until the previous module is completed"
    return "Locked"


def lock_setting(lock_type: LockType, lock_until: date | None) -> str:
    """A module's lock *setting* (what the edit form saves), e.g. "Locked until 27 Dec 2021"."""
    if lock_type is LockType.UNTIL_DATE:
        return f"Locked until {day(lock_until)}" if lock_until else "Locked until a date (no date set)"
    if lock_type is LockType.UNTIL_PREVIOUS_COMPLETED:
        return "Locked until the previous module is completed"
    return "Unlocked"


def entity_emoji(entity_type: str) -> str:
    return ENTITY_EMOJI.get(entity_type, UNKNOWN_ENTITY_EMOJI)


def entity_label(entity_type: str) -> str:
    model = ENTITY_TYPES.get(entity_type)
    return model.label if model is not None else f"Item ({entity_type})"


def marks(got: float | None, out_of: float | None) -> str:
    return f"marks {'—' if got is None else number(got)}/{'—' if out_of is None else number(out_of)}"


def entity_details(entity: Entity, now: datetime | None = None) -> list[str]:
    """The facts a learner needs about one item, as mrkdwn (LMS text escaped): marks, attempts, status, session
    time. `now` (aware, in the LMS's zone) tells a session still to come from one that has ended."""
    if isinstance(entity, OnlineTest):
        details = [marks(entity.user_mark, entity.test_mark)]
        if entity.attempts_left is not None and entity.max_attempts is not None:
            details.append(f"{entity.attempts_left} of {entity.max_attempts} attempts left")
        else:
            details.append(f"{plural(entity.attempts_taken, 'attempt')} taken")
        if entity.status:
            details.append(esc(entity.status))
        return details
    if isinstance(entity, OfflineTest):
        return [marks(entity.user_mark, entity.test_mark), esc(entity.status or "not marked yet")]
    if isinstance(entity, Assignment):
        details = [marks(entity.user_mark, entity.assign_mark)]
        if entity.submission_status:
            details.append(esc(entity.submission_status))
        elif entity.submitted_on:
            details.append(f"submitted {esc(entity.submitted_on)}")
        else:
            details.append("not submitted")
        return details
    if isinstance(entity, SessionEntity):
        return session_details(entity, now)
    if isinstance(entity, EmbedLink):
        return [esc(entity.status or "not opened")]
    return []


def session_details(entity: SessionEntity, now: datetime | None) -> list[str]:
    """When (as date tokens), then attended, missed — or nothing more while it is still to come."""
    found = agenda.session_span(entity, now.tzinfo if now is not None and now.tzinfo else UTC)
    if found is None:
        return ["date not set", esc(entity.attendance or "no attendance yet")]
    start, end = found
    details = [session_when(start, end if entity.end_time else None, now=now)]
    if entity.is_complete:
        details.append(esc(entity.attendance or "attended"))
    elif now is not None and agenda.has_ended(entity, now):
        details.append("*missed*" + (f" ({esc(entity.attendance)})" if entity.attendance else ""))
    return details


def entity_line(entity: Entity, now: datetime | None = None) -> str:
    """ "⏳ 💻 *Test 1* (Online test, mandatory) · marks —/1 · 1 of 1 attempts left"; a missed session is ⚠️
    (an optional one too: a session that has ended is attended or missed, never still to do)."""
    missed = isinstance(entity, SessionEntity) and now is not None and agenda.has_ended(entity, now)
    state = DONE if entity.is_complete else WARNING if missed else PENDING
    kind = entity_label(entity.type) + (", mandatory" if entity.is_mandatory else "")
    parts = [f"{state} {entity_emoji(entity.type)} *{esc(entity.name or 'Untitled')}* ({esc(kind)})"]
    parts.extend(entity_details(entity, now))
    return " · ".join(parts)


def provider_name(provider: Provider) -> str:
    return PROVIDER_NAMES.get(provider, str(provider))


def tracked_title(tracked: TrackedModuleRef, name: str | None = None) -> str:
    """ "*Module One* · `onboarding`" — the LMS name with the alias people type."""
    title = f"*{esc(name)}*" if name else code(tracked.label)
    if name and tracked.alias and tracked.alias != name:
        title += f" · {code(tracked.alias)}"
    return title


def tracked_where(tracked: TrackedModuleRef) -> str:
    """ "Zoho People course `1` · batch `2` · module `3`"."""
    where = f"{provider_name(tracked.provider)} course {code(tracked.course_id)}"
    if tracked.batch_id:
        where += f" · batch {code(tracked.batch_id)}"
    return where + f" · module {code(tracked.module_id)}"


def bar(fraction: float, width: int = 10) -> str:
    """A text progress bar in a code span so it lines up: `▰▰▰▱▱▱▱▱▱▱`."""
    filled = 0 if not math.isfinite(fraction) else round(max(0.0, min(1.0, fraction)) * width)
    return f"`{'▰' * filled}{'▱' * (width - filled)}`"


def duration_words(seconds: float) -> str:
    if seconds < 60:
        return plural(max(1, math.ceil(seconds)), "second")
    return plural(math.ceil(seconds / 60), "min", "min")


def weekdays(days: Sequence[str]) -> str:
    """("mon", …, "fri") -> "Mon–Fri"; all seven -> "every day"; otherwise "Mon, Wed"."""
    ordered = [d for d in _WEEKDAYS if d in {x.lower()[:3] for x in days}]
    if not ordered:
        return "no days"
    if len(ordered) == len(_WEEKDAYS):
        return "every day"
    indexes = [_WEEKDAYS.index(d) for d in ordered]
    if len(ordered) > 2 and indexes == list(range(indexes[0], indexes[-1] + 1)):
        return f"{ordered[0].title()}–{ordered[-1].title()}"
    return ", ".join(d.title() for d in ordered)
