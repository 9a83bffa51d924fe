"""Access-token caching for the LMS clients in the database (encrypted), shared by every process.

`DatabaseTokenStore` satisfies bot.lms.tokens.TokenStore structurally, so a token one process fetched is
reused by the others until it expires (Zoho limits how many access tokens a refresh token may mint).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot.lms.tokens import AccessToken
from storage.repositories.connections import ConnectionRepository

log = logging.getLogger(__name__)


class DatabaseTokenStore:
    def __init__(self, connections: ConnectionRepository, team_id: str, provider: str) -> None:
        self._connections = connections
        self._team_id = team_id
        self._provider = provider
        # When the workspace has no connection row (credentials from the environment), keep the token here.
        self._fallback: AccessToken | None = None

    def __repr__(self) -> str:
        return f"DatabaseTokenStore(team_id={self._team_id!r}, provider={self._provider!r})"

    async def load(self) -> AccessToken | None:
        stored = await self._connections.load_access_token(self._team_id, self._provider)
        if stored is None:
            return self._fallback
        return AccessToken(value=stored.value, expires_at=stored.expires_at.timestamp(), scope=stored.scope)

    async def save(self, token: AccessToken) -> None:
        expires_at = datetime.fromtimestamp(token.expires_at, UTC)
        saved = await self._connections.save_access_token(
            self._team_id, self._provider, token.value, expires_at, token.scope
        )
        if not saved and await self._connections.get(self._team_id, self._provider) is None:
            log.debug(
                "no %s connection stored for %s; caching the access token in memory", self._provider, self._team_id
            )
            self._fallback = token

    async def clear(self) -> None:
        self._fallback = None
        await self._connections.clear_access_token(self._team_id, self._provider)
