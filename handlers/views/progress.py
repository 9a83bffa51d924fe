"""`/lms progress`: per module, every item with its state, why a module is locked, and how fresh the data is."""

from __future__ import annotations

from collections.abc import Sequence

from bot.lms.zoho_models import Entity, SessionEntity
from bot.services import agenda
from bot.services.types import ModuleStatus, ProgressPage
from handlers.views import kit, limits
from handlers.views.formatting import (
    LOCKED,
    WARNING,
    entity_line,
    esc,
    freshness_line,
    lock_reason,
    oldest,
    plural,
    tracked_title,
)
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
    # The learner's own progress says whether it is locked for them; module settings are the fallback.
    if status.progress is not None:
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


def _module_blocks(status: ModuleStatus, *, can_edit: bool, max_chars: int) -> list[Block]:
    title = tracked_title(status.tracked, module_name(status))
    edit = kit.button("Edit module", EDIT_MODULE_ACTION, value=str(status.tracked.id)) if can_edit else None
    pending = pending_count(status)
    if pending:
        title += f"\n{plural(pending, 'mandatory item')} to do"
    blocks: list[Block] = [kit.section(title, accessory=edit)]
    notes: list[str] = []
    if status.error:
        notes.append(f"{WARNING} {esc(status.error)}")
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
    elif status.progress is None and not status.error and not is_locked(status):
        notes.append("No progress from the LMS yet.")
    if status.freshness is not None and status.freshness.stale:
        notes.append(f"{WARNING} cached copy")  # the reason is in the freshness line at the bottom
    if notes:
        blocks.append(kit.context(*notes))
    return blocks


def progress_summary(statuses: Sequence[ModuleStatus]) -> str:
    pending = sum(pending_count(s) for s in statuses)
    modules = sum(1 for s in statuses if pending_count(s))
    locked = sum(1 for s in statuses if is_locked(s))
    failed = sum(1 for s in statuses if s.error)
    parts = [f"{plural(pending, 'mandatory item')} to do in {plural(modules, 'module')}" if pending else "Nothing due"]
    if locked:
        parts.append(f"{plural(locked, 'module')} locked")
    if failed:
        parts.append(f"{plural(failed, 'module')} could not be loaded")
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
    statuses: Sequence[ModuleStatus], *, can_edit: bool = False, page: ProgressPage | None = None
) -> SlackMessage:
    """One group of blocks per module; "Edit module" buttons (value = tracked id) only when `can_edit`.
    With `page` (some of many tracked modules), which ones these are and a button for the next ones."""
    if not statuses:
        blocks = [
            kit.section("No modules are tracked yet, so there is no progress to show."),
            kit.context("An admin can add one with `/lms track`."),
        ]
        return kit.message("No tracked modules yet.", blocks)
    summary = progress_summary(statuses)
    head: list[Block] = [kit.header("Your LMS progress"), kit.section(f"*{summary}*")]
    if page is not None and (page.start > 0 or page.next_start is not None):
        head.append(kit.context(f"Modules {page.start + 1}–{page.end} of {page.total} tracked."))
    fresh = freshness_line(oldest([s.freshness for s in statuses]))
    tail: list[Block] = [kit.context(fresh)] if fresh else []
    more = _more_block(page) if page is not None else None
    if more is not None:
        tail.append(more)
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
