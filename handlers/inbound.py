"""Global middleware, for HTTP and Socket Mode alike: only the configured workspace, and each event once.

- Single-workspace mode (SLACK_BOT_TOKEN): a request from any other workspace is refused before a listener
  runs, so nothing is written for it. The configured workspace is what Bolt's own `auth.test` (made once,
  for authorization) answered; a slash command is told "not installed in this workspace".
- Events are recorded by `event_id`: Slack redelivers an event it thinks was missed, with the same id, and
  Socket Mode hides the retry headers, so the id is the only sign. (Over HTTP, bot.slack_guard has already
  recorded it in the same transaction as the request; then this only checks the mark it left.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.deliveries import DeliveryLedger
from bot.slack_guard import RECORDED_EVENT_ID, event_id_of
from handlers.context import team_of

log = logging.getLogger(__name__)

NOT_INSTALLED = "This app is not installed in this workspace."
Next = Callable[[], Awaitable[None]]
LIFECYCLE_EVENTS = frozenset({"app_uninstalled", "tokens_revoked"})
REVOKED = frozenset({"token_revoked", "invalid_auth", "account_inactive"})


def _is_lifecycle_event(body: dict[str, Any]) -> bool:
    event = body.get("event")
    return body.get("type") == "event_callback" and isinstance(event, dict) and event.get("type") in LIFECYCLE_EVENTS


class ConfiguredWorkspace:
    """The one workspace SLACK_BOT_TOKEN belongs to, learned once."""

    def __init__(self) -> None:
        self.team_id: str | None = None
        self._lock = asyncio.Lock()

    async def get(self, context: AsyncBoltContext, client: AsyncWebClient) -> str:
        if self.team_id is None:
            result = context.authorize_result
            if result is not None and result.bot_token and result.team_id:
                self.team_id = result.team_id  # from Bolt's auth.test: no extra call
            else:  # the few events Bolt authorizes without auth.test (app_uninstalled, tokens_revoked, …)
                async with self._lock:
                    if self.team_id is None:
                        self.team_id = str((await client.auth_test())["team_id"])
        return self.team_id


def register(app: AsyncApp, deliveries: DeliveryLedger, *, multi_workspace: bool) -> None:
    if not multi_workspace:  # several workspaces: Bolt's installation store decides
        workspace = ConfiguredWorkspace()

        @app.middleware
        async def only_the_configured_workspace(
            context: AsyncBoltContext, body: dict[str, Any], client: AsyncWebClient, next: Next
        ) -> BoltResponse | None:
            if context.authorize_result is None:  # url_verification, ssl_check: nothing to run for a team
                await next()
                return None
            try:
                configured = await workspace.get(context, client)
            except SlackApiError as exc:
                if not _is_lifecycle_event(body) or exc.response.get("error") not in REVOKED:
                    raise
                # app_uninstalled / tokens_revoked before this process learned its workspace: the token is
                # already revoked, so auth.test cannot say which workspace it served. The event is signed by
                # Slack and its listeners only act on the workspace it names: let it through.
                await next()
                return None
            team = team_of(body)
            if team == configured:
                await next()
                return None
            log.warning("refused a request from workspace %r: this app serves %s", team, configured)
            is_command = isinstance(body.get("command"), str)
            return BoltResponse(status=200, body=NOT_INSTALLED if is_command else "")

    @app.middleware
    async def each_event_once(context: AsyncBoltContext, body: dict[str, Any], next: Next) -> BoltResponse | None:
        event_id = event_id_of(body)
        if event_id is None or context.get(RECORDED_EVENT_ID) == event_id:
            await next()
            return None
        if await deliveries.first_time(event_id=event_id):
            await next()
            return None
        log.info("ignored event %s: already taken in", event_id)
        return BoltResponse(status=200, body="")
