"""Small helpers every listener uses: who is asking, and replying in private."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.errors import message_for
from handlers.views import SlackMessage


def team_of(body: dict[str, Any]) -> str:
    """The workspace of a command, interaction or event payload."""
    team = body.get("team_id") or (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    if not team:
        team = body.get("authorizations", [{}])[0].get("team_id") if body.get("authorizations") else None
    return str(team or "")


def user_of(body: dict[str, Any]) -> str:
    user = body.get("user_id") or (body.get("user") or {}).get("id") or (body.get("event") or {}).get("user")
    return str(user or "")


async def reply(respond: AsyncRespond, message: SlackMessage) -> None:
    """An ephemeral answer through the response URL (works in any channel, no membership needed)."""
    await respond(text=message["text"], blocks=message["blocks"], response_type="ephemeral", replace_original=False)


async def reply_error(respond: AsyncRespond, exc: BaseException) -> None:
    await reply(respond, message_for(exc))


async def dm(client: AsyncWebClient, user_id: str, message: SlackMessage) -> None:
    """A direct message (for results that outlive the request, such as a saved module)."""
    await client.chat_postMessage(channel=user_id, text=message["text"], blocks=message["blocks"])
