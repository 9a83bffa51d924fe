"""How lmsbot talks HTTP to Slack: one pooled session per event loop, Slack's per-method limits kept on our side,
and slack_sdk's connection-drop retry minus chat.postMessage (a retried post could be a second message).

Used by bot/services/slack_gateway.py (services acting on their own) and bot/slack_http.py (Bolt's client
and respond()).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot import metrics

POOL_CONNECTIONS = 32  # open connections to Slack at most, shared by every Web API call and respond()

# Slack's per-method limits, "per API method per app per workspace", calls a minute (Tier 2: 20, Tier 3: 50,
# Tier 4: 100; see Slack's rate-limits page). The lower bound of each tier: Slack allows bursts above it but
# promises nothing more. chat.postMessage is limited per channel (about 1 a second) instead: see POST_PER_MINUTE.
TIER_PER_MINUTE: dict[str, int] = {
    "conversations.open": 50,
    "conversations.history": 50,
    "chat.update": 50,
    "users.list": 20,
    "users.info": 100,
    "users.lookupByEmail": 100,
    "views.publish": 100,
}
POST_PER_MINUTE = 60  # chat.postMessage: "1 per second" per channel, short bursts allowed


class SlackHttp:
    """One aiohttp session — one pool of kept-alive connections — for all of a process's Web API calls and
    response-URL posts. (Without it slack_sdk opens a session, so a TCP and TLS connection, per call.)

    aiohttp sessions belong to the event loop they were made in: one per loop, made on first use.
    """

    def __init__(self, *, limit: int = POOL_CONNECTIONS) -> None:
        self.limit = limit
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
            weakref.WeakKeyDictionary()
        )

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit),
                trace_configs=[metrics.slack_trace()],  # every Web API call counted by method and outcome
            )
            self._sessions[loop] = session
        return session

    async def aclose(self) -> None:
        """Close this loop's session (sessions of loops that have ended went with them)."""
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(loop, None)
        if session is not None and not session.closed:
            await session.close()


class Pacer:
    """Keeps each (workspace, method) within its calls-a-minute limit: a call over it waits until the oldest
    call of the last minute is a minute old, so a sweep to thousands of people never meets `ratelimited`."""

    def __init__(
        self,
        limits: dict[str, int],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        window: float = 60.0,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.sleep = sleep
        self.window = window
        self._calls: dict[tuple[str, ...], deque[float]] = {}

    async def wait(self, method: str, *scope: str, limit: int | None = None) -> None:
        allowed = limit if limit is not None else self.limits.get(method)
        if allowed is None:
            return
        calls = self._calls.setdefault((method, *scope), deque())
        while True:
            now = self.clock()
            while calls and now - calls[0] >= self.window:
                calls.popleft()
            if len(calls) < allowed:
                calls.append(now)
                return
            await self.sleep(calls[0] + self.window - now)


class RetryDroppedConnectionsExceptPosts(AsyncConnectionErrorRetryHandler):
    """slack_sdk's default: one retry when the connection drops. Not for chat.postMessage: Slack may have stored
    the message before the connection went, and a blind retry would send it twice (a reminder whose outcome is
    unknown is checked against the DM's history instead; see bot/reminders/delivery.py)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.split("?")[0].endswith("/chat.postMessage"):
            return False
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)
