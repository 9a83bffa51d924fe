"""`app_uninstalled` and `tokens_revoked`: Slack says the app lost its tokens in a workspace.

Both arrive without a usable token (Bolt authorizes them without auth.test); the listeners only tell the
workspace service, which deletes the tokens and stops the workspace's reminders (bot.services.workspaces).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.services.workspaces import WorkspaceService
from handlers.context import team_of
from handlers.errors import guarded


def register(app: AsyncApp, workspaces: WorkspaceService) -> None:
    @app.event("app_uninstalled")
    @guarded
    async def app_uninstalled(body: dict[str, Any], context: AsyncBoltContext) -> None:
        team = context.team_id or team_of(body)
        if team:
            await workspaces.uninstalled(team, enterprise_id=context.enterprise_id)

    @app.event("tokens_revoked")
    @guarded
    async def tokens_revoked(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        team = context.team_id or team_of(body)
        tokens = event.get("tokens")
        if team and isinstance(tokens, dict):
            await workspaces.tokens_revoked(team, tokens, enterprise_id=context.enterprise_id)
