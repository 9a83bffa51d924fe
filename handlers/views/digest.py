"""The reminder digest DM: pending items grouped by module, with Open in LMS, snooze, stop and mute buttons.

Items marked `done` are struck through with a ✅, so after a learner finishes something the same message can
be re-rendered and sent with chat.update to show progress in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from bot.services.types import ModuleStatus, TrackedModuleRef
from handlers.views import kit, limits
from handlers.views.formatting import (
    DONE,
    PENDING,
    entity_details,
    entity_emoji,
    entity_label,
    esc,
    plural,
    tracked_title,
)
from handlers.views.kit import Element, SlackMessage
from handlers.views.limits import Block
from handlers.views.progress import is_locked, module_name

SNOOZE_DAY_ACTION = "reminder_snooze_1d"
SNOOZE_WEEK_ACTION = "reminder_snooze_1w"
STOP_ACTION = "reminder_stop"
MUTE_ACTION = "reminder_mute"  # value: tracked id
OPEN_ACTION = "reminder_open_lms"  # a URL button: Slack still sends block_actions, so the handler must ack it
DIGEST_ACTIONS_BLOCK = "reminder_digest_actions"
ITEMS_PER_MODULE = 8


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One pending (or just finished) item in a digest — presentation only."""

    tracked: TrackedModuleRef
    title: str
    kind: str  # the LMS entity type ("onlineTest", "session", …): picks the emoji and the label
    detail: str | None = None  # plain words, e.g. "1 of 1 attempts left"
    url: str | None = None
    done: bool = False
    item_id: str | None = None  # the LMS entity id, to mark it done later
    module_name: str | None = None


def digest_items(statuses: Sequence[ModuleStatus]) -> list[DigestItem]:
    """The pending mandatory items of unlocked modules, as digest items."""
    items: list[DigestItem] = []
    for status in statuses:
        if status.progress is None or is_locked(status):
            continue
        for entity in status.progress.pending_mandatory:
            items.append(
                DigestItem(
                    tracked=status.tracked,
                    title=entity.name,
                    kind=entity.type,
                    detail=" · ".join(entity_details(entity)) or None,
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
    text = f"{PENDING} {entity_emoji(item.kind)} *{title}* — {kind}" + (f" · {esc(item.detail)}" if item.detail else "")
    button = kit.button("Open in LMS", OPEN_ACTION, url=url) if url else None
    return kit.section(text, accessory=button)


def _module_group(items: Sequence[DigestItem], url_for: Callable[[DigestItem], str | None]) -> list[Block]:
    first = items[0]
    title = tracked_title(first.tracked, first.module_name)
    pending = [i for i in items if not i.done]
    mute = kit.button("Mute this module", MUTE_ACTION, value=str(first.tracked.id)) if pending else None
    blocks = [kit.section(title, accessory=mute)]
    blocks += [_item_block(i, url_for(i)) for i in items[:ITEMS_PER_MODULE]]
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


def _footer_actions(tracked_ids: str) -> Block:
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
    return kit.actions(buttons, block_id=DIGEST_ACTIONS_BLOCK)


def reminder_digest(
    items: Sequence[DigestItem],
    *,
    learner_name: str | None = None,
    lms_url_for_item: Callable[[DigestItem], str | None] | None = None,
) -> SlackMessage:
    """One DM for all pending items, grouped by module in the order given.

    Snooze and stop buttons carry the digest's tracked ids ("3,7") as their value; each module's
    "Mute this module" carries its own. `item.url` wins over `lms_url_for_item(item)`.
    """

    def url_for(item: DigestItem) -> str | None:
        return item.url or (lms_url_for_item(item) if lms_url_for_item else None)

    groups = _grouped(items)
    pending = [i for i in items if not i.done]
    hello = f"Hi {esc(learner_name)}" if learner_name else "Hi"
    if not items:
        return kit.message("Nothing is waiting for you in the LMS.", [kit.section(f"{hello} — nothing is due. :tada:")])
    if pending:
        modules = len({i.tracked.id for i in pending})
        intro = f"{hello} :wave: — *{plural(len(pending), 'mandatory item')}* waiting in {plural(modules, 'module')}."
        if len(pending) < len(items):
            intro += f" {len(items) - len(pending)} done already — nice!"
        text = f"Reminder: {plural(len(pending), 'LMS item')} waiting for you"
    else:
        intro = f":tada: All done, {esc(learner_name)}!" if learner_name else ":tada: All done!"
        text = "All your LMS items are done"
    head: list[Block] = [kit.section(intro)]
    tail: list[Block] = []
    if pending:
        tail.append(_footer_actions(_ids_value(pending)))
    tail.append(kit.context("Change when and how you are reminded: `/lms remind status` or the bot's Home tab."))
    body = limits.fit_groups(
        [_module_group(g, url_for) for g in groups],
        noun="modules",
        max_blocks=limits.MESSAGE_BLOCKS - len(head) - len(tail),
        max_chars=limits.MESSAGE_TEXT_BUDGET - limits.text_size(head + tail),
        hint="see them all with `/lms progress`",
    )
    return kit.message(text, [*head, *body, *tail])
