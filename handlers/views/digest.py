"""The reminder DMs: the daily digest (pending items grouped by module, locked modules with why and until when,
iSpring deadlines, upcoming sessions; Open in LMS, snooze, stop and mute buttons), session reminders, the
"now unlocked" note and the managers' weekly overdue digest.

Items marked `done` are struck through with a ✅, so after a learner finishes something the same message can
be re-rendered and sent with chat.update to show progress in place. `DigestViews` is the renderer the reminder
engine is given (bot.reminders.types.Renderer).

Size (~460 lines): the daily digest is one message whose parts share Slack's 50-block and text budgets (module
groups get what the locked, iSpring, session and missed parts leave), so they are fitted here together; sessions'
lines are in digest_sessions.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.lms.zoho_models import LockType, parse_entity
from bot.reminders.types import (
    Digest,
    DigestEntry,
    EntryKind,
    ManagerDigest,
    MissedSession,
    Rendered,
    SessionInfo,
    SessionLead,
    SessionReminder,
    UnlockedNotice,
)
from bot.services.types import ModuleStatus, TrackedModuleRef
from handlers.views import kit, limits
from handlers.views.digest_sessions import (
    SETTINGS_HINT,
    missed_blocks,
    reminder_blocks,
    session_blocks,
    session_reminder_message,
    with_reminders,
)
from handlers.views.formatting import (
    DONE,
    LOCKED,
    PENDING,
    day,
    entity_details,
    entity_emoji,
    entity_label,
    esc,
    plural,
    slack_time,
    tracked_title,
)
from handlers.views.kit import Element, SlackMessage
from handlers.views.limits import Block
from handlers.views.manager_digest import manager_digest_message
from handlers.views.progress import module_name, pending_items

SNOOZE_DAY_ACTION = "reminder_snooze_1d"
SNOOZE_WEEK_ACTION = "reminder_snooze_1w"
STOP_ACTION = "reminder_stop"
MUTE_ACTION = "reminder_mute"  # value: tracked id
OPEN_ACTION = "reminder_open_lms"  # a URL button: Slack still sends block_actions, so the handler must ack it
DIGEST_ACTIONS_BLOCK = "reminder_digest_actions"
ITEMS_PER_MODULE = 8
UNLOCKED = ":unlock:"
MUTED = ":no_bell:"
ISPRING = ":books:"


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One pending (or just finished) item in a digest — presentation only."""

    tracked: TrackedModuleRef
    title: str
    kind: str  # the LMS entity type ("onlineTest", "session", …): picks the emoji and the label
    detail: str | None = None  # mrkdwn (LMS text escaped), e.g. "1 of 1 attempts left"
    url: str | None = None
    done: bool = False
    item_id: str | None = None  # the LMS entity id, to mark it done later
    module_name: str | None = None


def digest_items(statuses: Sequence[ModuleStatus]) -> list[DigestItem]:
    """The pending mandatory items of unlocked modules, as digest items (a session that has ended is none)."""
    items: list[DigestItem] = []
    for status in statuses:
        for entity in pending_items(status):
            items.append(
                DigestItem(
                    tracked=status.tracked,
                    title=entity.name,
                    kind=entity.type,
                    detail=" · ".join(entity_details(entity, status.now)) or None,
                    item_id=entity.entity_id,
                    module_name=module_name(status),
                )
            )
    return items


def mark_done(items: Sequence[DigestItem], done_ids: Collection[str]) -> list[DigestItem]:
    """The same items with those whose `item_id` is in `done_ids` marked done (for chat.update)."""
    return [dataclasses.replace(i, done=True) if i.item_id in done_ids else i for i in items]


def _grouped(items: Sequence[DigestItem]) -> list[list[DigestItem]]:
    groups: dict[int, list[DigestItem]] = {}
    for item in items:
        groups.setdefault(item.tracked.id, []).append(item)
    return list(groups.values())


def _item_block(item: DigestItem, url: str | None) -> Block:
    kind = esc(entity_label(item.kind))
    title = esc(item.title or "Untitled")
    if item.done:
        return kit.section(f"{DONE} ~{title}~ — {kind}")
    text = f"{PENDING} {entity_emoji(item.kind)} *{title}* — {kind}" + (f" · {item.detail}" if item.detail else "")
    button = kit.button("Open in LMS", OPEN_ACTION, url=url) if url else None
    return kit.section(text, accessory=button)


def _module_group(
    items: Sequence[DigestItem],
    url_for: Callable[[DigestItem], str | None],
    *,
    muted: Collection[int] = (),
    unlocked: Collection[int] = (),
    buttons: bool = True,
) -> list[Block]:
    first = items[0]
    title = tracked_title(first.tracked, first.module_name)
    if first.tracked.id in muted:
        note = f"{MUTED} {title} — muted; `/lms remind unmute {esc(first.tracked.label)}` turns it back on"
        return [kit.section(note)]
    if first.tracked.id in unlocked:
        title += f" · {UNLOCKED} now unlocked"
    pending = [i for i in items if not i.done]
    mute = kit.button("Mute this module", MUTE_ACTION, value=str(first.tracked.id)) if pending and buttons else None
    blocks = [kit.section(title, accessory=mute)]
    # One "Open in LMS" per module, on the first pending item that has an address (the one to do next).
    shown = items[:ITEMS_PER_MODULE]
    opener = next((i for i in shown if not i.done and url_for(i)), None) if buttons else None
    blocks += [_item_block(i, url_for(i) if i is opener else None) for i in shown]
    if len(items) > ITEMS_PER_MODULE:
        blocks.append(kit.context(limits.more_line(len(items) - ITEMS_PER_MODULE, "items in this module")))
    return blocks


def _ids_value(items: Sequence[DigestItem]) -> str:
    """ "3,7": the tracked ids, whole ids only, within a button value's limit."""
    value = ""
    for tracked_id in dict.fromkeys(str(i.tracked.id) for i in items):
        candidate = f"{value},{tracked_id}" if value else tracked_id
        if len(candidate) > limits.BUTTON_VALUE:
            break
        value = candidate
    return value


def _footer_actions(tracked_ids: str, lms_home: str | None = None) -> Block:
    stop = kit.confirm_dialog(
        "Stop these reminders?",
        "You won't get reminders for these modules. Turn them back on with `/lms remind on`.",
        confirm="Stop reminders",
        danger=True,
    )
    buttons: list[Element] = [
        kit.button("Snooze 1 day", SNOOZE_DAY_ACTION, value=tracked_ids),
        kit.button("Snooze 1 week", SNOOZE_WEEK_ACTION, value=tracked_ids),
        kit.button("Stop these reminders", STOP_ACTION, value=tracked_ids, style="danger", confirm=stop),
    ]
    if lms_home:
        buttons.insert(0, kit.button("Open Zoho People", OPEN_ACTION, url=lms_home))
    return kit.actions(buttons, block_id=DIGEST_ACTIONS_BLOCK)


def reminder_digest(
    items: Sequence[DigestItem],
    *,
    learner_name: str | None = None,
    lms_url_for_item: Callable[[DigestItem], str | None] | None = None,
    locked: Sequence[DigestEntry] = (),
    ispring: Sequence[DigestEntry] = (),
    sessions: Sequence[SessionInfo] = (),
    missed: Sequence[MissedSession] = (),
    reminded: Sequence[tuple[SessionInfo, SessionLead]] = (),
    done: Collection[str] = (),
    unlocked: Collection[int] = (),
    muted: Collection[int] = (),
    note: str | None = None,
    buttons: bool = True,
    now: datetime | None = None,
    lms_home: str | None = None,
) -> SlackMessage:
    """One DM for all pending items, grouped by module in the order given.

    Snooze and stop buttons carry the digest's tracked ids ("3,7") as their value; each module's
    "Mute this module" carries its own. `item.url` wins over `lms_url_for_item(item)`. Besides the module
    groups: `locked` modules (why, until when, what to finish first), `ispring` deadlines (keys in `done` are
    struck through), upcoming `sessions`, `missed` sessions (apart: never counted as waiting), and a `note`
    (snoozed, stopped) that replaces the buttons when given together with `buttons=False`. `now` (aware, in the
    LMS's zone) lets a session later today say "today at …". `reminded`: session reminders due now, told right
    under the headline (and in the notification text) instead of in DMs of their own. Each module gets one
    "Open in LMS" (on its first pending item with an address); `lms_home`, offered once in the footer, is for
    pending items without one.
    """

    def url_for(item: DigestItem) -> str | None:
        return item.url or (lms_url_for_item(item) if lms_url_for_item else None)

    muted_ids = set(muted)
    groups = _grouped(items)
    pending = [i for i in items if not i.done and i.tracked.id not in muted_ids]
    ispring_pending = [e for e in ispring if e.key not in done]
    hello = f"Hi {esc(learner_name)}" if learner_name else "Hi"
    told = reminder_blocks(reminded, now)
    if not items and not ispring and not locked:
        # A note (modules not checked yet, data as of) is told here too: "nothing is due" alone would mislead.
        top = [kit.section(f"{hello} — nothing is due. :tada:"), *([kit.context(note)] if note else [])]
        blocks = [*top, *told, *missed_blocks(missed, now)]
        if missed or told:
            blocks.append(kit.context(SETTINGS_HINT))
        return kit.message(with_reminders("Nothing is waiting for you in the LMS.", reminded, now), blocks)
    waiting = len(pending) + len(ispring_pending)
    if waiting:
        modules = len({i.tracked.id for i in pending})
        parts = []
        if pending:
            parts.append(f"*{plural(len(pending), 'mandatory item')}* waiting in {plural(modules, 'module')}")
        if ispring_pending:
            parts.append(f"*{plural(len(ispring_pending), 'iSpring module')}* due")
        intro = f"{hello} :wave: — " + " and ".join(parts) + "."
        finished = (len(items) - len([i for i in items if not i.done])) + (len(ispring) - len(ispring_pending))
        if finished:
            intro += f" {finished} done already — nice!"
        text = f"Reminder: {plural(waiting, 'LMS item')} waiting for you"
    elif items or ispring:
        intro = f":tada: All done, {esc(learner_name)}!" if learner_name else ":tada: All done!"
        text = "All your LMS items are done"
    else:
        intro = f"{hello} — nothing to do right now; some modules are still locked."
        text = "Some of your LMS modules are still locked"
    head: list[Block] = [kit.section(intro), *told]
    if note:
        head.append(kit.context(note))
    text = with_reminders(text, reminded, now)
    tail: list[Block] = []
    if waiting and buttons:
        home = lms_home if any(not url_for(i) for i in pending) else None
        tail.append(_footer_actions(_ids_value(pending) or _ids_value(items) or "-", home))
    tail.append(kit.context(SETTINGS_HINT))
    extras = _locked_blocks(locked, unlocked, muted_ids)
    extras += _ispring_blocks(ispring, done, buttons=buttons)
    extras += missed_blocks(missed, now)
    extras += session_blocks(sessions, now)
    budget_blocks = limits.MESSAGE_BLOCKS - len(head) - len(tail) - len(extras)
    budget_chars = limits.MESSAGE_TEXT_BUDGET - limits.text_size(head + tail + extras)
    body = limits.fit_groups(
        [_module_group(g, url_for, muted=muted_ids, unlocked=unlocked, buttons=buttons) for g in groups],
        noun="modules",
        max_blocks=budget_blocks,
        max_chars=budget_chars,
        hint="see them all with `/lms progress`",
    )
    return kit.message(text, [*head, *body, *extras, *tail])


# --- the parts besides the module groups (each kept small, so the module groups get the room) -------------------

MAX_LOCKED_BLOCKS = 2
MAX_ISPRING_ITEMS = 6


def _locked_line(entry: DigestEntry, unlocked: Collection[int]) -> str:
    name = f"*{esc(entry.title)}*"
    if entry.tracked is not None and entry.tracked.id in unlocked:
        return f"{UNLOCKED} {name} — now unlocked: it is in `/lms progress`"
    if entry.lock_type == LockType.UNTIL_DATE and entry.lock_until is not None:
        return f"{LOCKED} {name} — locked until {day(entry.lock_until)}"
    if entry.lock_type == LockType.UNTIL_PREVIOUS_COMPLETED:
        if entry.unlock_after:
            line = f"{LOCKED} {name} — unlocks when you finish *{esc(entry.unlock_after)}*"
            if entry.unlock_todo:
                line += ": " + ", ".join(esc(t) for t in entry.unlock_todo[:5])
                if len(entry.unlock_todo) > 5:
                    line += f" and {len(entry.unlock_todo) - 5} more"
            return line
        return f"{LOCKED} {name} — unlocks when you finish the module before it"
    return f"{LOCKED} {name} — locked for now"


def _locked_blocks(locked: Sequence[DigestEntry], unlocked: Collection[int], muted: Collection[int]) -> list[Block]:
    shown = [e for e in locked if e.tracked is None or e.tracked.id not in muted]
    if not shown:
        return []
    lines = [f"*{LOCKED} Locked for now*"] + [_locked_line(e, unlocked) for e in shown]
    return limits.list_blocks(lines, noun="locked modules", max_blocks=MAX_LOCKED_BLOCKS, max_chars=2500)


def _ispring_line(entry: DigestEntry, done: Collection[str]) -> str:
    if entry.key in done:
        return f"{DONE} ~{esc(entry.title)}~ — iSpring"
    if entry.overdue:
        when = f"overdue (was due {day(entry.due)})" if entry.due else "overdue"
    else:
        when = f"due {day(entry.due)}" if entry.due else "due soon"
    return f"{ISPRING} *{esc(entry.title)}* — iSpring · {when}"


def _ispring_blocks(entries: Sequence[DigestEntry], done: Collection[str], *, buttons: bool) -> list[Block]:
    if not entries:
        return []
    blocks: list[Block] = [kit.section(f"*{ISPRING} iSpring Learn*")]
    for entry in entries[:MAX_ISPRING_ITEMS]:
        open_button = (
            kit.button("Open in LMS", OPEN_ACTION, url=entry.url)
            if entry.url and buttons and entry.key not in done
            else None
        )
        blocks.append(kit.section(_ispring_line(entry, done), accessory=open_button))
    if len(entries) > MAX_ISPRING_ITEMS:
        blocks.append(kit.context(limits.more_line(len(entries) - MAX_ISPRING_ITEMS, "iSpring modules")))
    return blocks


# --- from the reminder engine's data ---------------------------------------------------------------------------


def _entry_item(entry: DigestEntry, done: Collection[str], now: datetime | None) -> DigestItem | None:
    if entry.tracked is None:
        return None
    detail: str | None = None
    if entry.entity is not None:
        try:
            detail = " · ".join(entity_details(parse_entity(entry.entity), now)) or None
        except ValueError:
            detail = None
    return DigestItem(
        tracked=entry.tracked,
        title=entry.title,
        kind=entry.entity_type or "unknown",
        detail=detail,
        url=entry.url,
        done=entry.key in done,
        item_id=entry.key,
        module_name=entry.module_name,
    )


def digest_note(digest: Digest) -> str | None:
    if digest.stopped:
        return ":octagonal_sign: Reminders stopped. `/lms remind on` brings them back."
    if digest.snoozed_until is not None:
        until = slack_time(digest.snoozed_until, "{date_short_pretty} {time}")
        return f":sleeping: Snoozed until {until}. `/lms remind on` wakes reminders up now."
    return None


def digest_message(digest: Digest) -> SlackMessage:
    """The daily digest as the engine describes it (also re-rendered for in-place updates and button clicks)."""
    now = digest_now(digest)
    items = [i for i in (_entry_item(e, digest.done, now) for e in digest.entries if e.kind is EntryKind.TASK) if i]
    note = digest_note(digest)
    reminded = {s.session_id for s, _ in digest.reminded}
    as_of = f":hourglass: Progress as of {digest.as_of:%a %-d %b}." if digest.as_of is not None else None
    if digest.unchecked:
        names = ", ".join(f"*{esc(n)}*" for n in digest.unchecked)
        as_of = " ".join(filter(None, [as_of, f":hourglass: Not checked yet (the LMS's budget is spent): {names}."]))
    return reminder_digest(
        items,
        learner_name=digest.learner_name,
        locked=digest.locked,
        ispring=[e for e in digest.entries if e.kind is EntryKind.ISPRING],
        sessions=[_in_zone(s, now) for s in digest.sessions if s.session_id not in reminded],
        reminded=[(_in_zone(s, now), lead) for s, lead in digest.reminded],
        missed=[
            MissedSession(_in_zone(m.session, now), _in_zone(m.next, now) if m.next else None) for m in digest.missed
        ],
        done=digest.done,
        unlocked=digest.unlocked,
        muted=digest.muted,
        note=" ".join(n for n in (note, as_of) if n) or None,
        buttons=note is None,
        now=now,
        lms_home=digest.lms_home,
    )


def digest_now(digest: Digest) -> datetime | None:
    """When the digest was put together, in the LMS's zone (session times are written in it)."""
    if digest.made_at is None:
        return None
    try:
        zone: tzinfo = ZoneInfo(digest.lms_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return digest.made_at.astimezone(zone)


def _in_zone(session: SessionInfo, now: datetime | None) -> SessionInfo:
    """The session with its times in the LMS's zone again (a stored payload keeps only their offsets)."""
    if now is None or now.tzinfo is None:
        return session
    ends = session.ends_at.astimezone(now.tzinfo) if session.ends_at else None
    return dataclasses.replace(session, starts_at=session.starts_at.astimezone(now.tzinfo), ends_at=ends)


def unlocked_message(notice: UnlockedNotice) -> SlackMessage:
    title = tracked_title(notice.tracked, notice.module_name)
    waiting = f" — {plural(notice.pending, 'mandatory item')} waiting" if notice.pending else ""
    text = f"{UNLOCKED} {title} is now unlocked{waiting}. See it with `/lms progress {esc(notice.tracked.label)}`."
    fallback = f"{notice.module_name or notice.tracked.label} is now unlocked"
    return kit.message(fallback, [kit.section(text)])


STOPPED_NOTE = ":octagonal_sign: Reminders stopped. `/lms remind on` brings them back."


def snoozed_note(until: datetime) -> str:
    """The note a digest gets after Snooze."""
    return f":sleeping: Snoozed until {slack_time(until, '{date_short_pretty} {time}')}."


def muted_note(label: str) -> str:
    return f":no_bell: `{label}` muted. `/lms remind unmute {label}` turns it back on."


def acted_on(message: dict[str, Any], note: str) -> SlackMessage:
    """A digest we have no record of, after a button: the same blocks without the buttons, plus the note."""
    blocks: list[Block] = []
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            continue
        if block.get("accessory", {}).get("action_id") == MUTE_ACTION:
            block = {k: v for k, v in block.items() if k != "accessory"}
        blocks.append(block)
    blocks.insert(1 if blocks else 0, kit.context(note))
    return kit.message(str(message.get("text") or "LMS reminder"), limits.fit_blocks(blocks, limits.MESSAGE_BLOCKS))


class DigestViews:
    """The renderer the reminder engine is given: engine data in, Slack messages out."""

    def digest(self, digest: Digest) -> Rendered:
        return digest_message(digest)

    def session(self, reminder: SessionReminder) -> Rendered:
        return session_reminder_message(reminder)

    def unlocked(self, notice: UnlockedNotice) -> Rendered:
        return unlocked_message(notice)

    def manager_digest(self, digest: ManagerDigest) -> Rendered:
        return manager_digest_message(digest)
