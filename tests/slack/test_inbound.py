"""Requests from outside: malformed or oversized bodies, replays, redelivered events, foreign workspaces.

Every request goes over real HTTP to the web app `lmsbot serve` runs (or, for Socket Mode, straight into the
Bolt app as the Socket Mode adapter hands it over).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from sqlalchemy import create_engine, text

from bot.app import build_app
from bot.container import build_services
from bot.devkit.devstack import SIGNING_SECRET, DevStack
from tests.slack.conftest import command, text_of, wait_for

ADA, GRACE = "U0ADA", "U0GRACE"
FORM, JSON = "application/x-www-form-urlencoded", "application/json"
OTHER_TEAM = "T0OTHERTEAM"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[DevStack]:
    """One stack for the many small refusal cases (none of them changes anything)."""
    with DevStack() as running:
        yield running


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything logged, uvicorn's own loggers (which do not propagate to the root) included."""
    caplog.set_level(logging.INFO)
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        uvicorn.removeHandler(caplog.handler)


def _sign(body: bytes, timestamp: str) -> str:
    """Slack's v0 signature over the raw bytes (slack_sdk's signer only takes UTF-8 text)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


def _no_tracebacks(logs: pytest.LogCaptureFixture) -> None:
    assert not [r for r in logs.records if r.exc_info], [r.getMessage() for r in logs.records if r.exc_info]
    assert "Traceback" not in logs.text


MALFORMED: dict[str, tuple[bytes, str]] = {
    "bad JSON": (b'{"type": ', JSON),
    "a JSON array": (b"[1, 2]", JSON),
    "a JSON string": (b'"event_callback"', JSON),
    "JSON null": (b"null", JSON),
    "non-UTF-8 JSON": (b'{"type": "\xff\xfe"}', JSON),
    "non-UTF-8 form": (b"command=%2Flms&text=\xff\xfe", FORM),
    "payload= that is not JSON": (b"payload=not-json", FORM),
    "payload= a JSON array": (b"payload=%5B1%5D", FORM),
    "payload= empty": (b"payload=", FORM),
    "payload= cut short": (b"payload=%7B%22type", FORM),
    "form that looks like JSON": (b"{payload=x", FORM),
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_unsigned_malformed_bodies_are_refused_quietly(
    shared_stack: DevStack, logs: pytest.LogCaptureFixture, name: str
) -> None:
    body, content_type = MALFORMED[name]
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(shared_stack.events_url, content=body, headers={"Content-Type": content_type})
    assert unsigned.status_code == 401, unsigned.text
    _no_tracebacks(logs)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [("abc", "v0=00"), ("", "v0=00"), ("12.5", "v0=00"), (None, None), ("now", None), ("-1", "v0=zz")],
)
async def test_bad_timestamps_and_signatures_get_401(
    shared_stack: DevStack, logs: pytest.LogCaptureFixture, timestamp: str | None, signature: str | None
) -> None:
    body = urlencode({"command": "/lms", "text": "help", "team_id": "T0DEMO", "user_id": ADA}).encode()
    headers = {"Content-Type": FORM}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    async with httpx.AsyncClient() as client:
        response = await client.post(shared_stack.events_url, content=body, headers=headers)
    assert response.status_code == 401
    _no_tracebacks(logs)


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_signed_but_malformed_bodies_get_400(
    shared_stack: DevStack, logs: pytest.LogCaptureFixture, name: str
) -> None:
    body, content_type = MALFORMED[name]
    assert shared_stack.driver is not None
    ts = str(int(time.time()))
    response = await shared_stack.driver.signed_post(body, content_type, timestamp=ts, signature=_sign(body, ts))
    assert response.status_code == 400, response.text
    _no_tracebacks(logs)


async def test_a_well_formed_request_still_works_after_the_refusals(shared_stack: DevStack) -> None:
    assert "progress" in text_of(await command(shared_stack, ADA, "help"))


async def test_slacks_url_verification_still_passes(shared_stack: DevStack) -> None:
    assert shared_stack.driver is not None
    body = json.dumps({"type": "url_verification", "token": "t", "challenge": "c0ffee"}).encode()
    response = await shared_stack.driver.signed_post(body, JSON)
    assert response.status_code == 200 and "c0ffee" in response.text


async def _raw_post(stack: DevStack, head: bytes, chunks: list[bytes]) -> bytes:
    """Send the request head and some body, never finishing it; return what the server answers."""
    assert stack.web is not None
    reader, writer = await asyncio.open_connection(stack.web.host, stack.web.port)
    try:
        writer.write(head)
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout=5)
    finally:
        writer.close()


def _head(extra: str) -> bytes:
    ts = str(int(time.time()))
    return (
        "POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: v0=00\r\n{extra}\r\n"
    ).encode()


async def test_a_body_declared_over_1_mb_is_refused_before_it_is_read(
    shared_stack: DevStack, logs: pytest.LogCaptureFixture
) -> None:
    # 2 MB announced, 1 KB sent: the answer comes without waiting for the rest.
    status = await _raw_post(shared_stack, _head(f"Content-Length: {2 * MB}\r\n"), [b"{" + b" " * 1023])
    assert status.startswith(b"HTTP/1.1 413"), status
    _no_tracebacks(logs)


async def test_a_streamed_body_over_1_mb_is_refused_while_streaming(
    shared_stack: DevStack, logs: pytest.LogCaptureFixture
) -> None:
    # Chunked, no length given: 1.25 MB arrive and the body never ends; counting stops it.
    chunk = b" " * (64 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    status = await _raw_post(shared_stack, _head("Transfer-Encoding: chunked\r\n"), [framed] * 20)
    assert status.startswith(b"HTTP/1.1 413"), status
    _no_tracebacks(logs)


# --- replays and redeliveries ------------------------------------------------------------------------------


def _edit_values(name: str) -> dict[str, dict[str, object]]:
    return {"module_edit_name": {"name": name}, "module_edit_lock_type": {"lock_type": "0"}}


async def test_a_replayed_signed_request_runs_once(stack: DevStack) -> None:
    assert stack.driver is not None
    await stack.driver.command(GRACE, "edit-module security-1")
    form = await wait_for(lambda: (m := stack.slack.top_modal(GRACE)) and m.get("callback_id") == "module_edit" and m)
    # Capture the exact signed bytes of a submission, then send them twice.
    sent: list[httpx.Request] = []
    original = stack.driver.signed_post

    async def recording(body: bytes, content_type: str, **kw: Any) -> httpx.Response:
        response = await original(body, content_type, **kw)
        assert response.request is not None
        sent.append(response.request)
        return response

    stack.driver.signed_post = recording  # type: ignore[method-assign]
    first = await stack.driver.view_submission(GRACE, form, _edit_values("Phishing basics (replayed?)"))
    stack.driver.signed_post = original  # type: ignore[method-assign]
    assert first.json()["response_action"] == "update"
    await wait_for(lambda: "Module updated" in text_of(stack.slack.top_modal(GRACE) or {}) and True)
    (request,) = sent
    async with httpx.AsyncClient() as client:
        replay = await client.post(stack.events_url, content=request.content, headers=dict(request.headers))
    assert replay.status_code == 200 and not replay.content  # acknowledged, and nothing done
    assert len(stack.sandbox.state.calls_for("update-module")) == 1


def _home_event(stack: DevStack, user: str, event_id: str) -> dict[str, Any]:
    ws = stack.slack.workspace
    return {
        "token": ws.verification_token,
        "team_id": ws.team_id,
        "api_app_id": ws.app_id,
        "event": {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home", "event_ts": "1.0"},
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": ws.team_id, "user_id": ws.bot_user_id, "is_bot": True}],
    }


def _publishes(stack: DevStack, user: str) -> int:
    return len([c for c in stack.slack.calls_for("views.publish") if c.args.get("user_id") == user])


async def test_a_redelivered_event_runs_once(stack: DevStack) -> None:
    assert stack.driver is not None
    envelope = json.dumps(_home_event(stack, ADA, "Ev0REDELIVER1")).encode()
    first = await stack.driver.signed_post(envelope, JSON)
    assert first.status_code == 200
    await wait_for(lambda: _publishes(stack, ADA) == 1)
    # Slack's redelivery: the same event_id, a new timestamp and signature, retry headers.
    retry = await stack.driver.signed_post(
        envelope,
        JSON,
        timestamp=int(time.time()) + 1,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.status_code == 200
    # A later event (someone else opening Home) is handled: the retry, sent before it, would have been too.
    await stack.driver.signed_post(json.dumps(_home_event(stack, GRACE, "Ev0LATER0001")).encode(), JSON)
    await wait_for(lambda: _publishes(stack, GRACE) == 1)
    assert _publishes(stack, ADA) == 1


async def test_socket_mode_events_are_deduplicated_by_event_id(stack: DevStack) -> None:
    """Socket Mode hands Bolt the envelope's payload as a dict, with no HTTP request and no retry headers."""
    assert stack.settings is not None
    services = build_services(stack.settings)
    try:
        app = build_app(services)
        event = _home_event(stack, GRACE, "Ev0SOCKET0001")
        first = await app.async_dispatch(AsyncBoltRequest(body=copy.deepcopy(event), mode="socket_mode"))
        assert first.status == 200
        await wait_for(lambda: _publishes(stack, GRACE) == 1)
        again = await app.async_dispatch(AsyncBoltRequest(body=copy.deepcopy(event), mode="socket_mode"))
        assert again.status == 200
        later = _home_event(stack, ADA, "Ev0SOCKET0002")
        await app.async_dispatch(AsyncBoltRequest(body=later, mode="socket_mode"))
        await wait_for(lambda: _publishes(stack, ADA) == 1)
        assert _publishes(stack, GRACE) == 1
    finally:
        await services.aclose()


# --- single-workspace mode -----------------------------------------------------------------------------------


def _rows(stack: DevStack, sql: str) -> list[Any]:
    assert stack.settings is not None
    engine = create_engine(stack.settings.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


async def test_a_command_from_another_workspace_is_refused_and_writes_nothing(stack: DevStack) -> None:
    assert stack.driver is not None
    ws = stack.slack.workspace
    fields = {
        "token": ws.verification_token,
        "team_id": OTHER_TEAM,
        "team_domain": "elsewhere",
        "channel_id": "D0ELSEWHERE",
        "user_id": ADA,
        "user_name": "ada",
        "command": "/lms",
        "text": "remind off",
        "api_app_id": ws.app_id,
        "response_url": stack.slack.new_response_url(user_id=ADA, channel_id="D0ELSEWHERE"),
        "trigger_id": stack.slack.new_trigger(ADA),
    }
    response = await stack.driver.signed_post(urlencode(fields).encode(), FORM)
    assert response.status_code == 200
    assert "not installed in this workspace" in response.text
    # The same person in the configured workspace is answered, so the refusal above has been decided.
    assert "off" in text_of(await command(stack, ADA, "remind off")).lower()
    teams = {row.team_id for row in _rows(stack, "SELECT team_id FROM reminder_preferences")}
    assert OTHER_TEAM not in teams and ws.team_id in teams
    assert not _rows(stack, f"SELECT * FROM audit_log WHERE team_id = '{OTHER_TEAM}'")


async def test_an_event_and_a_click_from_another_workspace_do_nothing(stack: DevStack) -> None:
    assert stack.driver is not None
    event = _home_event(stack, ADA, "Ev0FOREIGN001")
    event["team_id"] = OTHER_TEAM
    event["authorizations"][0]["team_id"] = OTHER_TEAM
    refused = await stack.driver.signed_post(json.dumps(event).encode(), JSON)
    assert refused.status_code == 200  # acknowledged, so Slack does not redeliver it
    click = {
        "type": "block_actions",
        "user": {"id": ADA, "username": "ada", "team_id": OTHER_TEAM},
        "api_app_id": stack.slack.workspace.app_id,
        "team": {"id": OTHER_TEAM, "domain": "elsewhere"},
        "container": {"type": "view", "view_id": "V0HOME"},
        "trigger_id": stack.slack.new_trigger(ADA),
        "actions": [{"action_id": "remind_off", "block_id": "b", "type": "button", "action_ts": "1.0"}],
    }
    response = await stack.driver.signed_post(urlencode({"payload": json.dumps(click)}).encode(), FORM)
    assert response.status_code == 200
    # A home event from the configured workspace is handled after both; neither foreign request was.
    await stack.driver.signed_post(json.dumps(_home_event(stack, GRACE, "Ev0HOMETEAM1")).encode(), JSON)
    await wait_for(lambda: _publishes(stack, GRACE) == 1)
    assert _publishes(stack, ADA) == 0
    assert not _rows(stack, f"SELECT * FROM reminder_preferences WHERE team_id = '{OTHER_TEAM}'")
