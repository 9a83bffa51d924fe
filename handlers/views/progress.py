"""`/lms progress`: per module, every item with its state, why a module is locked, and how fresh the data is."""

from __future__ import annotations

from collections.abc import Sequence

from bot.lms.zoho_models import Entity, SessionEntity
from bot.services import agenda
from bot.services.types import IspringProgress, ModuleStatus, ProgressPage
from handlers.views import kit, limits
from handlers.views.formatting import (
    LOCKED,
    WARNING,
    as_aware,
    entity_line,
    esc,
    freshness_line,
    lock_reason,
    oldest,
    plural,
    slack_time,
    tracked_title,
)
from handlers.views.ispring import ispring_blocks, ispring_summary
from handlers.views.kit import SlackMessage
from handlers.views.limits import Block

EDIT_MODULE_ACTION = "module_edit_open"  # value: the tracked module's id
PROGRESS_MORE_ACTION = "progress_more"  # value: the position of the first module of the next page
PROGRESS_MORE_BLOCK = "progress_more"


def module_name(status: ModuleStatus) -> str | None:
    if status.progress is not None and status.progress.module_name:
        return status.progress.module_name
    if status.module is not None and status.module.name:
        return status.module.name
    return None


def is_locked(status: ModuleStatus) -> bool:
    # The learner's own progress says whether it is locked for them; module settings are the fallback. A module
    # the learner has completed is done, not locked (Zoho still reports a date lock set after they finished).
    if status.progress is not None:
        mandatory = [e for e in status.progress.entities if e.is_mandatory]
        if mandatory and not status.progress.pending_mandatory:
            return False
        return status.progress.is_locked
    return status.module is not None and status.module.is_locked


def pending_items(status: ModuleStatus) -> list[Entity]:
    """The mandatory items still to do; a session that has ended is not one (it was attended or missed)."""
    if status.progress is None or is_locked(status):
        return []
    if status.now is None:
        return status.progress.pending_mandatory
    return agenda.pending(status.progress, status.now)


def missed_items(status: ModuleStatus) -> list[SessionEntity]:
    if status.progress is None or status.now is None:
        return []
    return agenda.missed(status.progress, status.now)


def missed_note(status: ModuleStatus) -> str | None:
    missed = missed_items(status)
    if not missed:
        return None
    names = ", ".join(f"*{esc(m.name or 'Session')}*" for m in missed)
    return (
        f"{WARNING} Missed: {names} — `/lms sessions {esc(status.tracked.label)}` lists the next ones; "
        "if there is none, ask your trainer how to catch up."
    )


def pending_count(status: ModuleStatus) -> int:
    return len(pending_items(status))


NOT_ENROLLED = "You are not enrolled in this module (or in its batch)."


def module_problem(status: ModuleStatus) -> str | None:
    """Why a module shows no progress for this learner, in words (None: nothing wrong)."""
    return NOT_ENROLLED if status.not_enrolled else (status.error or None)


def _module_blocks(status: ModuleStatus, *, can_edit: bool, max_chars: int) -> list[Block]:
    title = tracked_title(status.tracked, module_name(status))
    edit = kit.button("Edit module", EDIT_MODULE_ACTION, value=str(status.tracked.id)) if can_edit else None
    pending = pending_count(status)
    if pending:
        title += f"\n{plural(pending, 'mandatory item')} to do"
    blocks: list[Block] = [kit.section(title, accessory=edit)]
    notes: list[str] = []
    if (problem := module_problem(status)) is not None:
        notes.append(f"{WARNING} {esc(problem)}")
    if is_locked(status):
        notes.append(f"{LOCKED} {lock_reason(status.module)}")
    if (missed := missed_note(status)) is not None:
        notes.append(missed)
    if status.progress is not None and status.progress.entities:
        lines = [entity_line(e, status.now) for e in status.progress.entities]
        blocks.extend(limits.list_blocks(lines, noun="items", max_blocks=2, max_chars=max_chars))
        if status.progress.has_more_records:
            notes.append("The LMS has more items than it sent; open the module in the LMS to see them all.")
    elif status.progress is not None and not is_locked(status):
        notes.append("No items in this module yet.")
    elif status.progress is None and module_problem(status) is None and not is_locked(status):
        notes.append("No progress from the LMS yet.")
    if status.freshness is not None and status.freshness.stale:
        notes.append(f"{WARNING} cached copy")  # the reason is in the freshness line at the bottom
    if notes:
        blocks.append(kit.context(*notes))
    return blocks


def unchecked_line(statuses: Sequence[ModuleStatus]) -> str | None:
    """ "couldn't check 2 modules — showing what we had at 09:12": modules the LMS did not answer for just now
    (a cached copy shown, or nothing at all), so an empty list is never taken for "nothing due". A module the
    LMS says the learner is not in was checked: it is not counted."""
    failed = [s for s in statuses if s.error and not s.not_enrolled]
    stale = [s for s in statuses if module_problem(s) is None and s.freshness is not None and s.freshness.stale]
    if not failed and not stale:
        return None
    line = f"couldn't check {plural(len(failed) + len(stale), 'module')}"
    if stale:
        had = min(as_aware(s.freshness.fetched_at) for s in stale if s.freshness is not None)
        line += f" — showing what we had at {slack_time(had)}"
    elif failed:
        line += " — the LMS did not answer"
    return line


def progress_summary(statuses: Sequence[ModuleStatus]) -> str:
    pending = sum(pending_count(s) for s in statuses)
    modules = sum(1 for s in statuses if pending_count(s))
    locked = sum(1 for s in statuses if is_locked(s))
    unchecked = unchecked_line(statuses)
    if pending:
        first = f"{plural(pending, 'mandatory item')} to do in {plural(modules, 'module')}"
    else:
        first = "Nothing due in the modules we could check" if unchecked else "Nothing due"
    parts = [first]
    if locked:
        parts.append(f"{plural(locked, 'module')} locked")
    if unchecked:
        parts.append(unchecked)
    return " · ".join(parts)


def _more_block(page: ProgressPage) -> Block | None:
    """A button for the next page of modules (a reply reads a capped number of them)."""
    if page.next_start is None:
        return None
    upto = min(page.total, page.next_start + len(page.statuses))
    label = f"Show modules {page.next_start + 1}–{upto} of {page.total}"
    return kit.actions(
        [kit.button(label, PROGRESS_MORE_ACTION, value=str(page.next_start))], block_id=PROGRESS_MORE_BLOCK
    )


def progress_message(
    statuses: Sequence[ModuleStatus],
    *,
    can_edit: bool = False,
    ispring: IspringProgress | None = None,
    page: ProgressPage | None = None,
) -> SlackMessage:
    """One group of blocks per module; "Edit module" buttons (value = tracked id) only when `can_edit`.

    `ispring`: the learner's own iSpring modules, shown after the Zoho ones (alone for an iSpring-only learner).
    With `page` (some of many tracked modules), which ones these are and a button for the next ones."""
    if not statuses and ispring is None:
        blocks = [
            kit.section("No modules are tracked yet, so there is no progress to show."),
            kit.context("An admin can add one with `/lms track`."),
        ]
        return kit.message("No tracked modules yet.", blocks)
    extra: list[Block] = ispring_blocks(ispring, summary=bool(statuses)) if ispring is not None else []
    summaries = [progress_summary(statuses)] if statuses else []
    if ispring is not None:
        summaries.append(ispring_summary(ispring))
    summary = " · ".join(summaries)
    head: list[Block] = [kit.header("Your LMS progress"), kit.section(f"*{summary}*")]
    if page is not None and (page.start > 0 or page.next_start is not None):
        head.append(kit.context(f"Modules {page.start + 1}–{page.end} of {page.total} tracked."))
    fresh = freshness_line(oldest([s.freshness for s in statuses] + [ispring.freshness if ispring else None]))
    tail: list[Block] = [*extra, kit.context(fresh)] if fresh else extra
    more = _more_block(page) if page is not None else None
    if more is not None:
        tail.append(more)
    if not statuses:
        return kit.message(f"LMS progress: {summary}", [*head, *tail])
    budget_chars = limits.MESSAGE_TEXT_BUDGET - limits.text_size(head + tail)
    per_module = max(600, min(limits.SECTION_TEXT, budget_chars // len(statuses)))
    groups = [_module_blocks(s, can_edit=can_edit, max_chars=per_module) for s in statuses]
    body = limits.fit_groups(
        groups,
        noun="modules",
        max_blocks=limits.MESSAGE_BLOCKS - len(head) - len(tail),
        max_chars=budget_chars,
        hint="ask for one with `/lms progress &lt;module&gt;`",
    )
    return kit.message(f"LMS progress: {summary}", [*head, *body, *tail])
