"""Sessions in reminder DMs: a digest's "Coming up", its missed sessions and its session reminders, and the
separate "Session tomorrow / soon" DM. Times are Slack date tokens, so each reader sees their own zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.reminders.types import MissedSession, SessionInfo, SessionLead, SessionReminder
from handlers.views import kit, limits
from handlers.views.formatting import WARNING, esc, session_when, tracked_title
from handlers.views.kit import SlackMessage
from handlers.views.limits import Block

CALENDAR = ":spiral_calendar_pad:"
MAX_SESSION_BLOCKS = 2
SETTINGS_HINT = "Change when and how you are reminded: `/lms remind status` or the bot's Home tab."


def reminder_line(session: SessionInfo, lead: SessionLead, now: datetime | None = None) -> str:
    """ "🗓 *Feedback lab* starts soon: <when> · Zoom · with Henry · Online · Feedback Fundamentals"."""
    what = "starts soon" if lead == "soon" else "is coming up"
    when = session_when(session.starts_at, session.ends_at, now=now)
    parts = [f"{CALENDAR} *{esc(session.name)}* {what}: {when}"]
    parts += [esc(p) for p in (session.room, session.trainer and f"with {session.trainer}", session.session_type) if p]
    if session.module_name:
        parts.append(esc(session.module_name))
    return " · ".join(parts)


def reminder_blocks(reminded: Sequence[tuple[SessionInfo, SessionLead]], now: datetime | None) -> list[Block]:
    lines = [reminder_line(s, lead, now) for s, lead in reminded]
    return limits.list_blocks(lines, noun="sessions", max_blocks=MAX_SESSION_BLOCKS, max_chars=2500) if lines else []


def with_reminders(text: str, reminded: Sequence[tuple[SessionInfo, SessionLead]], now: datetime | None) -> str:
    """The notification text, naming the sessions the digest reminds about ("… · Session tomorrow: Feedback lab")."""
    for session, lead in reminded:
        if lead == "soon":
            when = "soon"
        elif now is not None and session.starts_at.date() == now.astimezone(session.starts_at.tzinfo).date():
            when = "today"
        else:
            when = "tomorrow"
        text += f" · Session {when}: {session.name}"
    return limits.clip(text, limits.FALLBACK_TEXT)


def session_line(session: SessionInfo, now: datetime | None = None) -> str:
    """ "🗓 *Feedback lab* — <when> · Room One · with Henry · Classroom · Feedback Fundamentals"."""
    parts = [f"{CALENDAR} *{esc(session.name)}* — {session_when(session.starts_at, session.ends_at, now=now)}"]
    parts += [esc(p) for p in (session.room, session.trainer and f"with {session.trainer}", session.session_type) if p]
    if session.module_name:
        parts.append(esc(session.module_name))
    return " · ".join(parts)


def session_blocks(sessions: Sequence[SessionInfo], now: datetime | None) -> list[Block]:
    if not sessions:
        return []
    lines = [f"*{CALENDAR} Coming up*"] + [session_line(s, now) for s in sessions]
    return limits.list_blocks(lines, noun="sessions", max_blocks=MAX_SESSION_BLOCKS, max_chars=2500)


def missed_line(missed: MissedSession, now: datetime | None = None) -> str:
    """ "⚠️ *Sess* (Kick-off) — <when> · next one: *Sess* <when>" — or "ask your trainer" when there is none."""
    s = missed.session
    where = f" ({esc(s.module_name)})" if s.module_name else ""
    line = f"{WARNING} *{esc(s.name)}*{where} — {session_when(s.starts_at, s.ends_at, now=now)}"
    if missed.next is not None:
        nxt = missed.next
        return line + f" · next one: *{esc(nxt.name)}* {session_when(nxt.starts_at, nxt.ends_at, now=now)}"
    return line + " · no other session is planned: ask your trainer how to catch up"


def missed_blocks(missed: Sequence[MissedSession], now: datetime | None) -> list[Block]:
    if not missed:
        return []
    lines = [f"*{WARNING} Missed*"] + [missed_line(m, now) for m in missed]
    return limits.list_blocks(lines, noun="missed sessions", max_blocks=MAX_SESSION_BLOCKS, max_chars=2500)


def session_reminder_message(reminder: SessionReminder) -> SlackMessage:
    s = reminder.session
    when = session_when(s.starts_at)
    soon = reminder.lead == "soon"
    if reminder.as_trainer:
        intro = f"{CALENDAR} You are running *{esc(s.name)}* {'soon' if soon else 'tomorrow'}: {when}."
        text = f"You are running {s.name} {'soon' if soon else 'tomorrow'}"
    else:
        intro = f"{CALENDAR} *{esc(s.name)}* {'starts soon' if soon else 'is tomorrow'}: {when}."
        text = f"Session {'soon' if soon else 'tomorrow'}: {s.name}"
    facts = [f"*When*\n{session_when(s.starts_at, s.ends_at)}"]
    if s.room:
        facts.append(f"*Where*\n{esc(s.room)}")
    if s.trainer:
        facts.append(f"*Trainer*\n{esc(s.trainer)}")
    if s.session_type:
        facts.append(f"*Type*\n{esc(s.session_type)}")
    facts.append(f"*Module*\n{tracked_title(s.tracked, s.module_name)}")
    blocks: list[Block] = [kit.section(intro), kit.fields_section(facts), kit.context(SETTINGS_HINT)]
    return kit.message(text, blocks)
