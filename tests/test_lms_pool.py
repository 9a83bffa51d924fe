"""The LMS pool (httpx over aiohttp's pool): kept-alive connections are reused, the connection limit holds and
every slot comes back, and a connection the server closed while idle is not reused."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from bot.devkit.threaded_server import ThreadedServer
from bot.lms.errors import UnreachableError
from bot.lms.exchange import HttpLimits, exchange
from bot.lms.factory import LMS_POOL_LIMITS
from bot.lms.pool import PooledClient, lms_transport


class Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.peers: set[tuple[str, int]] = set()
        self.in_flight = 0
        self.most = 0
        self.release = threading.Event()


@pytest.fixture
def server() -> Iterator[tuple[ThreadedServer, Seen]]:
    seen = Seen()

    async def fast(request: Request) -> PlainTextResponse:
        assert request.client is not None
        with seen.lock:
            seen.peers.add((request.client.host, request.client.port))
        return PlainTextResponse("ok")

    async def slow(request: Request) -> PlainTextResponse:
        with seen.lock:
            seen.in_flight += 1
            seen.most = max(seen.most, seen.in_flight)
        while not seen.release.is_set():
            await asyncio.sleep(0.01)
        with seen.lock:
            seen.in_flight -= 1
        return PlainTextResponse("slow ok")

    app = Starlette(routes=[Route("/fast", fast), Route("/slow", slow)])
    with ThreadedServer(app, name="pool-test") as running:
        yield running, seen


async def test_a_quiet_client_reuses_one_kept_alive_connection(server: tuple[ThreadedServer, Seen]) -> None:
    running, seen = server
    transport = lms_transport(httpx.Limits(max_connections=16, max_keepalive_connections=8))
    async with httpx.AsyncClient(transport=transport, base_url=running.base_url) as client:
        for _ in range(10):
            assert (await client.get("/fast")).text == "ok"
    assert len(seen.peers) == 1


async def test_the_limit_holds_and_every_slot_comes_back(server: tuple[ThreadedServer, Seen]) -> None:
    running, seen = server
    transport = lms_transport(httpx.Limits(max_connections=16, max_keepalive_connections=8))
    async with httpx.AsyncClient(transport=transport, base_url=running.base_url, timeout=30) as client:
        calls = [asyncio.ensure_future(client.get("/slow")) for _ in range(24)]
        while seen.in_flight < 16:  # 16 connections in all: the other 8 requests wait for one
            await asyncio.sleep(0.01)
        seen.release.set()
        responses = await asyncio.gather(*calls)
        assert seen.most == 16
        assert [r.text for r in responses] == ["slow ok"] * 24
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:9/refused")
        # Every slot came back (the failed request's too): 16 at once get a connection straight away again.
        seen.release.clear()
        seen.most = 0
        again = [asyncio.ensure_future(client.get("/slow")) for _ in range(16)]
        while seen.in_flight < 16:
            await asyncio.sleep(0.01)
        seen.release.set()
        assert [r.text for r in await asyncio.gather(*again)] == ["slow ok"] * 16


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """A request after the server closed the kept-alive connection goes out on a new one, instead of failing."""
    peers: list[tuple[str, int]] = []

    async def answer_once_then_hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername"))
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # no "Connection: close": looks reusable
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_once_then_hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = lms_transport(httpx.Limits(max_connections=4, max_keepalive_connections=4))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/")).text == "ok"
            await asyncio.sleep(0.2)  # the server has hung up on the idle connection by now
            assert (await client.get("/")).text == "ok"
    finally:
        server.close()
        await server.wait_closed()
    assert len(peers) == 2


@pytest.fixture
def echo() -> Iterator[ThreadedServer]:
    """Answers every request with what it received: method, path, query, the headers that matter, body."""

    async def echo_request(request: Request) -> JSONResponse:
        wanted = ("user-agent", "accept-encoding", "authorization", "content-type", "accept")
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": {k: v for k, v in request.headers.items() if k in wanted},
                "body": (await request.body()).decode(),
            },
            headers={"X-Seen": "yes"},
        )

    app = Starlette(routes=[Route("/{rest:path}", echo_request, methods=["GET", "POST", "PATCH"])])
    with ThreadedServer(app, name="pool-echo") as running:
        yield running


CALLS: list[dict[str, Any]] = [
    {"method": "GET", "params": {"startIndex": 0, "userIds[]": ["a b", "c+d"], "flag": True, "none": None}},
    {"method": "GET", "params": [("x", "1"), ("x", "2")]},
    {"method": "POST", "data": {"grant_type": "refresh_token", "scope": "a,b é"}},
    {"method": "PATCH", "json": {"moduleData": {"name": "Été", "n": 1}}},
]


@pytest.mark.parametrize("call", CALLS, ids=["query", "pairs", "form", "json"])
async def test_the_pooled_client_sends_what_httpx_would_without_going_through_httpx(
    echo: ThreadedServer, call: dict[str, Any]
) -> None:
    """The LMS client hands its exchanges to aiohttp directly (httpx's request building, cookies and response
    copies were a fifth of a command's CPU): the LMS must see the same request, and the answer read the same."""
    kwargs = {k: v for k, v in call.items() if k != "method"}
    headers = {"Authorization": "Zoho-oauthtoken t", "Accept": "application/json"}
    limits = HttpLimits(deadline=10)
    answers = []
    pooled = PooledClient(pool=lms_transport(LMS_POOL_LIMITS), headers={"User-Agent": "lmsbot-test"})
    plain = httpx.AsyncClient(headers={"User-Agent": "lmsbot-test"})
    async with pooled, plain:

        async def no_httpx(*args: Any, **kw: Any) -> httpx.Response:
            raise AssertionError("sent through httpx")

        pooled.send = no_httpx  # type: ignore[method-assign]
        for client in (pooled, plain):
            url = echo.base_url + "/api/v1/courses/1/progress"
            response = await exchange(
                client, call["method"], url, limits=limits, provider="Zoho", headers=headers, **kwargs
            )
            assert response.status_code == 200 and response.reason_phrase == "OK"
            assert response.headers["x-seen"] == "yes"
            answers.append(response.json())
    assert answers[0] == answers[1]
    assert answers[0]["headers"]["user-agent"] == "lmsbot-test"


async def test_the_pooled_client_maps_a_refused_connection_as_httpx_does() -> None:
    async with PooledClient(pool=lms_transport(LMS_POOL_LIMITS)) as client:
        with pytest.raises(UnreachableError, match=r"could not connect \(ConnectError\)"):
            await exchange(client, "GET", "http://127.0.0.1:9/refused", limits=HttpLimits(deadline=5), provider="Zoho")
