"""Which LMS account a workspace uses: its stored connection, else the one configured in the environment.

All workspaces share one HTTP pool and one rate limiter (whose budget is per LMS account and endpoint, and
may itself be shared with other processes through Redis or the database).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bot.config import Settings
from bot.lms.factory import (
    ISpringCredentials,
    LmsClients,
    ZohoCredentials,
    ispring_credentials,
    zoho_credentials,
)
from bot.lms.ratelimit import RateLimiter
from bot.lms.tokens import MemoryTokenStore, TokenStore
from bot.lms.transport import RetryPolicy
from bot.services.types import Provider
from storage.repositories.connections import ConnectionRepository, ProviderConnection

# Another process (web or worker) may reconnect a workspace: look at the stored connection again this often.
_TTL_SECONDS = 60.0


@dataclass
class _Entry:
    clients: LmsClients
    loaded_at: float


class LmsRegistry:
    def __init__(
        self,
        settings: Settings,
        connections: ConnectionRepository,
        limiter: RateLimiter,
        http: httpx.AsyncClient,
        token_store: Callable[[str, Provider], TokenStore] | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.connections = connections
        self.limiter = limiter
        self.http = http
        self._token_store = token_store
        self._retry = retry
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._stores: dict[tuple[str, Provider, bool], TokenStore] = {}

    async def for_team(self, team_id: str) -> LmsClients:
        entry = self._entries.get(team_id)
        if entry and self._clock() - entry.loaded_at < _TTL_SECONDS:
            return entry.clients
        zoho_conn = await self.connections.get(team_id, Provider.ZOHO)
        ispring_conn = await self.connections.get(team_id, Provider.ISPRING)
        # The environment's LMS accounts serve the one workspace of single-workspace mode only: in
        # multi-workspace mode a workspace that never connected must not reach the operator's accounts.
        env = not self.settings.multi_workspace
        clients = LmsClients(
            self.settings,
            limiter=self.limiter,
            http=self.http,
            zoho=_zoho(zoho_conn, self.settings) if zoho_conn else (zoho_credentials(self.settings) if env else None),
            ispring=_ispring(ispring_conn) if ispring_conn else (ispring_credentials(self.settings) if env else None),
            zoho_token_store=self._store(team_id, Provider.ZOHO, stored=zoho_conn is not None),
            ispring_token_store=self._store(team_id, Provider.ISPRING, stored=ispring_conn is not None),
            retry=self._retry,
        )
        self._entries[team_id] = _Entry(clients, self._clock())
        return clients

    def forget(self, team_id: str) -> None:
        """The workspace's connection changed here: build its clients afresh next time."""
        self._entries.pop(team_id, None)

    def _store(self, team_id: str, provider: Provider, *, stored: bool) -> TokenStore:
        """One token store per workspace and LMS for the life of the process, so rebuilding the clients (every
        minute, or after a reconnect) reuses the access token instead of minting another: Zoho keeps at most
        30 live access tokens per refresh token."""
        key = (team_id, provider, stored)
        if key not in self._stores:
            factory = self._token_store
            self._stores[key] = factory(team_id, provider) if stored and factory else MemoryTokenStore()
        return self._stores[key]


def _zoho(conn: ProviderConnection, settings: Settings) -> ZohoCredentials | None:
    # Connected through our OAuth app, the secret is the app's own (ZOHO_CLIENT_SECRET); a self-client
    # connection stores its own.
    secret = conn.client_secret or settings.zoho_client_secret
    if conn.refresh_token is None or secret is None:
        return None
    return ZohoCredentials(
        people_url=conn.api_url,
        accounts_url=conn.accounts_url or settings.zoho_accounts_url,
        client_id=conn.client_id,
        client_secret=secret.get_secret_value(),
        refresh_token=conn.refresh_token.get_secret_value(),
    )


def _ispring(conn: ProviderConnection) -> ISpringCredentials | None:
    if conn.client_secret is None:
        return None
    return ISpringCredentials(conn.api_url, conn.client_id, conn.client_secret.get_secret_value())
