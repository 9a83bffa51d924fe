"""When a session happens, and whether it is still something to do.

Zoho sends session dates and times as wall-clock readings in the LMS's own zone (`LMS_TIMEZONE`), without a
zone. Here they become aware datetimes, and a session that has ended is no longer a to-do: it was attended
(done) or missed. Pure functions of (the LMS's data, now); `now` is aware, in the LMS's zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.lms.zoho_models import Entity, ModuleProgress, Session, SessionEntity

MISSED_SESSION_DAYS = 30  # a missed session older than this is not brought up any more


def span(
    start_date: date | None, start_time: time | None, end_time: time | None, zone: tzinfo
) -> tuple[datetime, datetime] | None:
    """(start, end) as aware datetimes in `zone`; a session without a time lasts its whole day."""
    if start_date is None:
        return None
    if start_time is None:
        start = datetime.combine(start_date, time(0, 0), tzinfo=zone)
        return start, start + timedelta(days=1)
    start = datetime.combine(start_date, start_time, tzinfo=zone)
    if end_time is None or end_time <= start_time:
        return start, start
    return start, datetime.combine(start_date, end_time, tzinfo=zone)


def session_span(session: SessionEntity | Session, zone: tzinfo) -> tuple[datetime, datetime] | None:
    return span(session.start_date, session.start_time, session.end_time, zone)


def has_ended(session: SessionEntity | Session, now: datetime) -> bool:
    found = session_span(session, _zone(now))
    return found is not None and found[1] <= _aware(now)


def is_missed(entity: Entity, now: datetime) -> bool:
    """A mandatory session that has ended without the learner's attendance."""
    return (
        isinstance(entity, SessionEntity) and entity.is_mandatory and not entity.is_complete and has_ended(entity, now)
    )


def pending(progress: ModuleProgress, now: datetime) -> list[Entity]:
    """The mandatory items still to do: a session that has ended is not among them."""
    return [e for e in progress.pending_mandatory if not is_missed(e, now)]


def missed(progress: ModuleProgress, now: datetime) -> list[SessionEntity]:
    return [e for e in progress.entities if isinstance(e, SessionEntity) and is_missed(e, now)]


def recently_missed(progress: ModuleProgress, now: datetime) -> list[SessionEntity]:
    """Missed sessions still worth mentioning (ended within MISSED_SESSION_DAYS)."""
    since = _aware(now) - timedelta(days=MISSED_SESSION_DAYS)
    found = []
    for entity in missed(progress, now):
        when = session_span(entity, _zone(now))
        if when is not None and when[1] >= since:
            found.append(entity)
    return found


def next_session(sessions: Sequence[Session], now: datetime, *, skip: str | None = None) -> Session | None:
    """The module's next session that has not started yet (from the LMS's sessions list), if any."""
    upcoming = []
    for session in sessions:
        when = session_span(session, _zone(now))
        if when is not None and when[0] > _aware(now) and not session.is_completed and session.session_id != skip:
            upcoming.append((when[0], session))
    return min(upcoming, key=lambda pair: pair[0])[1] if upcoming else None


def _zone(now: datetime) -> tzinfo:
    return now.tzinfo or UTC  # naive means UTC, as in bot.lms.dates


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=UTC)
