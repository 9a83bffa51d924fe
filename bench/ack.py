"""Ack latency of `/lms progress` while the LMS takes 2 s to answer, next to a bare Bolt app; and lmsbot's own
share of the reply latency.

50 concurrent signed slash-command requests go to a bare Bolt app that only acks; then, once it is idle, the same
50 go to lmsbot's real web app (the one `lmsbot serve` runs), whose LMS (the sandbox) answers every call after
2 s. Each is measured alone, in its own phase (the other has no work in flight: every reply of the phase before
has arrived), in this process on 127.0.0.1, in the same run, so the ratio compares like with like. The driver
(Slack's side) sends every request over one kept-alive connection pool. Slack's limit is 3 s.

Reply latency is from the ack to the reply arriving at the response URL, minus the LMS's latency (a reply's
four Zoho module calls and its iSpring call run side by side, so one LMS latency is on its critical path): the
time lmsbot itself spends (database, rate limiter, HTTP pool, rendering). Target: p50 <= 150 ms.

Everything (the stand-ins, the driver, both apps) shares this one process, so whatever the driver or the
stand-ins spend is taken from the app measured: the driver polls cheap counters, and its pools are per server.
On a loaded machine the figures are upper bounds; `uptime` is printed with them.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

import httpx
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.devkit.devstack import SIGNING_SECRET, DevStack
from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.slackstub.driver import SlackDriver
from bot.devkit.slackstub.server import ThreadedServer
from bot.devkit.slackstub.state import RESPONSE_URL_METHOD

REQUESTS = 50
LMS_LATENCY = 2.0
USERS = ["U0ADA", "U0GRACE", "U0ALAN", "U0KATHERINE", "U0EDSGER", "U0MARGARET", "U0BARBARA", "U0CLAUDE"]


class SharedTransport(httpx.AsyncBaseTransport):
    """One connection pool for every request the stand-in Slack sends to one server: SlackDriver opens a client
    per request, and a client of its own builds an SSL context (~45 ms of CPU), which would charge Slack's side
    of the burst to whichever server is being measured. Closing a client leaves the pool open. One pool per
    server: httpcore's pool does work in the number of its connections on every request, so one shared pool
    for both servers cost the driver twice as much CPU per request (CPU lmsbot then lacks, in this process)."""

    def __init__(self) -> None:
        # Room for a whole burst: every request of it finds a kept-alive connection from the warm-up.
        limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
        self.inner = httpx.AsyncHTTPTransport(limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass


def bare_bolt(stack: DevStack) -> ThreadedServer:
    app = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=stack.slack.workspace.bot_token, base_url=stack.slack_server.url),
    )

    @app.command("/lms")
    async def only_ack(ack: Any) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    server = ThreadedServer(Starlette(routes=[Route("/slack/events", events, methods=["POST"])]), name="bare-bolt")
    server.start()
    return server


REPLY_TARGET_MS = 150.0


@dataclass(frozen=True)
class Ack:
    ms: float  # request sent -> ack received
    at: float  # when the ack arrived (wall clock, as the Slack stand-in stamps the reply)
    response_url: str  # where this command's reply goes


async def burst(driver: SlackDriver) -> list[Ack]:
    async def one(i: int) -> Ack:
        # A driver per request, so each knows its own response URL (the reply is matched to its ack).
        own = SlackDriver(driver.events_url, SIGNING_SECRET, driver.stub, transport=driver.transport)
        start = time.perf_counter()
        response = await own.command(USERS[i % len(USERS)], "progress")
        acked = time.time()
        assert response.status_code == 200, response.text
        assert own.last_response_url is not None
        return Ack((time.perf_counter() - start) * 1000, acked, own.last_response_url)

    return list(await asyncio.gather(*(one(i) for i in range(REQUESTS))))


def reply_overhead_ms(stack: DevStack, acks: list[Ack]) -> list[float]:
    """Per reply: ack -> reply posted to its response URL, minus the LMS's latency (ms)."""
    posted: dict[str, float] = {}
    for call in stack.slack.calls_for(RESPONSE_URL_METHOD):
        if call.target is not None:
            posted.setdefault(call.target, call.at)
    out = []
    for ack in acks:
        url_id = ack.response_url.split("/response/", 1)[1]
        if url_id in posted:
            out.append((posted[url_id] - ack.at - LMS_LATENCY) * 1000)
    return out


def replies_in(stack: DevStack) -> int:
    """Replies posted to response URLs so far. Counted from the call log: reading the posted messages themselves
    deep-copies every one of them, which (polled) took a third as much CPU as lmsbot's whole phase, and this
    process's CPU is lmsbot's CPU."""
    return len({call.target for call in stack.slack.calls_for(RESPONSE_URL_METHOD)})


async def delivered(stack: DevStack, wanted: int, timeout: float = 60.0) -> int:
    """Wait until `wanted` replies have arrived (or the timeout); how many did."""
    deadline = time.monotonic() + timeout
    while replies_in(stack) < wanted and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return replies_in(stack)


def quantiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49], q[98]


@dataclass(frozen=True)
class Phase:
    name: str
    acks: list[Ack]
    replies: int  # lmsbot: replies posted to their response URLs; bare Bolt: none expected
    seconds: float  # first request sent -> last reply (or ack) in


async def phase(stack: DevStack, name: str, driver: SlackDriver, *, replies: bool) -> Phase:
    """One burst, alone: returns once every reply it causes has arrived, so nothing of it runs in the next."""
    already = replies_in(stack)
    started = time.perf_counter()
    acks = await burst(driver)
    got = (await delivered(stack, already + REQUESTS) - already) if replies else 0
    return Phase(name, acks, got, time.perf_counter() - started)


async def measure(stack: DevStack, bare: ThreadedServer) -> None:
    assert stack.driver is not None
    lmsbot = SlackDriver(stack.events_url, SIGNING_SECRET, stack.slack, transport=SharedTransport())
    baseline = SlackDriver(bare.base_url + "/slack/events", SIGNING_SECRET, stack.slack, transport=SharedTransport())
    # Warm-up, each alone too (first auth.test, imports, connection pools on both sides).
    await phase(stack, "warm-up bare", baseline, replies=False)
    await phase(stack, "warm-up lmsbot", lmsbot, replies=True)
    bare_phase = await phase(stack, "bare Bolt", baseline, replies=False)
    stack.slack.clear()  # the call log and connections from here on are lmsbot's phase only
    ours_phase = await phase(stack, "lmsbot", lmsbot, replies=True)
    ours, bare_ms = [a.ms for a in ours_phase.acks], [a.ms for a in bare_phase.acks]
    p50, p99 = quantiles(ours)
    b50, b99 = quantiles(bare_ms)
    print(f"requests: {REQUESTS} concurrent /lms progress, LMS latency {LMS_LATENCY:.0f} s per call; each app alone")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"bare Bolt ack p50 {b50:7.1f} ms   p99 {b99:7.1f} ms   max {max(bare_ms):7.1f} ms")
    print(f"lmsbot    ack p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   max {max(ours):7.1f} ms")
    print(f"ratio lmsbot/bare: p50 {p50 / b50:.2f}x   p99 {p99 / b99:.2f}x   (Slack's limit: 3000 ms)")
    print(f"replies delivered after the ack: {ours_phase.replies}/{REQUESTS} within {ours_phase.seconds:.1f} s")
    calls, connections = len(stack.slack.calls), stack.slack.connections
    print(f"lmsbot's calls to Slack (Web API and response URLs): {calls} on {connections} connections")
    overhead = reply_overhead_ms(stack, ours_phase.acks)
    if len(overhead) >= 2:
        r50, r99 = quantiles(overhead)
        verdict = "meets" if r50 <= REPLY_TARGET_MS else "misses"
        print(
            f"reply latency minus LMS latency: p50 {r50:7.1f} ms   p99 {r99:7.1f} ms   max {max(overhead):7.1f} ms"
            f"   ({verdict} the {REPLY_TARGET_MS:.0f} ms p50 target; {len(overhead)} replies)"
        )
    await asyncio.sleep(LMS_LATENCY * 3)  # let stragglers (cache writes, lock lookups) finish before shutdown


def main() -> None:
    # A generous LMS budget on both sides: this measures acking, not the 30-a-minute limit.
    config = SandboxConfig(latency=LMS_LATENCY, rate_limit=100_000)
    with DevStack(
        sandbox_config=config, settings_overrides={"lms_rate_limit": 100_000, "lms_cache_seconds": 0}
    ) as stack:
        bare = bare_bolt(stack)
        try:
            asyncio.run(measure(stack, bare))
        finally:
            bare.stop()


if __name__ == "__main__":
    main()
