"""`/lms results`: iSpring module results for a manager's team, 40 a page with Previous/Next, and the CSV export."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence

from bot.lms.ispring_models import ModuleResult
from bot.services.types import ResultsReport
from handlers.views import kit, limits
from handlers.views.formatting import DONE, FAILED, PENDING, WARNING, day, esc, number, plural
from handlers.views.kit import SlackMessage
from handlers.views.limits import Block
from handlers.views.reports import LIST_LINES, assemble_lists, list_footer

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
    tail = list_footer(report.freshness)
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
    blocks = assemble_lists(head, [("results", lines, RESULTS_PAGE, "narrow it down with filters")], controls + tail)
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
