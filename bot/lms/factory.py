"""Building LMS clients from settings: one HTTP connection pool and one rate limiter for both."""

from __future__ import annotations

import hashlib
from types import TracebackType

import httpx

from bot.config import ISpringAuthScheme, Settings
from bot.lms.errors import ValidationError
from bot.lms.ispring import ISpringClient
from bot.lms.ratelimit import (
    Clock,
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


def account_key(provider: str, base_url: str, client_id: str) -> str:
    """A stable, non-secret name for one LMS account's rate-limit budget."""
    digest = hashlib.sha256(f"{base_url}|{client_id}".encode()).hexdigest()[:12]
    return f"{provider}:{digest}"


def build_rate_limiter(settings: Settings, clock: Clock | None = None) -> RateLimiter:
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
    else:
        backend = MemoryBackend()
    return RateLimiter(backend, policy, clock)


class LmsClients:
    """Async context manager owning the HTTP pool; gives the Zoho and iSpring clients from settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        limiter: RateLimiter | None = None,
        http: httpx.AsyncClient | None = None,
        zoho_token_store: TokenStore | None = None,
        ispring_token_store: TokenStore | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.limiter = limiter or build_rate_limiter(settings)
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.lms_timeout_seconds, connect=min(10.0, settings.lms_timeout_seconds)),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        self._retry = retry or RetryPolicy(max_retries=settings.lms_max_retries)
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
    def zoho(self) -> ZohoClient:
        if self._zoho is None:
            s = self.settings
            if not (s.zoho_client_id and s.zoho_client_secret and s.zoho_refresh_token):
                raise ValidationError(
                    "Zoho is not configured: set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN"
                )
            auth = ZohoRefreshTokenSource(
                accounts_url=s.zoho_accounts_url,
                client_id=s.zoho_client_id,
                client_secret=s.zoho_client_secret.get_secret_value(),
                refresh_token=s.zoho_refresh_token.get_secret_value(),
                http=self.http,
                clock=self.limiter.clock,
                store=self._zoho_store,
            )
            transport = LmsTransport(
                provider="Zoho",
                base_url=s.zoho_people_url,
                http=self.http,
                auth=auth,
                account=account_key("zoho", s.zoho_people_url, s.zoho_client_id),
                limiter=self.limiter,
                retry=self._retry,
                lock_on_422=s.zoho_422_is_lock,
            )
            self._zoho = ZohoClient(
                transport, date_order=s.zoho_date_order, module_data_transport=s.zoho_module_data_transport
            )
        return self._zoho

    @property
    def ispring(self) -> ISpringClient:
        if self._ispring is None:
            s = self.settings
            if not (s.ispring_client_id and s.ispring_client_secret):
                raise ValidationError("iSpring is not configured: set ISPRING_CLIENT_ID and ISPRING_CLIENT_SECRET")
            auth = ISpringClientCredentialsSource(
                api_url=s.ispring_api_url,
                client_id=s.ispring_client_id,
                client_secret=s.ispring_client_secret.get_secret_value(),
                http=self.http,
                bearer=s.ispring_auth_scheme is ISpringAuthScheme.BEARER,
                clock=self.limiter.clock,
                store=self._ispring_store,
            )
            transport = LmsTransport(
                provider="iSpring",
                base_url=s.ispring_api_url,
                http=self.http,
                auth=auth,
                account=account_key("ispring", s.ispring_api_url, s.ispring_client_id),
                limiter=self.limiter,
                retry=self._retry,
            )
            self._ispring = ISpringClient(transport, response_format=s.ispring_response_format)
        return self._ispring
