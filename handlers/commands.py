"""The `/lms` slash command: ack at once, then run the subcommand and answer in private.

Bolt sends the HTTP 200 as soon as `ack()` is called and keeps running the listener, so the LMS work below
never counts against Slack's 3-second limit.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock, utc
from bot.lms.errors import ValidationError
from bot.services.connections import ConnectionService
from bot.services.learning import LearningService, NeedsSetup
from bot.services.links import LinkService
from bot.services.preferences import PreferenceService
from bot.services.roles import RoleService
from bot.services.slack_gateway import SlackGateway
from bot.services.status import StatusService
from bot.services.tracking import TrackingService
from bot.services.types import IspringProgress, ProgressPage, Provider
from handlers import modals
from handlers.context import reply, team_of, user_of
from handlers.errors import guarded
from handlers.invocation import Invocation, mentioned, split_args
from handlers.modals import ModalServices
from handlers.reminder_settings import RemindServices, remind_command
from handlers.results_query import ResultsServices, results_report
from handlers.views import (
    PROGRESS_MORE_ACTION,
    bad_arguments_message,
    help_message,
    plans_message,
    progress_message,
    results_message,
    sessions_message,
    status_message,
    unknown_command_message,
    untrack_message,
)
from handlers.views.connect import connect_zoho_message
from handlers.views.kit import SlackMessage
from handlers.views.linking import (
    link_reply,
    link_report_message,
    linked_other_message,
    not_linked_message,
    unlink_confirm,
)
from handlers.views.status import learner_status_message
from handlers.views.tracking import untracked_message

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CommandServices:
    """What the `/lms` subcommands use."""

    learning: LearningService
    roles: RoleService
    links: LinkService
    connections: ConnectionService
    tracking: TrackingService
    status: StatusService
    preferences: PreferenceService
    slack: SlackGateway
    clock: Clock  # the services' clock (virtual in tests)
    lms_now: Callable[[], datetime]  # now, in the LMS's zone (sessions are compared in its wall-clock time)
    results: ResultsServices
    modals: ModalServices  # `edit-module` and `track` open them
    remind: RemindServices


Subcommand = Callable[[CommandServices, Invocation, AsyncRespond, AsyncWebClient], Awaitable[None]]


async def _help(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    await reply(respond, help_message())


async def _progress(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    ref = inv.args[0] if inv.args else None
    await _progress_page(s, inv.team_id, inv.user_id, respond, ref)


async def _progress_page(
    s: CommandServices, team_id: str, user_id: str, respond: AsyncRespond, ref: str | None = None, start: int = 0
) -> None:
    """A capped page of modules (each from the shared cache when fresh) and a button for the next page; the
    learner's own iSpring modules follow on the first page (alone for an iSpring-only learner).

    The iSpring read and the Zoho page run side by side: a reply waits for the slower LMS, not for both."""

    async def zoho_page() -> ProgressPage | NeedsSetup:
        try:
            return await s.learning.progress_page(team_id, user_id, ref, start=start)
        except NeedsSetup as exc:  # decided below, once the iSpring part is known
            return exc

    async def ispring_part() -> IspringProgress | None:
        return await s.learning.ispring_progress(team_id, user_id, ref) if start == 0 else None

    ispring, zoho = await asyncio.gather(ispring_part(), zoho_page())
    if ref and ispring is not None and not ispring.results and ispring.error is None:
        ispring = None  # `progress <module>` names no iSpring module: only the Zoho answer
    page = None
    if isinstance(zoho, NeedsSetup):
        # Not linked to Zoho (or nothing tracked there): an iSpring learner still gets their iSpring modules.
        if ispring is None:
            raise zoho
    else:
        page = zoho
    roles = await s.roles.roles(team_id, user_id)
    statuses = page.statuses if page is not None else []
    await reply(respond, progress_message(statuses, can_edit=roles.can_edit_modules, ispring=ispring, page=page))


async def _plans(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    await reply(respond, plans_message(await s.learning.plans(inv.team_id, inv.user_id)))


async def _sessions(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    ref = inv.args[0] if inv.args else None
    report = await s.learning.sessions(inv.team_id, ref, user_id=inv.user_id)
    await reply(respond, sessions_message(report, now=s.lms_now()))


async def _results(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    report, title = await results_report(s.results, inv)
    await reply(respond, results_message(report, title=title, query=" ".join(inv.args)))


async def _link(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    args = inv.args
    if not args:
        await reply(respond, bad_arguments_message("link", problem="Say which learner: an id or an e-mail."))
        return
    if args[0] in ("auto", "unmatched"):
        await s.roles.require_admin(inv.team_id, inv.user_id, "link other people")
        await reply(respond, await _link_report(s, inv, auto=args[0] == "auto"))
        return
    target = await mentioned(s.slack, inv, args[0]) if args[0].startswith(("<@", "@")) else None
    if target is not None:  # `link @user <learner>`: an admin linking someone else
        if len(args) < 2:
            await reply(respond, bad_arguments_message("link", problem="Say which learner to link them to."))
            return
        if target != inv.user_id:
            await s.roles.require_admin(inv.team_id, inv.user_id, "link other people")
        value = args[1]
    else:
        target, value = inv.user_id, args[0]
    if target == inv.user_id:  # linking yourself: say what happened in every connected LMS
        await reply(respond, link_reply(await s.links.link_self(inv.team_id, target, value)))
        return
    provider = _provider_word(args[2] if len(args) > 2 else None)
    result = await s.links.link(inv.team_id, target, value, actor=inv.user_id, provider=provider)
    await reply(respond, linked_other_message(target, result))


async def _link_report(s: CommandServices, inv: Invocation, *, auto: bool) -> SlackMessage:
    if auto:
        report = await s.links.auto_link(inv.team_id, actor=inv.user_id)
        return link_report_message(report.unmatched, linked=len(report.linked), skipped=report.skipped)
    return link_report_message(await s.links.unmatched(inv.team_id))


async def _unlink(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    """`unlink [@someone] [zoho|ispring]`: shows what would go, with "Unlink …" / "Cancel"; nothing changes yet."""
    target: str | None = None
    provider: Provider | None = None
    for word in inv.args:
        if word.lower() in {p.value for p in Provider}:
            provider = Provider(word.lower())
        elif target is None:
            target = await mentioned(s.slack, inv, word)
        else:
            await reply(respond, bad_arguments_message("unlink", problem="Name one person and, optionally, one LMS."))
            return
    if target is not None and target != inv.user_id:
        await s.roles.require_admin(inv.team_id, inv.user_id, "unlink other people")
    target = target or inv.user_id
    own = target == inv.user_id
    links = await s.links.links_of(inv.team_id, target, provider)
    if not links:
        await reply(respond, not_linked_message(target, provider, own=own))
        return
    shown = [(Provider(link.provider), link.learner_id) for link in links]
    await reply(respond, unlink_confirm(target, shown, own=own, scope=",".join(p for p, _ in shown)))


async def _connect(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    await s.roles.require_admin(inv.team_id, inv.user_id, "connect an LMS")
    which = inv.args[0].lower() if inv.args else ""
    if which == Provider.ISPRING:
        await modals.open_connect_ispring(client, inv.trigger_id)
        return
    if which != Provider.ZOHO:
        await reply(respond, bad_arguments_message("connect", problem="Connect `zoho` or `ispring`."))
        return
    url = await s.connections.start_zoho(inv.team_id, inv.user_id, inv.args[1] if len(inv.args) > 1 else None)
    await reply(respond, connect_zoho_message(url))


async def _edit_module(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    await s.roles.require_editor(inv.team_id, inv.user_id)
    await modals.open_module_edit(s.modals, client, inv.trigger_id, inv.team_id, inv.args[0] if inv.args else None)


async def _track(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    await s.roles.require_admin(inv.team_id, inv.user_id, "track modules")
    await modals.open_track(s.modals, client, inv.trigger_id, inv.team_id)


async def _untrack(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    await s.roles.require_admin(inv.team_id, inv.user_id, "untrack modules")
    if inv.args:
        removed = await s.tracking.untrack(inv.team_id, inv.user_id, inv.args[0])
        await reply(respond, untracked_message(removed.label if removed else None, inv.args[0]))
        return
    await reply(respond, untrack_message(await s.tracking.list(inv.team_id)))


async def _remind(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    await reply(respond, await remind_command(s.remind, inv.team_id, inv.user_id, inv.args))


async def _status(s: CommandServices, inv: Invocation, respond: AsyncRespond, client: AsyncWebClient) -> None:
    roles = await s.roles.roles(inv.team_id, inv.user_id)
    report = await s.status.report(inv.team_id, inv.user_id, admin=roles.admin)
    if roles.admin:
        await reply(respond, status_message(report))
        return
    reminders = await s.preferences.settings(inv.team_id, inv.user_id)
    await reply(respond, learner_status_message(report, reminders, now=utc(s.clock), manager=roles.can_see_others))


def _provider_word(word: str | None) -> Provider | None:
    if word is None:
        return None
    try:
        return Provider(word.lower())
    except ValueError as exc:
        raise ValidationError(f"`{word}` is not an LMS: use zoho or ispring.") from exc


SUBCOMMANDS: dict[str, Subcommand] = {
    "help": _help,
    "progress": _progress,
    "plans": _plans,
    "sessions": _sessions,
    "results": _results,
    "link": _link,
    "unlink": _unlink,
    "connect": _connect,
    "edit-module": _edit_module,
    "track": _track,
    "untrack": _untrack,
    "remind": _remind,
    "status": _status,
}
_ALIASES = {"edit": "edit-module", "edit_module": "edit-module", "plan": "plans", "session": "sessions"}
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def register(app: AsyncApp, services: CommandServices) -> None:
    @app.command("/lms")
    @guarded
    async def lms_command(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        words = split_args(str(body.get("text") or ""))
        name = (words[0].lower() if words else "help").strip()
        name = _ALIASES.get(name, name)
        invocation = Invocation(
            team_id=str(body.get("team_id") or ""),
            user_id=str(body.get("user_id") or ""),
            args=words[1:],
            trigger_id=str(body.get("trigger_id") or ""),
            body=body,
        )
        handler = SUBCOMMANDS.get(name)
        if handler is None:
            await reply(respond, unknown_command_message(name))
            return
        await handler(services, invocation, respond, client)  # a failure: the error boundary answers

    @app.action(PROGRESS_MORE_ACTION)
    @guarded
    async def progress_more(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        value = str((body.get("actions") or [{}])[0].get("value") or "0")
        await _progress_page(
            services, team_of(body), user_of(body), respond, start=int(value) if value.isdigit() else 0
        )
