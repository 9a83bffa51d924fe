"""`/lms plans`, `/lms sessions` and `/lms results`: lists with a summary, cut with "…and N more"."""

from __future__ import annotations

import csv
import io
import json
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
    FAILED,
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

RESULTS_PAGE = LIST_LINES
RESULTS_PREV_ACTION = "results_prev"
RESULTS_NEXT_ACTION = "results_next"
RESULTS_CSV_ACTION = "results_csv"
FAILED_STATUSES = frozenset({"failed"})


def status_words(status: str) -> str:
    return esc(status.replace("_", " ")) if status else "unknown"


def learner_ref(user_id: str, names: dict[str, str], people: dict[str, str]) -> str:
    """<@U…> where a Slack user is known, else the LMS's name; never the raw id."""
    if user_id in names:
        return f"<@{names[user_id]}>"
    if people.get(user_id):
        return esc(people[user_id])
    return "_unknown learner_"


def learner_name(user_id: str, slack_names: dict[str, str], people: dict[str, str]) -> str:
    """Plain text (CSV): the LMS's name, else the Slack user's name, else "unknown learner"."""
    return people.get(user_id) or slack_names.get(user_id) or "unknown learner"


def result_mark(result: ModuleResult) -> str:
    if result.completion_status in FAILED_STATUSES:
        return FAILED
    if result.is_done:
        return DONE
    return WARNING if result.is_overdue else PENDING


def result_line(result: ModuleResult, names: dict[str, str], people: dict[str, str] | None = None) -> str:
    """ "⚠️ *Course 2* — <@U1> · in progress · 50% · due 29 Jul 2021 · *overdue*"."""
    who = learner_ref(result.user_id, names, people or {})
    overdue = result.is_overdue and not result.is_done
    parts = [
        f"{result_mark(result)} *{esc(limits.clip(result.module_title or 'Untitled module', 120))}* — {who}",
        status_words(result.completion_status),
    ]
    parts.append("progress —" if result.progress is None else f"progress {number(round(result.progress, 1))}%")
    if result.due_date is not None:
        parts.append(f"due {day(result.due_date.date())}")
    if result.completion_date is not None and (result.is_done or result.completion_status in FAILED_STATUSES):
        parts.append(f"completed {day(result.completion_date.date())}")
    if overdue:
        parts.append("*overdue*")
    return " · ".join(parts)


def results_summary(results: Sequence[ModuleResult]) -> str:
    counts = Counter(r.completion_status or "unknown" for r in results)
    overdue = sum(1 for r in results if r.is_overdue and not r.is_done)
    done = sum(1 for r in results if r.is_done)
    parts = [plural(len(results), "result"), f"{number(done)} done"]
    parts += [
        f"{FAILED} {number(n)} failed" if s in FAILED_STATUSES else f"{number(n)} {status_words(s)}"
        for s, n in sorted(counts.items(), key=lambda kv: -kv[1])
        if s not in ("complete", "passed", "accepted")
    ]
    if overdue:
        parts.append(f"{WARNING} {number(overdue)} overdue")
    return " · ".join(parts)


def _result_order(result: ModuleResult) -> tuple[int, float]:
    overdue = result.is_overdue and not result.is_done
    due = result.due_date.timestamp() if result.due_date else float("inf")
    failed = result.completion_status in FAILED_STATUSES
    return (0 if overdue else 1 if failed else 2 if not result.is_done else 3, due)


def sorted_results(results: Sequence[ModuleResult]) -> list[ModuleResult]:
    """Overdue first, then failed, then the rest still open, then done (the order pages and the CSV share)."""
    return sorted(results, key=lambda r: (*_result_order(r), r.user_id, r.module_title))


def page_value(query: str, offset: int) -> str | None:
    """What a paging/export button carries: the filter words and where to start (None: too long for Slack)."""
    value = json.dumps({"q": query, "o": offset}, separators=(",", ":"))
    return value if len(value) <= limits.BUTTON_VALUE else None


def read_page_value(value: str) -> tuple[str, int]:
    try:
        data = json.loads(value)
        return str(data.get("q") or ""), max(0, int(data.get("o") or 0))
    except (ValueError, TypeError, AttributeError):
        return "", 0


def results_message(
    report: ResultsReport, *, title: str = "Module results", offset: int = 0, query: str = ""
) -> SlackMessage:
    """One page of 40: overdue first, then failed, open, done; names, not ids; buttons to page and export."""
    tail = _footer(report.freshness)
    whose = f" ({esc(report.scope)})" if report.scope else ""
    if not report.results:
        empty = f"No results match those filters{whose}."
        return kit.message("No results match.", [kit.section(empty), *tail])
    results = sorted_results(report.results)
    total = len(results)
    offset = min(max(0, offset), (total - 1) // RESULTS_PAGE * RESULTS_PAGE)
    page = results[offset : offset + RESULTS_PAGE]
    summary = results_summary(results)
    shown = f"Showing {number(offset + 1)}–{number(offset + len(page))} of {number(total)}{whose}"
    head: list[Block] = [kit.header(title), kit.section(summary), kit.context(shown)]
    lines = [result_line(r, report.names, report.people) for r in page]
    buttons = []
    if offset > 0 and (value := page_value(query, max(0, offset - RESULTS_PAGE))):
        buttons.append(kit.button("‹ Previous", RESULTS_PREV_ACTION, value=value))
    if offset + RESULTS_PAGE < total and (value := page_value(query, offset + RESULTS_PAGE)):
        following = min(RESULTS_PAGE, total - offset - RESULTS_PAGE)
        buttons.append(kit.button(f"Next {following} ›", RESULTS_NEXT_ACTION, value=value))
    if value := page_value(query, 0):
        buttons.append(kit.button(f"Export CSV ({number(total)})", RESULTS_CSV_ACTION, value=value))
    controls = [kit.actions(buttons, block_id="results_pages")] if buttons else []
    blocks = _assemble(head, [("results", lines, RESULTS_PAGE, "narrow it down with filters")], controls + tail)
    return kit.message(f"{title}: {summary}", blocks)


CSV_COLUMNS = (
    "learner",
    "slack_user",
    "module",
    "status",
    "progress",
    "due",
    "completed",
    "overdue",
    "course_id",
    "module_id",
    "ispring_user_id",
)


def results_csv(report: ResultsReport, slack_names: dict[str, str] | None = None) -> str:
    """The whole filtered list as CSV (same order as the pages), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in sorted_results(report.results):
        writer.writerow(
            [
                _cell(learner_name(r.user_id, slack_names or {}, report.people)),
                report.names.get(r.user_id, ""),
                _cell(r.module_title),
                r.completion_status,
                "" if r.progress is None else number(round(r.progress, 1)),
                r.due_date.date().isoformat() if r.due_date else "",
                r.completion_date.date().isoformat() if r.completion_date else "",
                "yes" if r.is_overdue and not r.is_done else "",
                r.course_id or "",
                r.module_id or "",
                r.user_id,
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula: LMS text is data, so it is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


# --- the CSV export's replies ------------------------------------------------------------------------------


def no_results_message() -> SlackMessage:
    return kit.message("No results match.", [kit.section("No results match those filters.")])


def csv_comment(title: str, rows: int, query: str) -> str:
    """The comment posted with the CSV file in the manager's DM."""
    return f"{title}: {rows} rows" + (f" for `{query}`" if query else "") + "."


def csv_needs_reinstall_message() -> SlackMessage:
    text = (
        ":warning: I can't upload files in this workspace yet: an admin needs to reinstall lmsbot so it gets "
        "Slack's `files:write` permission."
    )
    return kit.message(text, [kit.section(text)])


def csv_sent_message(rows: int) -> SlackMessage:
    done = f":page_facing_up: Sent the CSV ({rows} rows) to your DM with me."
    return kit.message(done, [kit.section(done)])
