"""Short ephemeral notices: an error in plain words, and "Module updated" after an edit."""

from __future__ import annotations

from bot.lms.zoho_models import Module
from bot.services.types import TrackedModuleRef
from handlers.views import kit
from handlers.views.formatting import WARNING, esc, lock_setting, minutes, tracked_title, tracked_where
from handlers.views.kit import SlackMessage
from handlers.views.limits import Block


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
