"""Access tokens for both LMSs: fetched when needed, reused until shortly before they expire.

Zoho: POST {accounts}/oauth/v2/token with grant_type=refresh_token (no new refresh token comes back).
iSpring: POST {api}/api/v3/token with grant_type=client_credentials (1800 s lifetime, no refresh token).
Tokens never appear in logs or error messages.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from bot import metrics
from bot.clock import Clock, SystemClock
from bot.lms.content import read_json
from bot.lms.errors import InvalidResponseError, LMSError, UnauthorizedError, error_for_status
from bot.lms.exchange import HttpLimits, exchange

TOKEN_ENDPOINT = "token"  # the endpoint name token-request failures carry (the sweep keys on it)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    expires_at: float  # clock seconds
    scope: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"AccessToken(expires_at={self.expires_at!r}, scope={self.scope!r})"


class TokenStore(Protocol):
    """Where a cached access token lives (memory here; the database, encrypted, in storage/)."""

    async def load(self) -> AccessToken | None: ...

    async def save(self, token: AccessToken) -> None: ...

    async def clear(self) -> None: ...


class MemoryTokenStore:
    def __init__(self) -> None:
        self._token: AccessToken | None = None

    async def load(self) -> AccessToken | None:
        return self._token

    async def save(self, token: AccessToken) -> None:
        self._token = token

    async def clear(self) -> None:
        self._token = None


class TokenSource(Protocol):
    async def authorization(self) -> str:
        """The Authorization header value for the next request."""

    async def invalidate(self) -> None:
        """The LMS said 401: forget the cached token."""


class _CachedTokenSource:
    provider = "LMS"

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        clock: Clock | None = None,
        store: TokenStore | None = None,
        refresh_margin: float = 60.0,
        limits: HttpLimits | None = None,
    ) -> None:
        self._http = http
        self._limits = limits or HttpLimits()
        self._clock: Clock = clock or SystemClock()
        self._store: TokenStore = store or MemoryTokenStore()
        self._margin = refresh_margin
        self._lock = asyncio.Lock()  # one refresh at a time, however many calls are waiting

    async def token(self) -> AccessToken:
        cached = await self._store.load()
        if cached and cached.expires_at - self._margin > self._clock.now():
            return cached
        async with self._lock:
            cached = await self._store.load()
            if cached and cached.expires_at - self._margin > self._clock.now():
                return cached
            fresh = await self._fetch()
            await self._store.save(fresh)
            log.debug(
                "%s access token obtained, valid for %.0f s",
                self.provider,
                fresh.expires_at - self._clock.now(),
            )
            return fresh

    async def invalidate(self) -> None:
        await self._store.clear()

    async def _fetch(self) -> AccessToken:
        raise NotImplementedError

    def _token_from(self, payload: dict[str, Any], default_ttl: float) -> AccessToken:
        try:
            ttl = float(payload.get("expires_in") or default_ttl)
        except (TypeError, ValueError):
            ttl = default_ttl
        scope = payload.get("scope")
        return AccessToken(
            value=str(payload["access_token"]),
            expires_at=self._clock.now() + ttl,
            scope=str(scope) if scope else None,
        )


async def post_token_request(
    http: httpx.AsyncClient,
    url: str,
    form: dict[str, str],
    what: str,
    provider: str,
    limits: HttpLimits | None = None,
) -> dict[str, Any]:
    """POST to an OAuth token endpoint; any refusal becomes a clear error that names no secret."""
    try:
        response = await exchange(
            http,
            "POST",
            url,
            limits=limits or HttpLimits(),
            provider=provider,
            endpoint=TOKEN_ENDPOINT,
            data=form,
            headers={"Accept": "application/json"},
        )
    except LMSError as exc:
        metrics.lms_request(provider, TOKEN_ENDPOINT, metrics.lms_outcome_for_error(exc))
        raise
    metrics.lms_request(provider, TOKEN_ENDPOINT, metrics.lms_outcome_for_status(response.status_code))
    try:
        payload = read_json(response.content, provider=provider, endpoint=TOKEN_ENDPOINT)
    except InvalidResponseError as exc:
        if response.is_success:
            raise InvalidResponseError(f"{what}: {exc.message}", provider=provider, endpoint=TOKEN_ENDPOINT) from None
        payload = None
    if not isinstance(payload, dict):
        if response.is_success:
            raise InvalidResponseError(
                f"{what}: the token endpoint did not answer a JSON object", provider=provider, endpoint=TOKEN_ENDPOINT
            )
        payload = {}
    # Zoho answers some token errors with HTTP 200 and {"error": "..."}; treat any "error" as failure.
    error = payload.get("error")
    if error or not response.is_success or not payload.get("access_token"):
        detail = str(error or payload.get("error_description") or payload.get("message") or response.reason_phrase)
        status = response.status_code if not response.is_success else 401
        cls = UnauthorizedError if status in (400, 401, 200) else error_for_status(status)
        raise cls(f"{what} was refused: {detail}", status=status, provider=provider)
    return payload


class ZohoRefreshTokenSource(_CachedTokenSource):
    provider = "Zoho"

    def __init__(
        self,
        *,
        accounts_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        http: httpx.AsyncClient,
        clock: Clock | None = None,
        store: TokenStore | None = None,
        limits: HttpLimits | None = None,
    ) -> None:
        super().__init__(http=http, clock=clock, store=store, limits=limits)
        self._url = accounts_url.rstrip("/") + "/oauth/v2/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token

    async def authorization(self) -> str:
        return f"Zoho-oauthtoken {(await self.token()).value}"

    async def _fetch(self) -> AccessToken:
        payload = await post_token_request(
            self._http,
            self._url,
            {
                "refresh_token": self._refresh_token,
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "grant_type": "refresh_token",
            },
            "refreshing the Zoho access token",
            self.provider,
            self._limits,
        )
        return self._token_from(payload, default_ttl=3600)


class ISpringClientCredentialsSource(_CachedTokenSource):
    provider = "iSpring"

    def __init__(
        self,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        http: httpx.AsyncClient,
        bearer: bool = True,
        clock: Clock | None = None,
        store: TokenStore | None = None,
        limits: HttpLimits | None = None,
    ) -> None:
        super().__init__(http=http, clock=clock, store=store, limits=limits)
        self._url = api_url.rstrip("/") + "/api/v3/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._bearer = bearer

    async def authorization(self) -> str:
        value = (await self.token()).value
        return f"Bearer {value}" if self._bearer else value

    async def _fetch(self) -> AccessToken:
        payload = await post_token_request(
            self._http,
            self._url,
            {
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "grant_type": "client_credentials",
            },
            "getting an iSpring access token",
            self.provider,
            self._limits,
        )
        return self._token_from(payload, default_ttl=1800)


@dataclass(frozen=True, slots=True)
class ZohoGrant:
    """What Zoho Accounts gives for an authorization code: a long-lived refresh token and a first access token."""

    refresh_token: str
    access_token: str
    expires_in: float
    scope: str | None
    api_domain: str | None

    def __repr__(self) -> str:
        return f"ZohoGrant(expires_in={self.expires_in!r}, scope={self.scope!r})"


async def exchange_zoho_code(
    http: httpx.AsyncClient,
    *,
    accounts_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    limits: HttpLimits | None = None,
) -> ZohoGrant:
    """Trade an authorization code (valid two minutes, usable once) for tokens."""
    payload = await post_token_request(
        http,
        accounts_url.rstrip("/") + "/oauth/v2/token",
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
            "code": code,
        },
        "exchanging the Zoho authorization code",
        "Zoho",
        limits,
    )
    refresh = payload.get("refresh_token")
    if not refresh:
        raise UnauthorizedError(
            "Zoho granted no refresh token (the authorization must ask for offline access)", provider="Zoho"
        )
    scope = payload.get("scope")
    return ZohoGrant(
        refresh_token=str(refresh),
        access_token=str(payload["access_token"]),
        expires_in=float(payload.get("expires_in") or 3600),
        scope=str(scope) if scope else None,
        api_domain=str(payload["api_domain"]) if payload.get("api_domain") else None,
    )
