"""A digest's entries as the LMS's answers make them, with no call of their own (bot/reminders/collect.py decides
which answers to read, and when): a module's pending items and its lock, the iSpring modules due, a session's
facts; their keys in the sent log, and the addresses a Slack button may take."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from bot.lms.ispring_models import ModuleResult
from bot.lms.zoho_models import Entity, LockType, Module, ModuleProgress, Session, SessionEntity
from bot.reminders.links import expand
from bot.reminders.settings import ReminderConfig
from bot.reminders.types import DigestEntry, EntryKind, SessionInfo
from bot.services import agenda
from bot.services.types import TrackedModuleRef

URL_LIMIT = 3000  # Slack's longest button URL


def task_entries(
    tracked: TrackedModuleRef,
    name: str | None,
    progress: ModuleProgress,
    now: datetime,
    lms_zone: tzinfo,
    item_url: str | None,
) -> list[DigestEntry]:
    """The mandatory items still to do (a session that has ended is not one: it is told apart as missed).
    `item_url`: REMINDER_ZOHO_ITEM_URL, the items' address (Zoho's answers carry none)."""
    return [
        DigestEntry(
            key=task_key(tracked, entity.entity_id),
            kind=EntryKind.TASK,
            title=entity.name or entity.type,
            tracked=tracked,
            module_name=name,
            entity_type=entity.type,
            entity=entity.model_dump(mode="json", by_alias=True),
            url=_zoho_link(item_url, tracked, entity),
        )
        for entity in agenda.pending(progress, now.astimezone(lms_zone))
    ]


def locked_entry(
    tracked: TrackedModuleRef,
    name: str | None,
    settings: Module | None,
    before: TrackedModuleRef | str | None,
    prior: ModuleProgress | None,
) -> DigestEntry:
    """A module the learner cannot start yet: until a date, or until `before` (the module ahead of it, tracked or
    named; `prior`: the learner's progress in it, when read) is done."""
    lock_type = settings.lock_type if settings is not None else None
    after: str | None = None
    todo: tuple[str, ...] = ()
    if lock_type is LockType.UNTIL_PREVIOUS_COMPLETED and before is not None:
        if isinstance(before, TrackedModuleRef):
            after = (prior.module_name if prior is not None else None) or before.label
            todo = tuple(e.name for e in prior.pending_mandatory) if prior is not None else ()
        else:
            after = before
    return DigestEntry(
        key=lock_key(tracked),
        kind=EntryKind.LOCKED,
        title=name or tracked.label,
        tracked=tracked,
        module_name=name,
        lock_type=int(lock_type) if lock_type is not None else None,
        lock_until=settings.lock_until if settings is not None else None,
        unlock_after=after,
        unlock_todo=todo,
    )


def _zoho_link(template: str | None, tracked: TrackedModuleRef, entity: Entity) -> str | None:
    """The item's address from REMINDER_ZOHO_ITEM_URL; None without one."""
    if not template:
        return None
    return expand(
        template,
        course_id=tracked.course_id,
        batch_id=tracked.batch_id,
        module_id=tracked.module_id,
        item_id=entity.entity_id,
        entity_id=entity.entity_id,
    )


def task_key(tracked: TrackedModuleRef, entity_id: str) -> str:
    return f"zoho:{tracked.id}:{entity_id}"


def lock_key(tracked: TrackedModuleRef) -> str:
    return f"lock:{tracked.id}"


def ispring_key(result: ModuleResult) -> str:
    return f"ispring:{result.course_item_id or result.module_id or result.module_title}"


def ispring_entries(
    results: Sequence[ModuleResult],
    ispring_id: str,
    now: datetime,
    tz: tzinfo,
    config: ReminderConfig,
    links: Mapping[tuple[str, str], str] | None = None,
) -> list[DigestEntry]:
    """iSpring modules of this user that are overdue, or due within `ispring_due_soon_days`; each links to the
    `viewUrl` iSpring gave its module (`links`), else to REMINDER_ISPRING_ITEM_URL's address, else nowhere."""
    soon = now + timedelta(days=config.ispring_due_soon_days)
    entries = []
    for result in results:
        if result.user_id != ispring_id or result.is_done:
            continue
        due = result.due_date.astimezone(UTC) if result.due_date else None
        overdue = result.is_overdue or (due is not None and due < now)
        if not overdue and (due is None or due > soon):
            continue
        url = (links or {}).get((result.course_id or "", result.module_id or ""))
        if url is None and config.ispring_item_url:  # no address from iSpring: the admin's template
            url = expand(
                config.ispring_item_url,
                course_id=result.course_id,
                module_id=result.module_id,
                item_id=result.course_item_id,
            )
        entries.append(
            DigestEntry(
                key=ispring_key(result),
                kind=EntryKind.ISPRING,
                title=result.module_title or "iSpring module",
                due=due.astimezone(tz).date() if due else None,
                overdue=overdue,
                url=url,
            )
        )
    return entries


def usable_url(url: str | None) -> bool:
    """Whether an address from the LMS can be a Slack button's URL (a web address within Slack's limit)."""
    return bool(url) and str(url).lower().startswith(("https://", "http://")) and len(str(url)) <= URL_LIMIT


def session_info(
    tracked: TrackedModuleRef,
    module_name: str | None,
    entity: SessionEntity | None,
    session: Session | None,
    zone: tzinfo,
) -> SessionInfo | None:
    """A session's facts (from the sessions list when known, else from the learner's progress entry)."""
    start_date = session.start_date if session else entity.start_date if entity else None
    start_time = session.start_time if session else entity.start_time if entity else None
    end_time = session.end_time if session else entity.end_time if entity else None
    if start_date is None:
        return None
    starts = datetime.combine(start_date, start_time or datetime.min.time(), tzinfo=zone)
    ends = datetime.combine(start_date, end_time, tzinfo=zone) if end_time else None
    return SessionInfo(
        session_id=session.session_id if session else entity.entity_id if entity else "",
        name=(session.name if session else entity.name if entity else "") or "Session",
        tracked=tracked,
        starts_at=starts,
        ends_at=ends,
        module_name=module_name,
        room=session.room if session else None,
        trainer=session.trainer if session else None,
        session_type=session.session_type if session else None,
    )
