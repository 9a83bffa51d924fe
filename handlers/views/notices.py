"""Short notices: an error in plain words, a role refusal, the small notice modals, "Module updated" after an edit."""

from __future__ import annotations

from bot.lms.zoho_models import Module
from bot.services.roles import Role
from bot.services.types import TrackedModuleRef
from handlers.views import kit
from handlers.views.formatting import WARNING, esc, lock_setting, minutes, tracked_title, tracked_where
from handlers.views.kit import SlackMessage, SlackView
from handlers.views.limits import Block

NOTICE_CALLBACK_ID = "lmsbot_notice"
STALE_BUTTON = "That button is out of date: run `{command}` again."
STALE_MUTE = "That button is out of date: mute the module with `/lms remind mute &lt;module&gt;`."
UNEXPECTED = "Something went wrong on our side. It has been logged; please try again."
DATABASE_UNAVAILABLE = "The bot's database is unavailable — try again in a minute."
_WHO = {
    Role.ADMIN: "workspace admins",
    Role.EDITOR: "workspace admins and trainers",
    Role.MANAGER: "admins and managers",
}


def refusal(role: Role, what: str) -> str:
    """The one wording of "you may not": `what` is the action ("track modules")."""
    return f"Only {_WHO[role]} can {what}."


def field_text(text: str) -> str:
    """An inline modal error is plain text of at most 150 characters (Slack shows no mrkdwn under a field)."""
    plain_text = text.replace("`", "")
    return plain_text if len(plain_text) <= 150 else plain_text[:149] + "…"


def notice_modal(title: str, text: str) -> SlackView:
    return kit.modal(NOTICE_CALLBACK_ID, title, [kit.section(text)], close="Close")


def loading_modal(title: str, what: str) -> SlackView:
    return kit.modal(NOTICE_CALLBACK_ID, title, [kit.section(f":hourglass_flowing_sand: {what}")], close="Cancel")


def problem_modal(title: str, shown: SlackMessage) -> SlackView:
    """A modal replaced by what went wrong (an error message's blocks)."""
    return kit.modal(NOTICE_CALLBACK_ID, title, shown["blocks"], close="Close")


def error_message(text: str, hint: str | None = None, *, markup: bool = False) -> SlackMessage:
    """ "⚠️ text" plus an optional "what to do" hint.

    `text` is plain words and is escaped, unless `markup`: our own services' messages carry mrkdwn on purpose
    (`/lms link`, <@U…> mentions) and must keep it.
    """
    show = (lambda t: t) if markup else esc
    blocks: list[Block] = [kit.section(f"{WARNING} {show(text)}")]
    if hint:
        blocks.append(kit.context(show(hint)))
    return kit.message(show(text if not hint else f"{text} {hint}"), blocks)


def module_facts(module: Module) -> list[str]:
    """Name, duration, description and lock of a module as the LMS describes it (section fields)."""
    return [
        f"*Name*\n{esc(module.name or '—')}",
        f"*Duration*\n{minutes(module.duration_minutes)}",
        f"*Lock*\n{lock_setting(module.lock_type, module.lock_until)}",
        f"*Description*\n{esc(module.description or '—')}",
    ]


def module_updated_message(module: Module, tracked: TrackedModuleRef) -> SlackMessage:
    """The module as the LMS returned it after the update — what is saved, not what was typed."""
    blocks: list[Block] = [
        kit.section(f":white_check_mark: *Module updated* — {tracked_title(tracked, module.name)}"),
        kit.fields_section(module_facts(module)),
        kit.context(tracked_where(tracked)),
    ]
    return kit.message(f"Module updated: {esc(module.name or tracked.label)}", blocks)
