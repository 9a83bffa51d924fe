"""The managers' weekly overdue digest (tracked modules behind, overdue iSpring modules, a Nudge them button) and
what "Nudge them" sends and shows.
"""

from __future__ import annotations

from typing import Any

from bot.lms.ispring_models import ModuleResult
from bot.reminders.types import ManagerDigest
from handlers.views import kit, limits
from handlers.views.formatting import day, esc, plural, tracked_title
from handlers.views.kit import SlackMessage
from handlers.views.limits import Block

ISPRING = ":books:"
NUDGE_ACTION = "manager_nudge"
NUDGE_BLOCK = "manager_nudge"


def _manager_headline(behind: int, overdue: int) -> str:
    """ "3 learners still behind in tracked modules, 11 overdue iSpring modules" — a part that is zero left out."""
    parts = [f"{plural(behind, 'learner')} still behind in tracked modules"] if behind or not overdue else []
    if overdue:
        parts.append(plural(overdue, "overdue iSpring module"))
    return ", ".join(parts)


def manager_digest_message(digest: ManagerDigest) -> SlackMessage:
    hello = f"Hi {esc(digest.recipient_name)}" if digest.recipient_name else "Hi"
    behind = len({b.slack_user_id for m in digest.modules for b in m.learners})
    head: list[Block] = [
        kit.header(f"Weekly LMS overdue digest · {digest.week}"),
        kit.section(f"{hello} — {_manager_headline(behind, len(digest.ispring_overdue))}."),
    ]
    lines: list[str] = []
    for module in digest.modules:
        who = ", ".join(f"<@{b.slack_user_id}> ({b.pending})" for b in module.learners[:15])
        more = f" and {len(module.learners) - 15} more" if len(module.learners) > 15 else ""
        lines.append(f"{tracked_title(module.tracked, module.module_name)} — {who}{more}")
    for result in digest.ispring_overdue:
        if result.slack_user_id:
            who = f"<@{result.slack_user_id}>"
        else:
            who = esc(result.name) if result.name else "_unknown learner_"
        due = f" (due {day(result.due)})" if result.due else ""
        lines.append(f"{ISPRING} {who} — *{esc(result.title)}*{due}")
    reachable = {r.slack_user_id for r in digest.ispring_overdue if r.slack_user_id}
    tail: list[Block] = []
    if reachable:
        tail.append(
            kit.actions(
                [
                    kit.button(
                        "Nudge them",
                        NUDGE_ACTION,
                        value=digest.week or "week",
                        confirm=kit.confirm_dialog(
                            "Nudge overdue learners?",
                            f"Each of the {plural(len(reachable), 'learner')} with overdue iSpring modules gets one "
                            "friendly DM naming them (at most once a week).",
                            confirm="Nudge them",
                        ),
                    )
                ],
                block_id=NUDGE_BLOCK,
            )
        )
    tail.append(kit.context("Turn this weekly digest off with `/lms remind digest off`."))
    body = limits.list_blocks(
        lines,
        noun="lines",
        max_blocks=limits.MESSAGE_BLOCKS - len(head) - len(tail),
        max_chars=limits.MESSAGE_TEXT_BUDGET - limits.text_size(head + tail),
        hint="`/lms results overdue` lists the iSpring ones",
    )
    headline = _manager_headline(behind, len(digest.ispring_overdue))
    return kit.message(f"Weekly LMS digest: {headline}", [*head, *body, *tail])


def nudged_note(nudged: int, already: int, unreachable: int = 0, failed: int = 0) -> str:
    """ "Nudged 12 people (3 already nudged this week)"."""
    text = f":wave: Nudged {plural(nudged, 'person', 'people')}"
    if already:
        text += f" ({already} already nudged this week)"
    text += "."
    if unreachable:
        text += f" {plural(unreachable, 'overdue learner')} could not be reached: no Slack user found."
    if failed:
        text += f" {failed} could not be sent right now: try again later."
    return text


def nudged_message(message: dict[str, Any], note: str) -> SlackMessage:
    """The digest after "Nudge them": the same, the button replaced by what was done."""
    blocks: list[Block] = []
    for block in message.get("blocks") or []:
        if block.get("block_id") == NUDGE_BLOCK:
            blocks.append(kit.context(note))
            continue
        blocks.append(block)
    if not any(b.get("type") == "context" and note in str(b) for b in blocks):
        blocks.append(kit.context(note))
    fitted = limits.fit_blocks(blocks, limits.MESSAGE_BLOCKS)
    return kit.message(str(message.get("text") or "Weekly LMS digest"), fitted)


def nudge_dm(manager: str, modules: list[ModuleResult]) -> SlackMessage:
    """The DM "Nudge them" sends each overdue learner: who asks, and the modules past due."""
    lines = []
    for r in sorted(modules, key=lambda m: (m.due_date is None, m.due_date, m.module_title)):
        due = f" (was due {r.due_date:%a %d %b})" if r.due_date else ""
        lines.append(f"• *{esc(r.module_title or 'Untitled module')}*{due}")
    them = "this iSpring module is" if len(modules) == 1 else "these iSpring modules are"
    text = (
        f":wave: A friendly nudge from <@{manager}>: {them} past due —\n"
        + "\n".join(lines)
        + "\nWhen you have a moment, finish them in iSpring Learn. Thanks!"
    )
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]}


def nudged_reply(note: str) -> SlackMessage:
    """What "Nudge them" did, as a reply (when Slack did not echo the digest to replace)."""
    return kit.message(note, [kit.section(note)])
