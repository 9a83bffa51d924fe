"""`/lms results` buttons (‹ Previous, Next 40 ›, Export CSV) and the weekly digest's "Nudge them".

Paging replaces the list in place (response_url, replace_original); each button carries the filter words and
the offset, so a click re-reads the same (cached) list. The CSV goes to the manager's DM with the bot: a list
of people's results is not something to share into the channel the command was typed in.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.nudges import NudgeService
from handlers.context import reply, team_of, user_of
from handlers.errors import guarded
from handlers.invocation import Invocation, split_args
from handlers.results_query import ResultsServices, results_report
from handlers.views.manager_digest import NUDGE_ACTION, nudge_dm, nudged_message, nudged_note, nudged_reply
from handlers.views.results import (
    RESULTS_CSV_ACTION,
    RESULTS_NEXT_ACTION,
    RESULTS_PREV_ACTION,
    csv_comment,
    csv_needs_reinstall_message,
    csv_sent_message,
    no_results_message,
    read_page_value,
    results_csv,
    results_message,
)

log = logging.getLogger(__name__)


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")


def _invocation(body: dict[str, Any], query: str) -> Invocation:
    return Invocation(team_of(body), user_of(body), split_args(query), str(body.get("trigger_id") or ""), body)


def register(app: AsyncApp, results: ResultsServices, nudges: NudgeService) -> None:
    async def page(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        query, offset = read_page_value(_value(body))
        report, title = await results_report(results, _invocation(body, query))
        shown = results_message(report, title=title, offset=offset, query=query)
        await respond(text=shown["text"], blocks=shown["blocks"], replace_original=True)

    @app.action(RESULTS_NEXT_ACTION)
    @guarded
    async def next_page(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await page(ack, body, respond)

    @app.action(RESULTS_PREV_ACTION)
    @guarded
    async def previous_page(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await page(ack, body, respond)

    async def ack_export(ack: AsyncAck) -> None:
        await ack()

    async def export_csv(body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        """A lazy listener (reading every result and uploading a file can take a while): behind `guarded`."""
        query, _offset = read_page_value(_value(body))
        inv = _invocation(body, query)
        report, title = await results_report(results, inv)
        if not report.results:
            await reply(respond, no_results_message())
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%d")
        rows = len(report.results)
        try:
            channel = await results.slack.dm_channel(inv.team_id, inv.user_id)
            await client.files_upload_v2(
                channel=channel,
                content=results_csv(report),
                filename=f"lms-results-{stamp}.csv",
                title=f"{title} ({report.scope or 'all'}, {stamp})",
                initial_comment=csv_comment(title, rows, query),
            )
        except SlackApiError as exc:
            if exc.response.get("error") not in ("missing_scope", "not_allowed_token_type"):
                raise
            # Installed before CSV exports existed: Slack refuses until the app is reinstalled with files:write.
            await reply(respond, csv_needs_reinstall_message())
            return
        await reply(respond, csv_sent_message(rows))

    app.action(RESULTS_CSV_ACTION)(ack=ack_export, lazy=[guarded(export_csv)])

    @app.action(NUDGE_ACTION)
    @guarded
    async def nudge(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        outcome = await nudges.nudge_overdue(team_of(body), user_of(body), nudge_dm)
        note = nudged_note(outcome.nudged, outcome.already, outcome.unreachable, outcome.failed)
        original = body.get("message")
        if original:  # the digest shows what was done, in place of the button
            shown = nudged_message(original, note)
            await respond(text=shown["text"], blocks=shown["blocks"], replace_original=True)
        else:
            await reply(respond, nudged_reply(note))
