"""The reminder digest's buttons: Snooze 1 day / 1 week, Stop these reminders, Mute this module, Open in LMS.

Each click is stored (undone with `/lms remind on`, `/lms remind unmute` or App Home) and the message is
replaced in place to show it; a digest we have no record of still loses its buttons and gains a note.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.reminders.actions import MessageRef, ReminderActions
from bot.reminders.types import Digest
from handlers.context import reply, team_of, user_of
from handlers.errors import guarded
from handlers.views.digest import (
    MUTE_ACTION,
    OPEN_ACTION,
    SNOOZE_DAY_ACTION,
    SNOOZE_WEEK_ACTION,
    STOP_ACTION,
    STOPPED_NOTE,
    acted_on,
    digest_message,
    muted_note,
    snoozed_note,
)
from handlers.views.kit import SlackMessage
from handlers.views.notices import STALE_MUTE, error_message

log = logging.getLogger(__name__)


def message_ref(body: dict[str, Any]) -> MessageRef:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return MessageRef(team_of(body), user_of(body), channel, ts)


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")


async def _replace(respond: AsyncRespond, body: dict[str, Any], digest: Digest | None, note: str) -> None:
    shown: SlackMessage = digest_message(digest) if digest is not None else acted_on(body.get("message") or {}, note)
    await respond(text=shown["text"], blocks=shown["blocks"], replace_original=True)


def register(app: AsyncApp, actions: ReminderActions) -> None:

    async def snooze(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, days: int) -> None:
        await ack()
        until, digest = await actions.snooze(message_ref(body), days)
        await _replace(respond, body, digest, snoozed_note(until))

    @app.action(SNOOZE_DAY_ACTION)
    @guarded
    async def snooze_day(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await snooze(ack, body, respond, 1)

    @app.action(SNOOZE_WEEK_ACTION)
    @guarded
    async def snooze_week(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await snooze(ack, body, respond, 7)

    @app.action(STOP_ACTION)
    @guarded
    async def stop(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        digest = await actions.stop(message_ref(body))
        await _replace(respond, body, digest, STOPPED_NOTE)

    @app.action(MUTE_ACTION)
    @guarded
    async def mute(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        value = _value(body)
        if not value.isdigit():
            await reply(respond, error_message(STALE_MUTE, markup=True))
            return
        label, digest = await actions.mute(message_ref(body), int(value))  # a PreferenceError: the boundary says it
        await _replace(respond, body, digest, muted_note(label))

    @app.action(OPEN_ACTION)
    @guarded
    async def open_in_lms(ack: AsyncAck) -> None:
        await ack()  # a URL button: Slack opens the link, but still sends the click, which must be acknowledged
