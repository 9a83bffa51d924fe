"""A workspace's life with the app: uninstalled, tokens revoked, purged.

- `app_uninstalled`: Slack has revoked every token. Its Slack tokens are deleted, the workspace is marked
  uninstalled (so the reminder sweep skips it: no LMS call and no Slack call for it), and everything else is
  kept — links, reminder settings, tracked modules, the LMS connection — so a reinstall carries on where it
  stopped. `lmsbot workspace purge --team T` deletes it all.
- `tokens_revoked`: per its payload. The bot's token revoked is an uninstall for this app (it only acts as its
  bot); only some users' tokens revoked: those user tokens are deleted and nothing else changes.

Installed again: in multi-workspace mode Bolt's install flow saves a new bot token, and the workspace counts as
installed from then on; in single-workspace mode, once SLACK_BOT_TOKEN holds a token other than the revoked one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from bot.config import Settings
from bot.services.slack_gateway import SlackGateway
from storage.repositories.workspaces import UninstallMark, WorkspaceRepository

log = logging.getLogger(__name__)

APP_UNINSTALLED = "app_uninstalled"
TOKENS_REVOKED = "tokens_revoked"


def token_fingerprint(token: str) -> str:
    """Which token was revoked, without keeping it: a SHA-256 prefix (tokens are long random strings)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Revocation:
    """What Slack revoked in one `tokens_revoked` event, and what the bot deleted."""

    team_id: str
    users: tuple[str, ...]
    bot: bool
    deleted_rows: int


class WorkspaceService:
    def __init__(self, settings: Settings, repo: WorkspaceRepository, slack: SlackGateway) -> None:
        self.settings = settings
        self._repo = repo
        self.slack = slack

    async def uninstalled(
        self, team_id: str, *, enterprise_id: str | None = None, reason: str = APP_UNINSTALLED
    ) -> int:
        """The app is gone from the workspace: delete its Slack tokens, stop its reminders. Rows deleted."""
        deleted = await self._repo.delete_slack_tokens(team_id)
        await self._repo.mark_uninstalled(
            team_id, enterprise_id=enterprise_id, reason=reason, token_fingerprint=self._configured_fingerprint()
        )
        self.slack.forget_workspace(team_id)
        log.warning(
            "workspace %s: %s; its Slack tokens are deleted (%d row(s)) and reminders stopped; its other data is "
            "kept until `lmsbot workspace purge --team %s`",
            team_id,
            reason.replace("_", " "),
            deleted,
            team_id,
        )
        return deleted

    async def tokens_revoked(
        self, team_id: str, tokens: dict[str, Iterable[str]], *, enterprise_id: str | None = None
    ) -> Revocation:
        """`tokens`: the event's `tokens` object, `{"oauth": [user ids], "bot": [bot user ids]}`."""
        users = tuple(str(u) for u in tokens.get("oauth") or ())
        bot = bool(list(tokens.get("bot") or ()))
        deleted = 0
        if bot:  # without its bot token the app can do nothing here: as good as uninstalled
            deleted = await self.uninstalled(team_id, enterprise_id=enterprise_id, reason=TOKENS_REVOKED)
        elif users:
            deleted = await self._repo.delete_user_tokens(team_id, list(users))
            log.info("workspace %s: %d user token(s) revoked, %d deleted", team_id, len(users), deleted)
        return Revocation(team_id, users, bot, deleted)

    async def can_remind(self, team_id: str) -> bool:
        """Whether the bot may act in the workspace on its own (sweeps): it has a bot token there."""
        mark = await self._repo.uninstall_mark(team_id)
        if self.settings.multi_workspace and self.slack.installation_store is not None:
            bot = await self.slack.installation_store.async_find_bot(enterprise_id=None, team_id=team_id)
            if bot is not None and bot.bot_token:
                return True  # installed (again, if it was marked): the install flow saved a bot token
            if self.settings.slack_bot_token is None:
                return False
        return mark is None or self._revoked_token_replaced(mark)

    async def uninstall_mark(self, team_id: str) -> UninstallMark | None:
        return await self._repo.uninstall_mark(team_id)

    async def installed_teams(self) -> list[str]:
        return await self._repo.installed_teams()

    async def inventory(self, team_id: str) -> dict[str, int]:
        return await self._repo.inventory(team_id)

    async def purge(self, team_id: str) -> dict[str, int]:
        """Delete everything of the workspace: rows deleted per table."""
        counts = await self._repo.purge(team_id)
        self.slack.forget_workspace(team_id)
        log.warning("workspace %s purged: %d row(s) deleted", team_id, sum(counts.values()))
        return counts

    def _configured_fingerprint(self) -> str | None:
        token = self.settings.slack_bot_token
        return token_fingerprint(token.get_secret_value()) if token is not None else None

    def _revoked_token_replaced(self, mark: UninstallMark) -> bool:
        current = self._configured_fingerprint()
        return mark.token_fingerprint is not None and current is not None and current != mark.token_fingerprint
