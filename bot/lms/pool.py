"""The LMS connection pool, split into a few smaller pools.

httpcore's pool walks every one of its connections (polling each idle socket) on every request it starts and
every response it closes, and counts them once more per idle connection: with the 256 connections a burst of
commands needs, that bookkeeping was a fifth of the web process's CPU (encode/httpcore#1035, still open). Part
of it grows with the square of a pool's connections, so the pools are small: 4 connections each (64 pools for
256). Eight pools of 32 still cost a quarter of the CPU of 50 concurrent `/lms progress` once the database
work around them had shrunk. Each request goes to the pool with the fewest requests in flight (the first when
all are equal), so a quiet bot keeps reusing one pool's kept-alive connections.

Every one of those walks also asks each idle connection whether its server hung up ("is the socket readable?").
httpcore's anyio stream answers through anyio's typed attributes, which call getpeername() and build a dict of
lambdas on every ask: that alone was 12% of the web process's CPU at 50 concurrent commands. `_Backend` is
httpcore's own anyio backend with streams that keep their socket and poll it directly (encode/httpcore#924 and
#928 would make the walks cheaper upstream; neither is merged).

With a proxy configured in the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY), the client keeps httpx's own
pool, which honours it (a client given a transport of its own ignores the environment's proxies).
"""

from __future__ import annotations

import ssl
import typing
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable

import httpcore
import httpx
from httpcore._utils import is_socket_readable

CONNECTIONS_PER_SHARD = 4


class _Released(httpx.AsyncByteStream):
    """A response body that tells its pool's counter when it is closed (the request is done only then)."""

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if not self._released:
                self._released = True
                self._release()


class _Stream(httpcore.AsyncNetworkStream):
    """An anyio stream that answers "is_readable" from the socket it keeps (everything else: the stream's own)."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":  # as httpcore's anyio stream answers it, minus anyio's attribute lookup
            return is_socket_readable(self._socket)
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, handing out `_Stream`s."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[typing.Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Pool(httpx.AsyncHTTPTransport):
    """httpx's transport (request and response mapping, its exceptions) over an httpcore pool on `_Backend`:
    httpx builds its pool without a way to name the backend, so the pool is built again here, with the
    arguments httpx gives it for these settings."""

    def __init__(self, tls: ssl.SSLContext, limits: httpx.Limits, backend: _Backend) -> None:
        super().__init__(verify=tls, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=backend,
        )


class ShardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, limits: httpx.Limits, shards: int | None = None) -> None:
        if shards is None:  # pools of CONNECTIONS_PER_SHARD (one pool when there is no limit)
            shards = max(1, -(-(limits.max_connections or 1) // CONNECTIONS_PER_SHARD))

        def share(total: int | None) -> int | None:
            return None if total is None else max(1, -(-total // shards))

        each = httpx.Limits(
            max_connections=share(limits.max_connections),
            max_keepalive_connections=share(limits.max_keepalive_connections),
            keepalive_expiry=limits.keepalive_expiry,
        )
        tls = httpx.create_ssl_context()  # one for all: building one costs ~45 ms of CPU
        backend = _Backend()
        self._pools = [_Pool(tls, each, backend) for _ in range(shards)]
        self._in_flight = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._pools)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1

        def release() -> None:
            self._in_flight[index] -= 1

        try:
            response = await self._pools[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Released(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


def environment_proxies() -> bool:
    """Whether the environment names a proxy (as httpx reads it: urllib's rules)."""
    return any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())
