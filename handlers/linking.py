"""The buttons of linking replies: "Ask an admin to link me" and `/lms unlink`'s "Unlink …" / "Cancel".

Each click is checked again here (a button is just a request anyone can forge): only the person themselves or
an admin may unlink someone, and the admins get at most one request per person per day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.links import LinkService
from bot.services.roles import RoleService
from bot.services.slack_gateway import SlackGateway
from bot.services.types import Provider
from handlers.context import reply, team_of, user_of
from handlers.errors import guarded
from handlers.views.kit import SlackMessage
from handlers.views.linking import (
    LINK_ASK_ADMINS_ACTION,
    UNLINK_CANCEL_ACTION,
    UNLINK_CONFIRM_ACTION,
    already_linked_message,
    link_request_dm,
    link_request_refused,
    link_request_sent,
    link_yourself_message,
    unlink_cancelled,
    unlink_done,
)
from handlers.views.notices import STALE_BUTTON, error_message

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LinkingServices:
    """What the linking replies' buttons use."""

    links: LinkService
    roles: RoleService
    slack: SlackGateway


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")


def _providers(text: str) -> list[Provider]:
    known = {p.value: p for p in Provider}
    return [known[word] for word in text.split(",") if word in known]


async def _replace(respond: AsyncRespond, shown: SlackMessage) -> None:
    await respond(text=shown["text"], blocks=shown["blocks"], replace_original=True)


async def ask_admins(
    s: LinkingServices, client: AsyncWebClient, team_id: str, requester: str, wanted: list[Provider]
) -> SlackMessage:
    """DM every admin once with who asks and the command that links them; once per requester per day."""
    missing = [p for p in wanted if await s.links.learner_for(team_id, requester, p) is None]
    if not missing:
        return already_linked_message()
    everyone = await s.roles.admins(team_id)
    if requester in everyone:  # nobody else to wait for
        return link_yourself_message(missing)
    if not everyone:
        return link_request_refused(None)
    earlier = await s.links.claim_link_request(team_id, requester, missing)
    if earlier is not None:
        return link_request_refused(earlier)
    me = await s.slack.user(team_id, requester)
    dm = link_request_dm(requester, me.name or requester, me.email, missing)
    sent = 0
    for admin in everyone:
        try:
            await client.chat_postMessage(channel=admin, text=dm["text"], blocks=dm["blocks"])
            sent += 1
        except SlackApiError as exc:  # one admin's closed DMs must not stop the others
            log.info("link request: DM to %s failed: %s", admin, exc.response.get("error"))
    return link_request_sent(sent, missing) if sent else link_request_refused(None)


def register(app: AsyncApp, services: LinkingServices) -> None:
    @app.action(LINK_ASK_ADMINS_ACTION)
    @guarded
    async def ask(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        await reply(respond, await ask_admins(services, client, team_of(body), user_of(body), _providers(_value(body))))

    @app.action(UNLINK_CONFIRM_ACTION)
    @guarded
    async def confirm(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        team_id, actor = team_of(body), user_of(body)
        target, _, scope = _value(body).partition(":")
        if not target:
            await reply(respond, error_message(STALE_BUTTON.format(command="/lms unlink"), markup=True))
            return
        if target != actor:
            await services.roles.require_admin(team_id, actor, "unlink other people")
        removed = []
        for provider in _providers(scope):  # exactly what the confirmation named, nothing linked since
            removed += await services.links.unlink(team_id, target, actor=actor, provider=provider)
        shown = unlink_done(
            target, [(Provider(link.provider), link.learner_id) for link in removed], own=target == actor
        )
        await _replace(respond, shown)

    @app.action(UNLINK_CANCEL_ACTION)
    @guarded
    async def cancel(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await _replace(respond, unlink_cancelled())
