"""Transport and token behaviour against scripted answers (shapes the docs leave open included)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from bot.devkit.clock import VirtualClock
from bot.lms.errors import (
    BadRequestError,
    DailyBudgetExhaustedError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
    UnreachableError,
)
from bot.lms.ratelimit import MemoryBackend, RateLimiter, RateLimitPolicy
from bot.lms.tokens import ISpringClientCredentialsSource, ZohoRefreshTokenSource
from bot.lms.transport import LmsTransport, RetryPolicy, error_message

Handler = Callable[[httpx.Request], httpx.Response]


class Scripted:
    """A fake LMS: answers token requests, then API requests from a list of responses."""

    def __init__(self, *answers: httpx.Response | Exception, token_answer: httpx.Response | None = None) -> None:
        self.answers = list(answers)
        self.token_answer = token_answer
        self.api_requests: list[httpx.Request] = []
        self.token_requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            self.token_requests.append(request)
            n = len(self.token_requests)
            return self.token_answer or httpx.Response(
                200, json={"access_token": f"1000.tok{n}", "expires_in": 3600, "token_type": "Bearer"}
            )
        self.api_requests.append(request)
        answer = self.answers.pop(0) if self.answers else httpx.Response(200, json={"code": 200})
        if isinstance(answer, Exception):
            raise answer
        return answer


def make(
    fake: Scripted,
    clock: VirtualClock | None = None,
    lock_on_422: bool = True,
    retries: int = 2,
    daily_budget: int | None = None,
) -> tuple[LmsTransport, RateLimiter]:
    clock = clock or VirtualClock()
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    limiter = RateLimiter(MemoryBackend(), RateLimitPolicy(), clock)
    auth = ZohoRefreshTokenSource(
        accounts_url="https://accounts.example",
        client_id="cid",
        client_secret="sec",
        refresh_token="rt",
        http=http,
        clock=clock,
    )
    transport = LmsTransport(
        provider="Zoho",
        base_url="https://people.example",
        http=http,
        auth=auth,
        account="zoho:a",
        limiter=limiter,
        retry=RetryPolicy(max_retries=retries, initial_wait=0.01, max_wait=0.02),
        lock_on_422=lock_on_422,
        daily_budget=daily_budget,
    )
    return transport, limiter


async def test_sends_zoho_oauthtoken_header_and_reuses_token() -> None:
    fake = Scripted()
    transport, _ = make(fake)
    for _ in range(3):
        await transport.request("GET", "/api/v1/x", endpoint="x")
    assert len(fake.token_requests) == 1
    form = dict(httpx.QueryParams(fake.token_requests[0].content.decode()))
    assert form == {
        "refresh_token": "rt",
        "client_id": "cid",
        "client_secret": "sec",
        "grant_type": "refresh_token",
    }
    assert {r.headers["authorization"] for r in fake.api_requests} == {"Zoho-oauthtoken 1000.tok1"}


async def test_token_refreshed_shortly_before_expiry() -> None:
    clock = VirtualClock()
    fake = Scripted()
    transport, _ = make(fake, clock)
    await transport.request("GET", "/a", endpoint="x")
    clock.advance(3600 - 61)
    await transport.request("GET", "/a", endpoint="x")
    assert len(fake.token_requests) == 1
    clock.advance(2)  # now inside the 60 s margin
    await transport.request("GET", "/a", endpoint="x")
    assert len(fake.token_requests) == 2


async def test_concurrent_calls_share_one_refresh() -> None:
    fake = Scripted()
    transport, _ = make(fake)
    await asyncio.gather(*(transport.request("GET", "/a", endpoint="x") for _ in range(10)))
    assert len(fake.token_requests) == 1


async def test_401_refreshes_once_then_fails_clearly() -> None:
    fake = Scripted(httpx.Response(401, json={"message": "Invalid OAuth token"}), httpx.Response(200, json={}))
    transport, _ = make(fake)
    await transport.request("GET", "/a", endpoint="x")
    assert len(fake.token_requests) == 2 and len(fake.api_requests) == 2

    fake = Scripted(*(httpx.Response(401, json={"message": "Invalid OAuth token"}) for _ in range(5)))
    transport, _ = make(fake)
    with pytest.raises(UnauthorizedError, match="Invalid OAuth token"):
        await transport.request("GET", "/a", endpoint="x")
    assert len(fake.api_requests) == 2  # one retry after one refresh, no more


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"error": "invalid_code"}),  # Zoho answers token errors with 200
        httpx.Response(400, json={"error": "invalid_client"}),
        httpx.Response(200, text="<html>oops</html>"),
    ],
)
async def test_refused_refresh_is_a_clear_error_without_secrets(answer: httpx.Response) -> None:
    fake = Scripted(token_answer=answer)
    transport, _ = make(fake)
    with pytest.raises(Exception) as info:
        await transport.request("GET", "/a", endpoint="x")
    assert "rt" not in str(info.value).split() and "sec" not in str(info.value)
    assert not fake.api_requests


async def test_get_retries_5xx_a_bounded_number_of_times() -> None:
    clock = VirtualClock()
    fake = Scripted(
        *(httpx.Response(500, json={"code": 500, "message": "Sorry! Server error occured"}) for _ in range(9))
    )
    transport, _ = make(fake, clock, retries=2)
    with pytest.raises(ServerError, match="Server error occured"):
        await clock.drive([transport.request("GET", "/a", endpoint="x")])
    assert len(fake.api_requests) == 3


async def test_get_recovers_from_a_timeout() -> None:
    clock = VirtualClock()
    fake = Scripted(httpx.ReadTimeout("slow"), httpx.Response(200, json={"ok": 1}))
    transport, _ = make(fake, clock)
    (response,) = await clock.drive([transport.request("GET", "/a", endpoint="x")])
    assert response.json() == {"ok": 1}


async def test_patch_is_not_retried() -> None:
    fake = Scripted(httpx.Response(500, json={"message": "boom"}), httpx.Response(200, json={}))
    transport, _ = make(fake)
    with pytest.raises(ServerError):
        await transport.request("PATCH", "/a", endpoint="update-module")
    assert len(fake.api_requests) == 1


async def test_unreachable() -> None:
    clock = VirtualClock()
    fake = Scripted(*(httpx.ConnectError("refused") for _ in range(5)))
    transport, _ = make(fake, clock, retries=1)
    with pytest.raises(UnreachableError, match="could not connect"):
        await clock.drive([transport.request("GET", "/a", endpoint="x")])
    assert len(fake.api_requests) == 2


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (
            httpx.Response(400, json={"code": 400, "message": "Invalid parameter value"}),
            BadRequestError,
            "Invalid parameter",
        ),
        (
            httpx.Response(403, text="Sorry! You are not authorized to do this operation"),
            ForbiddenError,
            "not authorized",
        ),
        (
            httpx.Response(404, html="<html><body><h1>Not found</h1></body></html>"),
            NotFoundError,
            "Not found",
        ),
        # Some Zoho APIs answer errors with HTTP 200 and the code in the body.
        (
            httpx.Response(200, json={"code": 404, "message": "Record not found"}),
            NotFoundError,
            "Record not found",
        ),
        (
            httpx.Response(
                200, json={"response": {"status": 1, "errors": {"code": 7024, "message": "No such module"}}}
            ),
            BadRequestError,
            "No such module",
        ),
    ],
)
async def test_errors_carry_the_lms_message(answer: httpx.Response, error: type[Exception], message: str) -> None:
    transport, _ = make(Scripted(answer))
    with pytest.raises(error, match=message):
        await transport.request("GET", "/a", endpoint="x")


@pytest.mark.parametrize(
    ("answer", "expected_lock"),
    [
        (httpx.Response(422, json={"code": 422, "message": "Maximum limit exceeded"}), 300.0),
        (httpx.Response(429, headers={"Retry-After": "120"}, json={"message": "Too many requests"}), 120.0),
    ],
)
async def test_lock_answer_pauses_the_endpoint(answer: httpx.Response, expected_lock: float) -> None:
    clock = VirtualClock()
    fake = Scripted(answer)
    transport, _ = make(fake, clock)
    with pytest.raises(RateLimitedError) as info:
        await transport.request("GET", "/a", endpoint="sessions")
    assert info.value.retry_after == pytest.approx(expected_lock)
    # Nothing more is sent to that endpoint until the lock is over…
    with pytest.raises(RateLimitedError):
        await transport.request("GET", "/a", endpoint="sessions", max_wait=0)
    assert len(fake.api_requests) == 1
    clock.advance(expected_lock + 0.1)
    await transport.request("GET", "/a", endpoint="sessions", max_wait=0)
    assert len(fake.api_requests) == 2


LOCK_TEXT = "API access blocked since threshold limit exceeded. Please try after some time"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"code": 7209, "message": LOCK_TEXT}),
        httpx.Response(400, json={"code": "7209", "message": LOCK_TEXT}),
        httpx.Response(200, json={"response": {"status": 1, "errors": {"code": 7209, "message": LOCK_TEXT}}}),
        httpx.Response(500, json={"response": {"errors": [{"code": 7209, "message": LOCK_TEXT}]}}),
    ],
    ids=["200-code", "400-string-code", "200-nested", "500-nested-list"],
)
async def test_zoho_threshold_code_7209_is_a_lock(answer: httpx.Response) -> None:
    """Zoho's "API access blocked" body is a lock whatever status it comes with (422 need not mean lock)."""
    clock = VirtualClock()
    fake = Scripted(answer)
    transport, limiter = make(fake, clock, lock_on_422=False)
    with pytest.raises(RateLimitedError) as info:
        await transport.request("GET", "/a", endpoint="sessions")
    assert info.value.retry_after == pytest.approx(300) and info.value.status == answer.status_code
    assert "API access blocked" in info.value.message and "try again in 5 min" in info.value.message
    assert len(fake.api_requests) == 1  # a lock is not retried, even on a GET with a 5xx
    clock.advance(299)
    with pytest.raises(RateLimitedError):
        await transport.request("GET", "/a", endpoint="sessions", max_wait=0)
    assert len(fake.api_requests) == 1  # nothing was sent during the lock
    assert (await limiter.budget("zoho:a:sessions")).locked_for == pytest.approx(1)
    clock.advance(1.1)
    await transport.request("GET", "/a", endpoint="sessions", max_wait=0)
    assert len(fake.api_requests) == 2


async def test_every_request_sent_counts_against_the_daily_budget() -> None:
    fake = Scripted(httpx.Response(500, json={"message": "down"}), httpx.Response(200, json={"code": 200}))
    clock = VirtualClock()
    transport, limiter = make(fake, clock, daily_budget=3)
    await clock.drive([transport.request("GET", "/a", endpoint="x")])  # retried: two requests, two calls counted
    await transport.request("GET", "/b", endpoint="y")
    with pytest.raises(DailyBudgetExhaustedError, match="daily API budget for this workspace is used up"):
        await transport.request("GET", "/c", endpoint="z")
    assert len(fake.api_requests) == 3
    assert transport.daily is not None and (await limiter.daily_usage(transport.daily)).used == 3


async def test_422_is_plain_error_when_not_configured_as_lock() -> None:
    from bot.lms.errors import LimitExceededError

    transport, limiter = make(
        Scripted(httpx.Response(422, json={"message": "Maximum limit exceeded"})), lock_on_422=False
    )
    with pytest.raises(LimitExceededError):
        await transport.request("GET", "/a", endpoint="x")
    assert (await limiter.budget("zoho:a:x")).locked_for == 0


async def test_ispring_token_bearer_or_raw() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/token":
            body = dict(httpx.QueryParams(request.content.decode()))
            assert body["grant_type"] == "client_credentials"
            return httpx.Response(200, json={"access_token": "abc", "expires_in": 1800, "token_type": "bearer"})
        seen.append(request.headers["authorization"])
        return httpx.Response(200)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    for bearer, expected in ((True, "Bearer abc"), (False, "abc")):
        source = ISpringClientCredentialsSource(
            api_url="https://x", client_id="i", client_secret="s", http=http, bearer=bearer
        )
        assert await source.authorization() == expected


def test_error_message_is_short_and_plain() -> None:
    response = httpx.Response(500, text="<html><body>" + "x" * 5000 + "</body></html>")
    assert len(error_message(response)) <= 300
    assert error_message(httpx.Response(502)) == "Bad Gateway"
    assert json.dumps(error_message(httpx.Response(400, json={"errors": [{"message": "bad id"}]}))) == '"bad id"'
