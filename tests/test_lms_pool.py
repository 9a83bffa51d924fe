"""The LMS pool split into shards: kept-alive connections are reused, the limits hold in total, and a request's
slot is given back when its response is closed (or it failed)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.devkit.threaded_server import ThreadedServer
from bot.lms.pool import ShardedTransport


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
    transport = ShardedTransport(httpx.Limits(max_connections=16, max_keepalive_connections=8))
    async with httpx.AsyncClient(transport=transport, base_url=running.base_url) as client:
        for _ in range(10):
            assert (await client.get("/fast")).text == "ok"
    assert len(seen.peers) == 1


async def test_the_limits_hold_across_shards_and_every_slot_comes_back(server: tuple[ThreadedServer, Seen]) -> None:
    running, seen = server
    transport = ShardedTransport(httpx.Limits(max_connections=16, max_keepalive_connections=8), shards=8)
    async with httpx.AsyncClient(transport=transport, base_url=running.base_url, timeout=30) as client:
        calls = [asyncio.ensure_future(client.get("/slow")) for _ in range(24)]
        while seen.in_flight < 16:  # 16 connections in all: the other 8 requests wait for one
            await asyncio.sleep(0.01)
        seen.release.set()
        responses = await asyncio.gather(*calls)
        assert seen.most == 16
        assert [r.text for r in responses] == ["slow ok"] * 24
        assert transport._in_flight == [0] * 8
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:9/refused")
        assert transport._in_flight == [0] * 8  # a failed request gives its slot back too
