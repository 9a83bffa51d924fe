"""One `/lms …` call as its listeners see it: who, where, the words; and the words that name a Slack user."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from bot.lms.errors import ValidationError
from bot.services.links import slack_user_ref
from bot.services.slack_gateway import SlackGateway


@dataclass(frozen=True, slots=True)
class Invocation:
    """One `/lms …` call: who, where, and the words after the subcommand."""

    team_id: str
    user_id: str
    args: list[str]
    trigger_id: str
    body: dict[str, Any]


def split_args(text: str) -> list[str]:
    """Words of the command text; quotes group words, and Slack's <@U…|name> mentions stay whole."""
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: fall back to plain words rather than fail
        return text.split()


async def mentioned(slack: SlackGateway, inv: Invocation, word: str) -> str:
    """The Slack user a word names: `<@U…|name>` (how Slack sends mentions), `@handle`, or `U…`.

    A word that names nobody is an error, never "the caller": `/lms unlink @someone` must not unlink you.
    """
    user = slack_user_ref(word)
    if user is None and word.startswith("@"):
        user = await slack.user_id_by_handle(inv.team_id, word[1:])
    if user is None:
        raise ValidationError(f"`{word}` does not name anyone in this workspace: mention them, like @jane.")
    return user
