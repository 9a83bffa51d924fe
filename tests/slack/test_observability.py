"""The web process seen by an operator: /metrics after signed Slack requests, request ids in the answers and in
every log line a request causes (also after the ack), and /readyz beside /healthz."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from bot.devkit.devstack import DevStack
from bot.lms.zoho import Endpoint
from bot.logsetup import JsonLineFormatter, install_redaction
from tests.slack.conftest import command, unlink
from tests.support.metrics import Scrape

ADA, KATHERINE = "U0ADA", "U0KATHERINE"


async def scrape(stack: DevStack) -> Scrape:
    assert stack.web is not None
    async with httpx.AsyncClient(base_url=stack.web.base_url) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return Scrape.parse(response.text)


async def test_metrics_after_commands_and_a_button(stack: DevStack) -> None:
    before = await scrape(stack)
    await command(stack, ADA, "progress kickoff")
    await command(stack, ADA, "progress kickoff")  # from the cache
    await unlink(stack, KATHERINE)  # a command, then a click on its button
    assert await stack.work.wait_idle()
    after = await scrape(stack)

    assert after.minus(before, "lmsbot_slack_ack_seconds_count", kind="command") == 3
    assert after.minus(before, "lmsbot_slack_ack_seconds_count", kind="action") == 1
    assert after.minus(before, "lmsbot_slack_ack_seconds_bucket", kind="command", le="+Inf") == 3

    # LMS requests as the sandbox received them; the cache asked the LMS for exactly those data reads.
    progress = stack.sandbox.state.calls_for(Endpoint.MODULE_PROGRESS)
    results = stack.sandbox.state.calls_for("ispring-results")
    assert len(progress) == 1
    labels = {"provider": "zoho", "endpoint": Endpoint.MODULE_PROGRESS}
    assert after.minus(before, "lmsbot_lms_requests_total", outcome="ok", **labels) == 1
    assert after.minus(before, "lmsbot_lms_cache_lookups_total", result="miss") == len(progress) + len(results)
    assert after.minus(before, "lmsbot_lms_cache_lookups_total", result="hit") == len(progress) + len(results)
    # This stack's Zoho account; the process's registry also holds accounts of stacks that ran before this test.
    used = {a: after.minus(before, "lmsbot_lms_daily_budget_used", account=a) for a in after.label_values("account")}
    assert [n for n in used.values() if n] == [1]

    # Slack Web API calls as the stand-in received them (Bolt's first auth.test goes before the shared pool).
    methods = {c.method for c in stack.slack.calls} - {"auth.test", "response_url"}
    assert "users.info" in methods
    for method in methods:
        seen = stack.slack.calls_for(method)
        assert after.minus(before, "lmsbot_slack_api_calls_total", method=method) == len(seen) > 0
        ok = sum(1 for c in seen if c.ok)
        assert after.minus(before, "lmsbot_slack_api_calls_total", method=method, outcome="ok") == ok

    for secret_or_id in (ADA, KATHERINE, stack.slack.workspace.team_id, stack.slack.workspace.bot_token):
        assert secret_or_id not in after.text
    assert "lmsbot_slack_api_calls_total" in after.text and "process_cpu_seconds_total" in after.text


async def test_readyz_beside_healthz(stack: DevStack) -> None:
    assert stack.web is not None
    async with httpx.AsyncClient(base_url=stack.web.base_url) as client:
        ready, health = await client.get("/readyz"), await client.get("/healthz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "encryption_keys": "ok"}
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ready.headers["x-request-id"] != health.headers["x-request-id"]


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every record of the process as LOG_FORMAT=json writes it, into a buffer (LMS calls logged at DEBUG)."""
    previous_factory = logging.getLogRecordFactory()
    install_redaction()
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    transport = logging.getLogger("bot.lms.transport")
    levels = root.level, transport.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    transport.setLevel(logging.DEBUG)
    yield written
    root.removeHandler(handler)
    root.setLevel(levels[0])
    transport.setLevel(levels[1])
    logging.setLogRecordFactory(previous_factory)


async def test_every_log_line_of_a_request_carries_its_id_workspace_and_user(
    stack: DevStack, json_log: io.StringIO
) -> None:
    assert stack.driver is not None
    response = await stack.driver.command(ADA, "progress kickoff")
    request_id = response.headers["x-request-id"]
    assert await stack.work.wait_idle()
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    # The LMS calls happen after the ack, in the listener's own task: still this request's lines.
    caused = [
        line
        for line in lines
        if line["logger"] == "bot.lms.transport" or stack.sandbox.url in line["message"]  # httpx's request lines
    ]
    assert len(caused) >= 2, lines
    for line in caused:
        assert set(line) >= {"time", "level", "logger", "message", "context"}
        assert line["context"] == {"request_id": request_id, "workspace": "T0DEMO", "slack_user": ADA}
    assert caused[0]["time"].endswith("+00:00") and caused[0]["level"] in ("DEBUG", "INFO")

    second = await stack.driver.command(ADA, "progress kickoff")
    assert second.headers["x-request-id"] != request_id
