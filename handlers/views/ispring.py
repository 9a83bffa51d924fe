"""A learner's own iSpring modules, for `/lms progress` and the Home tab: overdue first, then due, then the rest;
done ones are counted, not listed (they need nothing from the learner)."""

from __future__ import annotations

from datetime import datetime

from bot.lms.ispring_models import CompletionStatus, ModuleResult
from bot.services.types import IspringProgress
from handlers.views import kit, limits
from handlers.views.formatting import DONE, PENDING, WARNING, esc, number, plural, slack_time
from handlers.views.limits import Block
from handlers.views.results import status_words

ISPRING_LINES = 15
FAILED = ":x:"
OVERDUE = ":exclamation:"


def is_overdue(result: ModuleResult, now: datetime | None) -> bool:
    if result.is_done:
        return False
    due_passed = result.due_date is not None and now is not None and result.due_date < now
    return result.is_overdue or due_passed


def is_failed(result: ModuleResult) -> bool:
    return result.completion_status in (CompletionStatus.FAILED, CompletionStatus.DECLINED)


def open_results(report: IspringProgress) -> list[ModuleResult]:
    """What still needs the learner: overdue first, then by due date (undated last)."""
    todo = [r for r in report.results if not r.is_done]
    return sorted(
        todo,
        key=lambda r: (
            0 if is_overdue(r, report.now) else 1,
            r.due_date.timestamp() if r.due_date else float("inf"),
            r.module_title,
        ),
    )


def module_line(result: ModuleResult, now: datetime | None) -> str:
    """ "❗ *Code of Conduct* · in progress · 40% · overdue, was due <date>"."""
    overdue = is_overdue(result, now)
    mark = OVERDUE if overdue else FAILED if is_failed(result) else PENDING
    parts = [f"{mark} *{esc(result.module_title or 'Untitled module')}*", status_words(result.completion_status)]
    if result.progress is not None and not is_failed(result):
        parts.append(f"{number(round(result.progress, 1))}%")
    if result.due_date is not None:
        when = slack_time(result.due_date, "{date_short_pretty}")
        parts.append(f"*overdue*, was due {when}" if overdue else f"due {when}")
    elif overdue:
        parts.append("*overdue*")
    return " · ".join(parts)


def ispring_summary(report: IspringProgress) -> str:
    if report.error is not None:
        return "iSpring could not be read"
    todo = open_results(report)
    overdue = sum(1 for r in todo if is_overdue(r, report.now))
    done = len(report.results) - len(todo)
    if not report.results:
        return "No iSpring modules assigned"
    parts = [f"{plural(len(todo), 'iSpring module')} to do" if todo else "Every iSpring module done"]
    if overdue:
        parts.append(f"{overdue} overdue")
    if done and todo:
        parts.append(f"{done} done")
    return " · ".join(parts)


def ispring_blocks(report: IspringProgress, *, summary: bool = True, max_lines: int = ISPRING_LINES) -> list[Block]:
    """A titled section: the open modules, then how many are done; an iSpring failure in plain words.
    `summary=False` when the headline above already is the iSpring summary (an iSpring-only learner)."""
    title = f"*iSpring Learn* — {ispring_summary(report)}" if summary else "*iSpring Learn*"
    blocks: list[Block] = [kit.section(title)]
    if report.error is not None:
        blocks.append(kit.context(f"{WARNING} {esc(report.error)}"))
        return blocks
    lines = [module_line(r, report.now) for r in open_results(report)]
    if lines:
        blocks += limits.list_blocks(
            lines,
            noun="iSpring modules",
            max_blocks=3,
            max_chars=limits.SECTION_TEXT * 2,
            max_lines=max_lines,
            hint="`/lms progress &lt;module&gt;` shows one",
        )
    done = len(report.results) - len(lines)
    if done:
        blocks.append(kit.context(f"{DONE} {plural(done, 'module')} done in iSpring."))
    elif not report.results:
        blocks.append(kit.context("iSpring lists no modules for you yet."))
    return blocks
