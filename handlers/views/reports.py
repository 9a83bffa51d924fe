"""`/lms plans` and `/lms sessions`: lists with a summary, cut with "…and N more" (`/lms results`: results.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.lms.zoho_models import LearningPlanProgress, Session
from bot.services import agenda
from bot.services.types import Freshness, PlansReport, SessionItem, SessionsReport
from handlers.views import kit, limits
from handlers.views.formatting import (
    DONE,
    PENDING,
    WARNING,
    code,
    day,
    esc,
    freshness_line,
    plural,
    session_when,
)
from handlers.views.kit import SlackMessage
from handlers.views.limits import Block

LIST_LINES = 40  # more than this is not read in a chat message; the "…and N more" line says what was left out


def list_footer(freshness: Freshness | None, errors: Sequence[str] = ()) -> list[Block]:
    notes = [f"{WARNING} {esc(e)}" for e in errors]
    fresh = freshness_line(freshness)
    texts = [*notes, *([fresh] if fresh else [])]
    if not texts:
        return []
    return [kit.context("\n".join(texts))]


def assemble_lists(
    head: list[Block], sections: Sequence[tuple[str, list[str], int, str | None]], tail: list[Block]
) -> list[Block]:
    """Head, then titled lists sharing what is left of the block and text budget, then the tail."""
    blocks = list(head)
    blocks_left = limits.MESSAGE_BLOCKS - len(head) - len(tail)
    chars_left = limits.MESSAGE_TEXT_BUDGET - limits.text_size(head + tail)
    for index, (noun, lines, max_lines, hint) in enumerate(sections):
        share_blocks = blocks_left // (len(sections) - index)
        share_chars = chars_left // (len(sections) - index)
        part = limits.list_blocks(
            lines, noun=noun, max_blocks=share_blocks, max_chars=share_chars, max_lines=max_lines, hint=hint
        )
        blocks.extend(part)
        blocks_left -= len(part)
        chars_left -= limits.text_size(part)
    return blocks + tail


# --- sessions ------------------------------------------------------------------------------------------------


def session_time(session: Session, now: datetime) -> str:
    """When, as Slack date tokens (each reader's own time); `now` is aware in the LMS's zone, the sessions' own."""
    found = agenda.session_span(session, now.tzinfo or UTC)
    if found is None:
        return "date not set"
    return session_when(found[0], found[1] if session.end_time else None, now=now)


def session_line(item: SessionItem, now: datetime) -> str:
    """ "*Session One* · `M1` / 🗓 <Tue 11 Jan 2022 11:00 UTC>–<13:00 UTC> · 📍 Room One · 👤 Henry · Classroom"."""
    s = item.session
    mark, details = ":spiral_calendar_pad:", [session_time(s, now)]
    # Ended: attended or missed, as the asker's progress says (Zoho's own "completed" only means it took place).
    if item.attendance is not None and agenda.has_ended(s, now):
        said = item.attendance.attendance
        if item.attendance.is_complete:
            mark = DONE
            details.append(esc(said or "attended"))
        else:
            mark = WARNING
            details.append("*missed*" + (f" ({esc(said)})" if said else ""))
    first = f"{mark} *{esc(s.name or 'Session')}* · {code(item.tracked.label)}"
    if s.room:
        details.append(f":round_pushpin: {esc(s.room)}")
    if s.trainer:
        details.append(f":bust_in_silhouette: {esc(s.trainer)}")
    if s.session_type:
        details.append(esc(s.session_type))
    if s.is_locked:
        details.append(":lock: locked" + (f" until {day(s.lock_until)}" if s.lock_until else ""))
    return first + "\n" + " · ".join(details)


def split_sessions(items: Sequence[SessionItem], now: datetime) -> tuple[list[SessionItem], list[SessionItem]]:
    """(upcoming soonest first, past most recent first). `now` is aware, in the LMS's zone (sessions carry its
    wall time); one that has ended is past, one under way is still upcoming; one without a date goes last."""
    wall = now.replace(tzinfo=None)
    upcoming = [i for i in items if not agenda.has_ended(i.session, now)]
    past = [i for i in items if agenda.has_ended(i.session, now)]
    upcoming.sort(key=lambda i: (i.session.starts_at is None, i.session.starts_at or wall))
    past.sort(key=lambda i: i.session.starts_at or wall, reverse=True)
    return upcoming, past


def sessions_message(report: SessionsReport, *, now: datetime) -> SlackMessage:
    """Upcoming sessions soonest first, then the last few past ones; an empty state when there are none."""
    upcoming, past = split_sessions(report.sessions, now)
    tail = list_footer(report.freshness, report.errors)
    if not report.sessions:
        empty = [kit.section("No sessions are scheduled in the tracked modules."), *tail]
        return kit.message("No sessions scheduled.", empty)
    blocks: list[Block] = [kit.header("Sessions"), kit.section(f"*Upcoming* ({len(upcoming)})")]
    past_reserve = (3, 1500) if past else (0, 0)  # "Past" title, a section of lines, a "more" line
    blocks += limits.list_blocks(
        [session_line(i, now) for i in upcoming] or ["None coming up."],
        noun="upcoming sessions",
        max_blocks=limits.MESSAGE_BLOCKS - len(blocks) - len(tail) - past_reserve[0],
        max_chars=limits.MESSAGE_TEXT_BUDGET - limits.text_size(blocks + tail) - past_reserve[1],
        max_lines=LIST_LINES,
        total=len(upcoming) or 1,
    )
    if past:
        blocks.append(kit.section(f"*Past* ({len(past)})"))
        blocks += limits.list_blocks(
            [session_line(i, now) for i in past],
            noun="past sessions",
            max_blocks=limits.MESSAGE_BLOCKS - len(blocks) - len(tail),
            max_chars=limits.MESSAGE_TEXT_BUDGET - limits.text_size(blocks + tail),
            max_lines=5,
        )
    nxt = upcoming[0].session if upcoming else None
    text = plural(len(upcoming), "upcoming session") + (
        f"; next: {esc(nxt.name)} on {session_time(nxt, now)}" if nxt else ""
    )
    return kit.message(text, blocks + tail)


# --- learning plans --------------------------------------------------------------------------------------------


def plan_line(plan: LearningPlanProgress) -> str:
    if plan.user.completed:
        state = f"{DONE} completed"
    elif plan.user.joined:
        state = f"{PENDING} in progress"
    else:
        state = ":new: not joined yet"
    parts = [f"*{esc(plan.name or 'Untitled plan')}* — {state}"]
    info = plan.info
    if info.active_course_count is not None:
        courses = plural(info.active_course_count, "course")
        if info.mandatory_course_count:
            courses += f" ({info.mandatory_course_count} mandatory)"
        parts.append(courses)
    if info.duration:
        parts.append(f"duration {plan_duration(info.duration, info.duration_type)}")
    if plan.user.enrolled_time is not None:
        parts.append(f"enrolled {day(plan.user.enrolled_time.date())}")
    if info.disabled:
        parts.append("_disabled_")
    return " · ".join(parts)


_DURATION_UNITS = {"0": ("min", "min"), "1": ("hour", "hours"), "2": ("day", "days")}


def plan_duration(amount: int, unit: str | None) -> str:
    """ "60 min": Zoho's durationType (0 minutes, 1 hours, 2 days, as a course's durationUnit); minutes if unsaid."""
    word, words = _DURATION_UNITS.get((unit or "0").strip(), _DURATION_UNITS["0"])
    return plural(amount, word, words)


def _plan_order(plan: LearningPlanProgress) -> int:
    return 2 if plan.user.completed else (0 if plan.user.joined else 1)


def plans_message(report: PlansReport) -> SlackMessage:
    tail = list_footer(report.freshness)
    if not report.plans:
        return kit.message("You are in no learning plans.", [kit.section("You are in no learning plans yet."), *tail])
    plans = sorted(report.plans, key=_plan_order)
    done = sum(1 for p in plans if p.user.completed)
    summary = f"{plural(len(plans), 'learning plan')} · {done} completed"
    head: list[Block] = [kit.header("Learning plans"), kit.section(summary)]
    blocks = assemble_lists(head, [("plans", [plan_line(p) for p in plans], LIST_LINES, None)], tail)
    return kit.message(f"Learning plans: {summary}", blocks)
