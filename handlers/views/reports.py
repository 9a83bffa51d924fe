"""`/lms plans`, `/lms sessions` and `/lms results`: lists with a summary, cut with "…and N more"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.lms.ispring_models import ModuleResult
from bot.lms.zoho_models import LearningPlanProgress, Session
from bot.services import agenda
from bot.services.types import Freshness, PlansReport, ResultsReport, SessionItem, SessionsReport
from handlers.views import kit, limits
from handlers.views.formatting import (
    DONE,
    PENDING,
    WARNING,
    code,
    day,
    esc,
    freshness_line,
    number,
    plural,
    session_when,
)
from handlers.views.kit import SlackMessage
from handlers.views.limits import Block

LIST_LINES = 40  # more than this is not read in a chat message; the "…and N more" line says what was left out


def _footer(freshness: Freshness | None, errors: Sequence[str] = ()) -> list[Block]:
    notes = [f"{WARNING} {esc(e)}" for e in errors]
    fresh = freshness_line(freshness)
    texts = [*notes, *([fresh] if fresh else [])]
    if not texts:
        return []
    return [kit.context("\n".join(texts))]


def _assemble(
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
    mark = DONE if s.is_completed else ":spiral_calendar_pad:"
    first = f"{mark} *{esc(s.name or 'Session')}* · {code(item.tracked.label)}"
    details = [session_time(s, now)]
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
    tail = _footer(report.freshness, report.errors)
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
    tail = _footer(report.freshness)
    if not report.plans:
        return kit.message("You are in no learning plans.", [kit.section("You are in no learning plans yet."), *tail])
    plans = sorted(report.plans, key=_plan_order)
    done = sum(1 for p in plans if p.user.completed)
    summary = f"{plural(len(plans), 'learning plan')} · {done} completed"
    head: list[Block] = [kit.header("Learning plans"), kit.section(summary)]
    blocks = _assemble(head, [("plans", [plan_line(p) for p in plans], LIST_LINES, None)], tail)
    return kit.message(f"Learning plans: {summary}", blocks)


# --- iSpring results ---------------------------------------------------------------------------------------------


def status_words(status: str) -> str:
    return esc(status.replace("_", " ")) if status else "unknown"


def result_line(result: ModuleResult, names: dict[str, str]) -> str:
    """ "⚠️ *Course 2* — <@U1> · in progress · 50% · due 29 Jul 2021 · *overdue*"."""
    who = f"<@{names[result.user_id]}>" if result.user_id in names else code(result.user_id)
    overdue = result.is_overdue and not result.is_done
    mark = WARNING if overdue else (DONE if result.is_done else PENDING)
    parts = [
        f"{mark} *{esc(result.module_title or 'Untitled module')}* — {who}",
        status_words(result.completion_status),
    ]
    parts.append("progress —" if result.progress is None else f"progress {number(round(result.progress, 1))}%")
    if result.due_date is not None:
        parts.append(f"due {day(result.due_date.date())}")
    if result.completion_date is not None and result.is_done:
        parts.append(f"completed {day(result.completion_date.date())}")
    if overdue:
        parts.append("*overdue*")
    return " · ".join(parts)


def results_summary(results: Sequence[ModuleResult]) -> str:
    counts = Counter(r.completion_status or "unknown" for r in results)
    overdue = sum(1 for r in results if r.is_overdue and not r.is_done)
    done = sum(1 for r in results if r.is_done)
    parts = [plural(len(results), "result"), f"{done} done"]
    parts += [
        f"{n} {status_words(s)}"
        for s, n in sorted(counts.items(), key=lambda kv: -kv[1])
        if s not in ("complete", "passed", "accepted")
    ]
    if overdue:
        parts.append(f"{WARNING} {overdue} overdue")
    return " · ".join(parts)


def _result_order(result: ModuleResult) -> tuple[int, float]:
    overdue = result.is_overdue and not result.is_done
    due = result.due_date.timestamp() if result.due_date else float("inf")
    return (0 if overdue else 1 if not result.is_done else 2, due)


def results_message(report: ResultsReport, *, title: str = "Module results") -> SlackMessage:
    """Overdue first, then the rest still open, then done; learners shown as <@U…> where linked."""
    tail = _footer(report.freshness)
    if not report.results:
        return kit.message("No results match.", [kit.section("No results match those filters."), *tail])
    results = sorted(report.results, key=_result_order)
    summary = results_summary(results)
    head: list[Block] = [kit.header(title), kit.section(summary)]
    lines = [result_line(r, report.names) for r in results]
    blocks = _assemble(head, [("results", lines, LIST_LINES, "narrow it down with filters")], tail)
    return kit.message(f"{title}: {summary}", blocks)
