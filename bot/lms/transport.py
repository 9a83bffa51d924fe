"""One request to an LMS: budget, auth, bounded retries, and errors in plain words.

Both clients send every call through `LmsTransport.request`, so the rate limit, the 401-refresh-once rule,
retries (GETs only, on 5xx and timeouts, a bounded number of times) and error mapping live in one place.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from bot import metrics
from bot.lms.content import read_json, read_xml
from bot.lms.errors import (
    DailyBudgetExhaustedError,
    DeadlineExceededError,
    InvalidResponseError,
    LMSError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
    UnreachableError,
    error_for_status,
)
from bot.lms.exchange import HttpLimits, exchange, too_slow
from bot.lms.ratelimit import DailyQuota, Priority, RateLimiter
from bot.lms.tokens import TOKEN_ENDPOINT, TokenSource

log = logging.getLogger(__name__)
T = TypeVar("T")

# Zoho's body code for "API access blocked since threshold limit exceeded": its lock, whatever the HTTP status.
ZOHO_LOCK_CODE = 7209
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
MAX_RETRY_AFTER = 900.0  # a Retry-After beyond this (or not a number) is not believed: no endless pause


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3
    initial_wait: float = 0.5
    max_wait: float = 8.0

    def pause(self, retry: int) -> float:
        """Seconds before retry number `retry` (1 for the first): exponential, with up to `initial_wait` of
        jitter so that callers failing together do not retry together; never more than `max_wait`."""
        try:
            wait = self.initial_wait * 2.0 ** (retry - 1) + random.uniform(0, self.initial_wait)
        except OverflowError:
            wait = self.max_wait
        return max(0.0, min(wait, self.max_wait))


class LmsTransport:
    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        http: httpx.AsyncClient,
        auth: TokenSource,
        account: str,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        lock_on_422: bool = False,
        lock_on_429: bool = True,
        limits: HttpLimits | None = None,
        daily_budget: int | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.auth = auth
        self.account = account
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.lock_on_422 = lock_on_422
        self.lock_on_429 = lock_on_429
        self.limits = limits or HttpLimits()
        self.calls: Counter[str] = Counter()  # requests actually sent, per endpoint
        # Every endpoint of the account shares one daily quota, keyed by the account.
        self.daily = DailyQuota(account, daily_budget) if daily_budget is not None else None

    def limit_key(self, endpoint: str) -> str:
        return f"{self.account}:{endpoint}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Any = None,
        data: Any = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> httpx.Response:
        """Send one logical call; retried only when it is safe (GET) and the failure is transient.

        The whole call — token request, every attempt, every byte of each answer — shares one deadline
        (`limits.deadline`); only waits for rate-limit budget and the pauses between retries are not counted.
        A call that used up its deadline is not retried.
        """
        budget = _Budget(self.limits.deadline, self.provider, endpoint)
        # A plain loop, not a retry library: this runs for every LMS call, and building a retrying object per
        # call was about a twentieth of a command's CPU for the one case in many that retries.
        retry = 0
        while True:
            try:
                return await self._send_authorized(
                    method, path, endpoint, params, data, json_body, headers, priority, max_wait, budget
                )
            except (ServerError, UnreachableError) as exc:
                transient = method == "GET" and not isinstance(exc, DeadlineExceededError) and budget.left > 0
                if not transient or retry >= self.retry.max_retries:
                    raise
            retry += 1
            await (self.limiter.clock.sleep if self.limiter else asyncio.sleep)(self.retry.pause(retry))

    async def _send_authorized(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Any,
        data: Any,
        json_body: Any,
        headers: dict[str, str] | None,
        priority: Priority,
        max_wait: float | None,
        budget: _Budget,
    ) -> httpx.Response:
        # A 401 may just mean our cached token expired early: refresh once, then give up clearly.
        for attempt in range(2):
            response = await self._send(
                method, path, endpoint, params, data, json_body, headers, priority, max_wait, budget
            )
            if response.status_code != 401:
                return response
            if attempt == 0:
                log.info("%s %s answered 401; refreshing the access token once", self.provider, endpoint)
                await self.auth.invalidate()
        raise UnauthorizedError(
            f"{self.provider} rejected our access token even after a refresh: {error_message(response)}",
            endpoint=endpoint,
            provider=self.provider,
        )

    async def _send(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Any,
        data: Any,
        json_body: Any,
        headers: dict[str, str] | None,
        priority: Priority,
        max_wait: float | None,
        budget: _Budget,
    ) -> httpx.Response:
        if self.limiter is not None:
            await self.limiter.acquire(self.limit_key(endpoint), priority=priority, max_wait=max_wait, daily=self.daily)
        # After any wait for budget, so the token is still fresh; a stalled token request is told apart from a
        # stalled call.
        authorization = await budget.spend(TOKEN_ENDPOINT, self.auth.authorization())
        all_headers = {"Authorization": authorization, **(headers or {})}
        self.calls[endpoint] += 1
        try:
            # The exchange keeps to what is left of the deadline itself (no second timer around it).
            response = await budget.spend(
                endpoint,
                exchange(
                    self.http,
                    method,
                    self.base_url + path,
                    limits=HttpLimits(budget.left, self.limits.max_bytes),
                    provider=self.provider,
                    endpoint=endpoint,
                    params=params,
                    data=data,
                    json=json_body,
                    headers=all_headers,
                ),
                timed=False,
            )
        except LMSError as exc:
            metrics.lms_request(self.provider, endpoint, metrics.lms_outcome_for_error(exc))
            raise
        log.debug("%s %s %s -> %s", self.provider, method, endpoint, response.status_code)
        if response.status_code == 401:
            metrics.lms_request(self.provider, endpoint, "unauthorized")
            return response
        status = effective_status(response)
        metrics.lms_request(self.provider, endpoint, self._outcome(status))
        if status < 400:
            return response
        await self._raise_for(response, status, endpoint)
        return response  # pragma: no cover - _raise_for always raises

    def _outcome(self, status: int) -> str:
        if status == ZOHO_LOCK_CODE or (status == 429 and self.lock_on_429) or (status == 422 and self.lock_on_422):
            return "rate_limited"
        return metrics.lms_outcome_for_status(status)

    async def _raise_for(self, response: httpx.Response, status: int, endpoint: str) -> None:
        message = error_message(response)
        locked = status == ZOHO_LOCK_CODE
        if locked or (status == 429 and self.lock_on_429) or (status == 422 and self.lock_on_422):
            retry_after = _retry_after(response)
            locked_for = retry_after or 0.0
            if self.limiter is not None:
                locked_for = await self.limiter.report_lock(self.limit_key(endpoint), retry_after)
            log.warning("%s %s reports its rate limit; pausing that endpoint", self.provider, endpoint)
            raise RateLimitedError(
                f"{message}. The LMS has paused this endpoint; try again in {locked_for / 60:.0f} min",
                retry_after=locked_for,
                endpoint=endpoint,
                status=response.status_code if locked else status,
                provider=self.provider,
            )
        raise error_for_status(status)(message, endpoint=endpoint, status=status, provider=self.provider)


# Where `effective_status` leaves the JSON it parsed, so the client reading the answer does not parse it again.
_PARSED_JSON = "lmsbot.json"


def json_payload(response: httpx.Response, *, provider: str, endpoint: str | None) -> Any:
    """The answer's JSON (`read_json`), parsed once per response however many look at it."""
    if _PARSED_JSON in response.extensions:
        return response.extensions[_PARSED_JSON]
    content_type = response.headers.get("content-type", "")
    return read_json(response.content, provider=provider, endpoint=endpoint, content_type=content_type)


def effective_status(response: httpx.Response) -> int:
    """The HTTP status, or the error code a 200 body carries (some Zoho APIs answer errors with 200), or
    ZOHO_LOCK_CODE when any JSON body says Zoho locked the API (the shape and status it comes with are
    undocumented: seen as body `code` 7209, and Zoho nests errors as `response.errors` elsewhere)."""
    if "json" not in response.headers.get("content-type", ""):
        return response.status_code
    if response.status_code != 200 and response.status_code < 400:
        return response.status_code
    try:
        payload = read_json(response.content, provider="LMS")
    except LMSError:
        return response.status_code  # unreadable: the client's own parsing says so in its words
    response.extensions[_PARSED_JSON] = payload  # read, never changed, here
    if not isinstance(payload, dict):
        return response.status_code
    if _has_lock_code(payload):
        return ZOHO_LOCK_CODE
    if response.status_code != 200:
        return response.status_code
    for key in ("code", "status"):
        value = payload.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value).isdigit():
            code = int(value)
            if 400 <= code < 600:
                return code
    inner = payload.get("response")
    if isinstance(inner, dict) and inner.get("errors"):
        return 400
    return response.status_code


def _has_lock_code(payload: dict[str, Any], depth: int = 0) -> bool:
    for key in ("code", "errorCode"):
        value = payload.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip() == str(ZOHO_LOCK_CODE):
            return True
    if depth >= 2:
        return False
    for key in ("response", "errors", "error"):
        inner = payload.get(key)
        items = inner if isinstance(inner, list) else [inner]
        if any(isinstance(item, dict) and _has_lock_code(item, depth + 1) for item in items):
            return True
    return False


def error_message(response: httpx.Response) -> str:
    """The LMS's own words for a failure, from whichever shape it used; never the raw body at length."""
    text = response.content[:65536].decode("utf-8", "replace").strip()  # an error's words come first
    candidate: str | None = None
    try:
        payload: Any = read_json(response.content, provider="LMS") if text else None
    except LMSError:
        payload = None
    if payload is not None:
        candidate = _find_message(payload)
    elif text.startswith("<"):
        try:
            root = read_xml(response.content, provider="LMS")
            for tag in ("message", "error", "errorMessage", "description", "faultstring"):
                node = root.find(f".//{tag}")
                if node is not None and node.text:
                    candidate = node.text
                    break
        except LMSError:
            candidate = None
        if candidate is None:
            candidate = _TAGS.sub(" ", text[:2000])
    elif text:
        candidate = text[:2000]
    candidate = _SPACES.sub(" ", candidate or "").strip()
    if not candidate:
        candidate = response.reason_phrase or f"HTTP {response.status_code}"
    return candidate[:300]


def _find_message(payload: Any) -> str | None:
    if isinstance(payload, str):
        return payload
    if isinstance(payload, list):
        for item in payload:
            found = _find_message(item)
            if found:
                return found
        return None
    if isinstance(payload, dict):
        for key in ("message", "msg", "error_description", "errorMessage", "error", "detail", "description"):
            value = payload.get(key)
            if isinstance(value, str) and value.strip():
                return value
            if isinstance(value, dict | list):
                found = _find_message(value)
                if found:
                    return found
        for key in ("errors", "response", "data"):
            if key in payload:
                found = _find_message(payload[key])
                if found:
                    return found
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER) if math.isfinite(seconds) else MAX_RETRY_AFTER


class Listing:
    """The clock of one paged read (every page of one list).

    Each page is one call, bounded like any other; the page caps stop an LMS that never says "no more". But at
    30 calls a minute a thousand pages take half an hour, so a list read while someone waits (INTERACTIVE: a
    command, the CLI) is not given more pages once the call deadline (LMS_CALL_DEADLINE_SECONDS) has passed since
    it started: every page after the first, and its wait for rate-limit budget, fits in what is left. (The first
    page is a single call like any other.) Background reads are bounded by the sweep's own budget per workspace.
    """

    def __init__(self, transport: LmsTransport, endpoint: str, priority: Priority) -> None:
        self.total = transport.limits.deadline if priority is Priority.INTERACTIVE else None
        self.provider = transport.provider
        self.endpoint = endpoint
        self.pages = 0
        self._started = time.monotonic()

    async def page(self, read: Callable[..., Awaitable[T]], *args: Any, max_wait: float | None, **kwargs: Any) -> T:
        """The next page, `read(*args, max_wait=…, **kwargs)`; after the first, within what is left of the total,
        its wait for rate-limit budget too (`max_wait` lowered to fit)."""
        self.pages += 1
        if self.total is None or self.pages == 1:
            return await read(*args, max_wait=max_wait, **kwargs)
        left = self.total - (time.monotonic() - self._started)
        if left <= 0:
            raise self._unfinished()
        capped = left if max_wait is None else min(max_wait, left)
        try:
            async with asyncio.timeout(left):
                return await read(*args, max_wait=capped, **kwargs)
        except TimeoutError:
            raise self._unfinished() from None
        except DailyBudgetExhaustedError:
            raise
        except RateLimitedError as exc:
            # Our own limiter refused a wait that only this list's clock forbids: after some pages, say so.
            if exc.status is not None or capped == max_wait:
                raise
            raise self._unfinished(f"; the next would wait {math.ceil(exc.retry_after)} s for the rate limit") from None

    def _unfinished(self, more: str = "") -> InvalidResponseError:
        return InvalidResponseError(
            f"its list did not end within {self.total:g} s ({self.pages - 1} pages read{more}; "
            "LMS_CALL_DEADLINE_SECONDS); stopped there",
            endpoint=self.endpoint,
            provider=self.provider,
        )


class _Budget:
    """What is left of one call's deadline, spent only while talking to the LMS."""

    def __init__(self, seconds: float, provider: str, endpoint: str) -> None:
        self.total = seconds
        self.left = seconds
        self.provider = provider
        self.endpoint = endpoint

    async def spend(self, endpoint: str, step: Awaitable[T], *, timed: bool = True) -> T:
        """`step`'s result, within what is left (`timed=False`: `step` keeps to `left` itself), and less left."""
        if self.left <= 0:
            if isinstance(step, Coroutine):
                step.close()  # never started: no "never awaited" warning
            raise too_slow(self.total, provider=self.provider, endpoint=self.endpoint)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            if not timed:
                return await step
            async with asyncio.timeout(self.left):
                return await step
        except (TimeoutError, DeadlineExceededError):
            raise too_slow(self.total, provider=self.provider, endpoint=endpoint) from None
        finally:
            self.left -= loop.time() - started
