"""Building LMS clients from settings: one HTTP connection pool and one rate limiter for both."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import TracebackType
from typing import Literal
from zoneinfo import ZoneInfo

import httpx

from bot.clock import Clock
from bot.config import Settings
from bot.lms.errors import NotConnectedError, ValidationError
from bot.lms.exchange import HttpLimits
from bot.lms.ispring import ISpringClient
from bot.lms.options import ISpringAuthScheme
from bot.lms.pool import PooledClient, environment_proxies, lms_transport
from bot.lms.ratelimit import (
    MemoryBackend,
    RateLimitBackend,
    RateLimiter,
    RateLimitPolicy,
    RedisBackend,
)
from bot.lms.tokens import ISpringClientCredentialsSource, TokenStore, ZohoRefreshTokenSource
from bot.lms.transport import LmsTransport, RetryPolicy
from bot.lms.zoho import ZohoClient

USER_AGENT = "lmsbot/0.1 (+https://github.com/lmsbot/lmsbot)"


def account_key(provider: str, base_url: str, client_id: str, grant: str = "") -> str:
    """A stable, non-secret name for one LMS account's rate-limit budget.

    Workspaces connected through the bot's own Zoho OAuth app share its client id, so the grant (the refresh
    token, hashed) tells their budgets apart; processes using the same grant share one budget.
    """
    digest = hashlib.sha256(f"{base_url}|{client_id}|{grant}".encode()).hexdigest()[:12]
    return f"{provider}:{digest}"


@dataclass(frozen=True, slots=True)
class ZohoCredentials:
    people_url: str
    accounts_url: str
    client_id: str
    client_secret: str
    refresh_token: str

    def __repr__(self) -> str:  # never print the secrets
        return f"ZohoCredentials(people_url={self.people_url!r}, client_id={self.client_id!r})"


@dataclass(frozen=True, slots=True)
class ISpringCredentials:
    api_url: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"ISpringCredentials(api_url={self.api_url!r}, client_id={self.client_id!r})"


def zoho_credentials(settings: Settings) -> ZohoCredentials | None:
    """The Zoho connection configured in the environment (single-workspace mode and the CLI)."""
    s = settings
    if not (s.zoho_client_id and s.zoho_client_secret and s.zoho_refresh_token):
        return None
    return ZohoCredentials(
        s.zoho_people_url,
        s.zoho_accounts_url,
        s.zoho_client_id,
        s.zoho_client_secret.get_secret_value(),
        s.zoho_refresh_token.get_secret_value(),
    )


def ispring_credentials(settings: Settings) -> ISpringCredentials | None:
    s = settings
    if not (s.ispring_client_id and s.ispring_client_secret):
        return None
    return ISpringCredentials(s.ispring_api_url, s.ispring_client_id, s.ispring_client_secret.get_secret_value())


def http_limits(settings: Settings) -> HttpLimits:
    return HttpLimits(deadline=settings.lms_call_deadline_seconds, max_bytes=settings.lms_max_response_bytes)


# One pool for every LMS account of the process. Enough connections that a burst of commands (each fanning
# out to a few module calls) never queues behind the pool; every one a burst opened is kept, long enough to be
# reused by the next burst (a new one costs a TCP and TLS handshake: keeping only 64 made a burst of 50 commands
# open 160 connections again), and closed before servers typically drop them (60 s or more).
LMS_POOL_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=256, keepalive_expiry=30.0)


def build_http(settings: Settings) -> httpx.AsyncClient:
    return PooledClient(
        timeout=httpx.Timeout(settings.lms_timeout_seconds, connect=min(10.0, settings.lms_timeout_seconds)),
        limits=LMS_POOL_LIMITS,
        pool=None if environment_proxies() else lms_transport(LMS_POOL_LIMITS),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )


def build_rate_limiter(
    settings: Settings, clock: Clock | None = None, database_backend: RateLimitBackend | None = None
) -> RateLimiter:
    policy = RateLimitPolicy(
        limit=settings.lms_rate_limit,
        window=settings.lms_rate_window_seconds,
        lock_seconds=settings.lms_lock_seconds,
        interactive_reserve=settings.lms_interactive_reserve,
    )
    backend: RateLimitBackend
    if settings.rate_limit_backend == "redis":
        from redis.asyncio import Redis

        backend = RedisBackend(Redis.from_url(settings.redis_url))
    elif settings.rate_limit_backend == "database":
        if database_backend is None:
            raise ValidationError("RATE_LIMIT_BACKEND=database needs the database (it is set up by the bot)")
        backend = database_backend
    else:
        backend = MemoryBackend()
    return RateLimiter(backend, policy, clock, zone=ZoneInfo(settings.lms_timezone))


class LmsClients:
    """Async context manager giving the Zoho and iSpring clients of one LMS account.

    By default the credentials come from the environment; the bot passes each workspace's stored ones and
    shares one HTTP pool and one rate limiter between all of them.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        limiter: RateLimiter | None = None,
        http: httpx.AsyncClient | None = None,
        zoho: ZohoCredentials | Literal["env"] | None = "env",
        ispring: ISpringCredentials | Literal["env"] | None = "env",
        zoho_token_store: TokenStore | None = None,
        ispring_token_store: TokenStore | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.limiter = limiter or build_rate_limiter(settings)
        self._own_http = http is None
        self.http = http or build_http(settings)
        self._retry = retry or RetryPolicy(max_retries=settings.lms_max_retries)
        self._zoho_credentials = zoho_credentials(settings) if zoho == "env" else zoho
        self._ispring_credentials = ispring_credentials(settings) if ispring == "env" else ispring
        self._zoho_store = zoho_token_store
        self._ispring_store = ispring_token_store
        self._zoho: ZohoClient | None = None
        self._ispring: ISpringClient | None = None

    async def __aenter__(self) -> LmsClients:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    @property
    def has_zoho(self) -> bool:
        return self._zoho_credentials is not None

    @property
    def has_ispring(self) -> bool:
        return self._ispring_credentials is not None

    @property
    def zoho(self) -> ZohoClient:
        if self._zoho is None:
            creds = self._zoho_credentials
            if creds is None:
                raise NotConnectedError(
                    "not configured: set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN",
                    provider="Zoho",
                )
            s = self.settings
            auth = ZohoRefreshTokenSource(
                accounts_url=creds.accounts_url,
                client_id=creds.client_id,
                client_secret=creds.client_secret,
                refresh_token=creds.refresh_token,
                http=self.http,
                clock=self.limiter.clock,
                store=self._zoho_store,
                limits=http_limits(s),
            )
            transport = LmsTransport(
                provider="Zoho",
                base_url=creds.people_url,
                http=self.http,
                auth=auth,
                account=account_key("zoho", creds.people_url, creds.client_id, creds.refresh_token),
                limiter=self.limiter,
                retry=self._retry,
                lock_on_422=s.zoho_422_is_lock,
                limits=http_limits(s),
                # Zoho caps the whole organisation's calls per day; iSpring documents no daily cap.
                daily_budget=s.zoho_daily_budget,
            )
            self._zoho = ZohoClient(
                transport, date_order=s.zoho_date_order, module_data_transport=s.zoho_module_data_transport
            )
        return self._zoho

    @property
    def ispring(self) -> ISpringClient:
        if self._ispring is None:
            creds = self._ispring_credentials
            if creds is None:
                raise NotConnectedError(
                    "not configured: set ISPRING_CLIENT_ID and ISPRING_CLIENT_SECRET", provider="iSpring"
                )
            s = self.settings
            auth = ISpringClientCredentialsSource(
                api_url=creds.api_url,
                client_id=creds.client_id,
                client_secret=creds.client_secret,
                http=self.http,
                bearer=s.ispring_auth_scheme is ISpringAuthScheme.BEARER,
                clock=self.limiter.clock,
                store=self._ispring_store,
                limits=http_limits(s),
            )
            transport = LmsTransport(
                provider="iSpring",
                base_url=creds.api_url,
                http=self.http,
                auth=auth,
                account=account_key("ispring", creds.api_url, creds.client_id),
                limiter=self.limiter,
                retry=self._retry,
                limits=http_limits(s),
            )
            self._ispring = ISpringClient(transport, response_format=s.ispring_response_format)
        return self._ispring
