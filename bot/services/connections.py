"""Connecting a workspace to its LMS.

Zoho: an OAuth authorization-code flow through the bot's own web endpoints. `start` issues a single-use,
expiring state and gives the admin a link to /connect/zoho/start; that redirects to the Zoho Accounts
authorize page of the chosen data center; Zoho redirects back to /connect/zoho/callback with a code, which is
exchanged for a refresh token that is stored encrypted.

iSpring: the API key (client id and secret) is checked by fetching a token before anything is saved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx

from bot.config import ZOHO_DATA_CENTERS, Settings, normalize_data_center
from bot.errors import Problem, UserError
from bot.lms.errors import LMSError
from bot.lms.factory import http_limits
from bot.lms.tokens import ISpringClientCredentialsSource, exchange_zoho_code
from bot.services.registry import LmsRegistry
from bot.services.types import ConnectionState, Provider
from storage.repositories.audit import AuditRepository
from storage.repositories.connect_states import ConnectStateRepository
from storage.repositories.connections import ConnectionRepository, ProviderConnection

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
CALLBACK_PATH = "/connect/zoho/callback"
START_PATH = "/connect/zoho/start"
# Zoho's `location` parameter on the redirect, mapped to our data-center keys.
_LOCATIONS = {"us": "com", "eu": "eu", "in": "in", "au": "com.au", "jp": "jp", "ca": "ca", "sa": "sa", "uk": "uk"}
_LOCATIONS["cn"] = "com.cn"


class ConnectError(UserError):
    """The connection could not be made: its Problem says why (its details never carry a secret)."""


@dataclass(frozen=True, slots=True)
class ZohoConnected:
    team_id: str
    slack_user_id: str
    connection: ProviderConnection


class ConnectionService:
    def __init__(
        self,
        settings: Settings,
        connections: ConnectionRepository,
        states: ConnectStateRepository,
        audit: AuditRepository,
        registry: LmsRegistry,
        http: httpx.AsyncClient,
    ) -> None:
        self.settings = settings
        self.connections = connections
        self.states = states
        self.audit = audit
        self.registry = registry
        self.http = http

    @property
    def redirect_uri(self) -> str:
        return self.settings.lmsbot_public_url + CALLBACK_PATH

    async def start_zoho(self, team_id: str, slack_user_id: str, data_center: str | None = None) -> str:
        """The link an admin opens to connect Zoho (valid for STATE_TTL, once)."""
        if not (self.settings.zoho_client_id and self.settings.zoho_client_secret):
            raise ConnectError(Problem.ZOHO_CLIENT_MISSING, redirect_uri=self.redirect_uri)
        try:
            dc = normalize_data_center(data_center) if data_center else self.settings.zoho_data_center
        except ValueError as exc:
            raise ConnectError(Problem.UNKNOWN_DATA_CENTER, detail=str(exc)) from exc
        state = await self.states.issue(team_id, slack_user_id, Provider.ZOHO, dc, STATE_TTL)
        query = {"state": state, **({"dc": dc} if dc else {})}
        return f"{self.settings.lmsbot_public_url}{START_PATH}?{urlencode(query)}"

    def authorize_url(self, state: str, data_center: str | None) -> str:
        """Zoho Accounts' consent page for the chosen data center (or the configured accounts URL)."""
        accounts = self._accounts_url(data_center)
        query = {
            "response_type": "code",
            "client_id": self.settings.zoho_client_id or "",
            "scope": self.settings.zoho_scopes,
            "redirect_uri": self.redirect_uri,
            "access_type": "offline",
            "prompt": "consent",
            "state": state,
        }
        return f"{accounts}/oauth/v2/auth?{urlencode(query)}"

    async def finish_zoho(
        self, *, code: str, state: str, location: str | None = None, accounts_server: str | None = None
    ) -> ZohoConnected:
        """The redirect came back: check the state, exchange the code, store the refresh token encrypted."""
        pending = await self.states.consume(state)
        if pending is None:
            raise ConnectError(Problem.CONNECT_LINK_EXPIRED)
        accounts, people, dc = self._resolve_data_center(pending.data_center, location, accounts_server)
        client_id = self.settings.zoho_client_id
        secret = self.settings.zoho_client_secret
        if not (client_id and secret):
            raise ConnectError(Problem.ZOHO_CLIENT_NOT_CONFIGURED)
        try:
            grant = await exchange_zoho_code(
                self.http,
                accounts_url=accounts,
                client_id=client_id,
                client_secret=secret.get_secret_value(),
                code=code,
                redirect_uri=self.redirect_uri,
                limits=http_limits(self.settings),
            )
        except LMSError as exc:
            raise ConnectError(Problem.ZOHO_REFUSED_GRANT, lms_message=exc.message) from exc
        connection = await self.connections.save_zoho(
            pending.team_id,
            data_center=dc,
            api_url=people,
            accounts_url=accounts,
            client_id=client_id,
            client_secret=None,  # the app's own secret stays in the environment
            refresh_token=grant.refresh_token,
            scopes=grant.scope,
            connected_by=pending.slack_user_id,
        )
        # The first access token is good for an hour: keep it rather than minting another straight away.
        clock = self.registry.limiter.clock
        expires_at = datetime.fromtimestamp(clock.now() + grant.expires_in, UTC)
        await self.connections.save_access_token(
            pending.team_id, Provider.ZOHO, grant.access_token, expires_at, grant.scope
        )
        await self.audit.record(
            pending.team_id,
            pending.slack_user_id,
            "connect",
            "zoho",
            None,
            {"data_center": dc, "people_url": people, "scopes": grant.scope},
        )
        self.registry.forget(pending.team_id)
        log.info("Zoho connected for workspace %s (data center %s)", pending.team_id, dc or "custom")
        return ZohoConnected(pending.team_id, pending.slack_user_id, connection)

    async def connect_ispring(
        self,
        team_id: str,
        slack_user_id: str,
        *,
        client_id: str,
        client_secret: str,
        api_url: str | None = None,
    ) -> ProviderConnection:
        """Save an iSpring API key, but only once iSpring has issued a token for it."""
        client_id, client_secret = client_id.strip(), client_secret.strip()
        if not client_id or not client_secret:
            raise ConnectError(Problem.ISPRING_KEY_INCOMPLETE)
        url = (api_url or self.settings.ispring_api_url).rstrip("/")
        source = ISpringClientCredentialsSource(
            api_url=url,
            client_id=client_id,
            client_secret=client_secret,
            http=self.http,
            limits=http_limits(self.settings),
        )
        try:
            await source.token()
        except LMSError as exc:
            raise ConnectError(Problem.ISPRING_KEY_REFUSED, lms_message=exc.message) from exc
        connection = await self.connections.save_ispring(
            team_id, api_url=url, client_id=client_id, client_secret=client_secret, connected_by=slack_user_id
        )
        await self.audit.record(
            team_id, slack_user_id, "connect", "ispring", None, {"api_url": url, "client_id": client_id}
        )
        self.registry.forget(team_id)
        return connection

    async def purge_expired_states(self) -> int:
        """Forget connect links that expired or were used over a day ago (they can never be used again)."""
        return await self.states.purge()

    async def describe(self, team_id: str) -> dict[Provider, ConnectionState]:
        """How each provider is connected, for `/lms status` and App Home."""
        lms = await self.registry.for_team(team_id)
        out: dict[Provider, ConnectionState] = {}
        for provider, configured in ((Provider.ZOHO, lms.has_zoho), (Provider.ISPRING, lms.has_ispring)):
            stored = await self.connections.get(team_id, provider)
            if stored is not None:
                out[provider] = ConnectionState("admin", stored.data_center, stored.connected_by, stored.updated_at)
            else:
                out[provider] = ConnectionState("configuration" if configured else None)
        return out

    def _accounts_url(self, data_center: str | None) -> str:
        # The configured URL serves the configured data center (and stands in for a sandbox or proxy).
        if data_center and data_center in ZOHO_DATA_CENTERS and data_center != self.settings.zoho_data_center:
            return ZOHO_DATA_CENTERS[data_center][1]
        return self.settings.zoho_accounts_url

    def _resolve_data_center(
        self, chosen: str | None, location: str | None, accounts_server: str | None
    ) -> tuple[str, str, str | None]:
        """(accounts URL, People API URL, data center) for the grant.

        Zoho says where the user's account lives (`location`, `accounts-server`); we only ever send our client
        secret to an accounts server we know: one of Zoho's data centers or the configured ZOHO_ACCOUNTS_URL.
        """
        configured = self.settings.zoho_accounts_url
        if accounts_server:
            server = accounts_server.rstrip("/")
            if server == configured:
                return configured, self.settings.zoho_people_url, self.settings.zoho_data_center
            for dc, (people, accounts) in ZOHO_DATA_CENTERS.items():
                if server == accounts:
                    return accounts, people, dc
            raise ConnectError(Problem.UNKNOWN_ACCOUNTS_SERVER, server=server)
        wanted = _LOCATIONS.get((location or "").lower()) or chosen
        if wanted and wanted in ZOHO_DATA_CENTERS and wanted != self.settings.zoho_data_center:
            people, accounts = ZOHO_DATA_CENTERS[wanted]
            return accounts, people, wanted
        return configured, self.settings.zoho_people_url, self.settings.zoho_data_center
