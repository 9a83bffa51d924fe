"""The LMS connection pool: httpx's client API over aiohttp's connection pool (httpx-aiohttp).

At 50 concurrent `/lms progress` (each fanning out to about five LMS calls) httpcore's pool was a third of the web
process's CPU: it walks every connection of the pool on every request it starts and every response it closes,
counting them once more per idle connection, and asks each idle connection whether its server hung up through
anyio's typed attributes (a getpeername() and a dict of lambdas per ask); see encode/httpcore#924 and #928, not
merged. Splitting the pool into small shards and polling sockets directly only halved that. aiohttp keeps its
idle connections in a per-host queue and reads a hang-up from the protocol, so a request costs it a fraction.
The client stays httpx (timeouts, streaming reads, MockTransport in tests); the transport maps aiohttp's errors
to httpx's, which `bot.lms.exchange` turns into UnreachableError as before. httpx-aiohttp maps every connection
error it has no closer match for to httpx.ConnectTimeout; `_Transport` says ConnectError for a refused or
failed connection and RemoteProtocolError for a server that hung up, as httpx's own pool does.

With a proxy configured in the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY), the client keeps httpx's own
pool, which honours it (a client given a transport of its own ignores the environment's proxies).
"""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions


def _precise(exc: httpx.ConnectTimeout, request: httpx.Request) -> httpx.TransportError:
    """What httpx's own pool raises for the aiohttp error behind `exc` (itself when it was a timeout)."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(str(exc), request=request)
    if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
        return httpx.ConnectError(str(exc), request=request)
    return exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.ConnectTimeout as exc:
            raise _precise(exc, self._request) from exc.__cause__

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Transport(AiohttpTransport):
    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session under the pool (opened on first use, on the loop that uses it)."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        return self.client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            raise _precise(exc, request) from exc.__cause__
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Body(response.stream, request)
        return response


class PooledClient(httpx.AsyncClient):
    """The LMS client: httpx's API over the pool, whose exchanges `bot.lms.exchange` may hand to aiohttp directly.

    Through httpx, a call built and parsed its URL twice, its headers four times and its response twice, and
    extracted cookies no LMS sets: about 0.3 ms of CPU a call, a fifth of one `/lms progress`. `direct()` is the
    session under the pool (None without one: behind a proxy, httpx's own pool is used), with the client's
    headers and timeouts as aiohttp takes them.
    """

    def __init__(self, *, pool: _Transport | None, **kwargs: Any) -> None:
        super().__init__(transport=pool, **kwargs)
        self._pool = pool
        t = self.timeout
        self.aiohttp_timeout = aiohttp.ClientTimeout(sock_connect=t.connect, sock_read=t.read, connect=t.pool)

    def direct(self) -> aiohttp.ClientSession | None:
        return self._pool.session() if self._pool is not None else None


@contextmanager
def aiohttp_errors() -> Iterator[None]:
    """aiohttp's errors as the pool's transport raises them (httpx's, told apart as `_precise` does)."""
    try:
        with map_aiohttp_exceptions():
            yield
    except httpx.ConnectTimeout as exc:
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ServerDisconnectedError):
            raise httpx.RemoteProtocolError(str(exc)) from cause
        if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
            raise httpx.ConnectError(str(exc)) from cause
        raise


def lms_transport(limits: httpx.Limits) -> _Transport:
    """The pool for every LMS call of the process: at most `limits.max_connections` connections, each kept
    `limits.keepalive_expiry` seconds when idle (aiohttp keeps every idle one; it has no separate keep-alive cap).
    Its aiohttp session is opened on the first request, on the loop that sends it."""
    return _Transport(limits=limits)


def environment_proxies() -> bool:
    """Whether the environment names a proxy (as httpx reads it: urllib's rules)."""
    return any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())
