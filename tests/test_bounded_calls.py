"""Every LMS call is bounded: one deadline across attempts, a size cap that never buffers the excess, no
endless pauses or pages. Real HTTP against tests/support/hostile_lms.py, or scripted answers where timing
does not matter."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from bot.devkit.clock import VirtualClock
from bot.lms import ispring, zoho
from bot.lms.content import read_json
from bot.lms.errors import DeadlineExceededError, InvalidResponseError, RateLimitedError
from bot.lms.exchange import HttpLimits
from bot.lms.ispring import ISpringClient
from bot.lms.ratelimit import MemoryBackend, RateLimiter, RateLimitPolicy
from bot.lms.tokens import ISpringClientCredentialsSource
from bot.lms.transport import MAX_RETRY_AFTER, LmsTransport, RetryPolicy
from bot.lms.zoho import ZohoClient
from tests.support.hostile_lms import HostileLms, Mode, bomb
from tests.test_transport import Scripted, make


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileLms]:
    with HostileLms(trickle_interval=0.1) as server:
        yield server


def ispring_over_http(server: HostileLms, limits: HttpLimits, retries: int = 3) -> tuple[ISpringClient, LmsTransport]:
    http = httpx.AsyncClient(timeout=httpx.Timeout(20.0))
    auth = ISpringClientCredentialsSource(
        api_url=server.ispring_url, client_id="c", client_secret="s", http=http, limits=limits
    )
    transport = LmsTransport(
        provider="iSpring",
        base_url=server.ispring_url,
        http=http,
        auth=auth,
        account="ispring:h",
        retry=RetryPolicy(max_retries=retries, initial_wait=0.01, max_wait=0.02),
        limits=limits,
    )
    return ISpringClient(transport), transport


async def test_the_deadline_spans_the_whole_call_and_a_spent_call_is_not_retried(hostile: HostileLms) -> None:
    hostile.mode = Mode.SLOWLORIS
    hostile.seen.requests.clear()
    client, _ = ispring_over_http(hostile, HttpLimits(deadline=1.0), retries=3)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="within 1 s"):
        await client.module_results()
    assert time.monotonic() - started < 1.5  # not 4 attempts x 1 s: the retries share the one deadline
    assert [p for _, p in hostile.seen.requests if "results" in p] and len(hostile.seen.requests) == 2  # token + 1


@pytest.mark.parametrize("mode", [Mode.HUGE_BODY, Mode.GZIP_BOMB], ids=str)
async def test_an_oversized_answer_is_refused_without_holding_it(hostile: HostileLms, mode: Mode) -> None:
    hostile.mode = mode
    client, _ = ispring_over_http(hostile, HttpLimits(deadline=20.0, max_bytes=1024 * 1024))
    bomb()  # the server's own 50 MB, made before counting (it runs in this process)
    tracemalloc.start()
    try:
        with pytest.raises(InvalidResponseError, match="larger than 1 MB"):
            await client.module_results()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak  # a 1 MB cap on a 50 MB answer: a few MB at most, never 50


async def test_a_redirect_is_an_error_and_not_followed(hostile: HostileLms) -> None:
    hostile.mode = Mode.REDIRECT
    hostile.seen.requests.clear()
    client, _ = ispring_over_http(hostile, HttpLimits(deadline=5.0))
    with pytest.raises(InvalidResponseError, match=f"127.0.0.1:{hostile.other_port}; lmsbot does not follow"):
        await client.module_results()
    assert len(hostile.seen.requests) == 2  # the token and the redirected call; nothing went to the other port


async def test_an_unbelievable_retry_after_does_not_pause_forever() -> None:
    fake = Scripted(httpx.Response(429, headers={"Retry-After": "1e999"}, json={"message": "slow down"}))
    transport, limiter = make(fake)
    with pytest.raises(RateLimitedError) as info:
        await transport.request("GET", "/a", endpoint="x")
    assert info.value.retry_after <= MAX_RETRY_AFTER
    locked_until = await limiter.backend.locked_until(transport.limit_key("x"))
    assert locked_until - limiter.clock.now() <= MAX_RETRY_AFTER  # the endpoint reopens; calls do not wait forever


def _paged_transport(answer: Scripted) -> LmsTransport:
    transport, _ = make(answer)
    transport.limiter = RateLimiter(MemoryBackend(), RateLimitPolicy(limit=100_000), VirtualClock())
    return transport


async def _paging_stops_at(
    cap: int, page: Callable[[httpx.Request], httpx.Response], read: Callable[[LmsTransport], Awaitable[object]]
) -> None:
    """An LMS whose every answer (made by `page`) says there is another page: the read fails plainly after `cap`."""
    fake = Scripted()
    fake.answers = _Endless(page)  # type: ignore[assignment]
    with pytest.raises(InvalidResponseError, match=f"more than {cap} pages"):
        await read(_paged_transport(fake))
    assert len(fake.api_requests) == cap


async def test_ispring_paging_stops_at_its_cap_with_a_clear_error() -> None:
    pages = iter(range(10**6))

    def page(_: httpx.Request) -> httpx.Response:
        token = next(pages)
        return httpx.Response(
            200,
            content=f"<response><results/><nextPageToken>t{token}</nextPageToken></response>".encode(),
            headers={"content-type": "application/xml"},
        )

    await _paging_stops_at(ispring.MAX_PAGES, page, lambda transport: ISpringClient(transport).module_results())


async def test_zoho_paging_stops_at_its_cap_with_a_clear_error() -> None:
    counter = iter(range(10**6))

    def page(_: httpx.Request) -> httpx.Response:
        n = next(counter)
        items = [{"courseId": f"{n}-{i}", "courseName": "x"} for i in range(25)]
        return httpx.Response(200, json={"response": {"result": items}, "hasMoreRecords": True})

    await _paging_stops_at(zoho.MAX_PAGES, page, lambda transport: ZohoClient(transport).my_courses())


class _Endless(list[httpx.Response]):
    """Scripted answers that never run out: each is made from the request."""

    def __init__(self, make_answer: object) -> None:
        super().__init__()
        self._make = make_answer

    def __bool__(self) -> bool:
        return True

    def pop(self, index: int = -1) -> httpx.Response:  # type: ignore[override]
        return self._make(None)  # type: ignore[operator,no-any-return]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"a": ' + b"1" * 5000 + b"}", "too many digits"),
        (b'{"a": 1e999999}', "too large to represent"),
        (b'{"a": -Infinity}', "NaN or Infinity"),
        (b'{"a": NaN}', "NaN or Infinity"),
        (b"[" * 300 + b"]" * 300, "nested more than 200 levels"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 200 levels"),
        (b"<!DOCTYPE html><html></html>", "web page"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"a": 1', "not valid JSON"),
    ],
)
def test_hostile_json_is_one_typed_error(body: bytes, words: str) -> None:
    with pytest.raises(InvalidResponseError, match=words) as info:
        read_json(body, provider="Zoho", endpoint="x")
    assert str(info.value).startswith("Zoho sent an answer lmsbot cannot read (x): ")


def test_deep_but_reasonable_json_and_big_ids_still_read() -> None:
    assert read_json(b"[" * 150 + b"]" * 150, provider="Zoho") is not None
    assert read_json(b'{"id": 100004000000038041, "x": 1.5e10}', provider="Zoho") == {
        "id": 100004000000038041,
        "x": 1.5e10,
    }


def test_json_labelled_as_html_still_reads_but_a_page_does_not() -> None:
    assert read_json(b'{"a": 1}', provider="Zoho", content_type="text/html;charset=UTF-8") == {"a": 1}
    with pytest.raises(InvalidResponseError, match="web page"):
        read_json(b"<div>Maintenance</div>", provider="Zoho", content_type="text/html")


async def test_a_list_whose_pages_keep_coming_slowly_ends_within_the_deadline() -> None:
    """Each page well within its own deadline, but never a last one: a person's read ends at the deadline, not
    at the page cap (a thousand pages of 0.2 s would be over three minutes)."""
    served = 0

    async def slow_page(request: httpx.Request) -> httpx.Response:
        nonlocal served
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        served += 1
        await asyncio.sleep(0.2)
        body = f"<response><results/><nextPageToken>t{served}</nextPageToken></response>"
        return httpx.Response(200, content=body.encode(), headers={"content-type": "application/xml"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(slow_page))
    limits = HttpLimits(deadline=1.0)
    auth = ISpringClientCredentialsSource(api_url="https://i.example", client_id="c", client_secret="s", http=http)
    transport = LmsTransport(
        provider="iSpring", base_url="https://i.example", http=http, auth=auth, account="ispring:s", limits=limits
    )
    started = time.monotonic()
    with pytest.raises(InvalidResponseError, match=r"its list did not end within 1 s \(\d+ pages read"):
        await ISpringClient(transport).module_results()
    assert time.monotonic() - started < 1.5
    assert 2 <= served <= 6
