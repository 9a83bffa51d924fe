"""The one error boundary (handlers/errors.py), seen from Slack: a typed error is the person's own plain reply;
an unexpected one is a plain "something went wrong" there and a log line with the request id here — never a
traceback in anything Slack receives."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from bot.devkit.devstack import DevStack
from bot.logsetup import TextFormatter, context_of, install_redaction
from bot.services.preferences import PreferenceError
from tests.slack.conftest import buttons, command, text_of, wait_for

ADA, GRACE, MARGARET = "U0ADA", "U0GRACE", "U0MARGARET"  # a learner, an admin, a manager
UNEXPECTED = "Something went wrong on our side. It has been logged; please try again."
SECRET_WORDS = "kaboom in the internals"  # what an unexpected exception says: operators only
Json = dict[str, Any]
Case = Callable[[DevStack, pytest.MonkeyPatch], Awaitable[tuple[httpx.Response, Callable[[], Json | None]]]]


def _raise(exc: Exception) -> Callable[..., Awaitable[Any]]:
    async def failing(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return failing


def _digest(stack: DevStack, user: str) -> Json:
    """A reminder digest in the person's DM, as Slack echoes it with a click (we need not have sent it)."""
    channel = stack.slack.workspace.dm_channel(user)
    return {"channel": channel, "ts": "1764000000.000100", "text": "Your learning this week", "blocks": []}


def _new_ephemeral(stack: DevStack, user: str, before: int, containing: str) -> Callable[[], Json | None]:
    def found() -> Json | None:
        return next((m for m in stack.slack.ephemerals(user)[before:] if containing in text_of(m)), None)

    return found


async def test_a_button_whose_service_raises_a_user_error_replies_ephemerally_with_its_message(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stack.driver is not None and stack.services is not None
    refusal = "Reminders are set by your admin in this workspace: ask them to stop them."
    monkeypatch.setattr(stack.services.reminder_prefs, "update", _raise(PreferenceError(refusal)))
    before = len(stack.slack.ephemerals(ADA))
    response = await stack.driver.block_action(ADA, "reminder_stop", message=_digest(stack, ADA))
    assert response.status_code == 200
    reply = await wait_for(_new_ephemeral(stack, ADA, before, refusal))
    assert text_of(reply).startswith(refusal) and ":warning:" in str(reply["blocks"])
    assert reply.get("is_ephemeral") and not reply.get("edited")  # a reply beside the digest, not over it


async def _command(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> tuple[httpx.Response, Any]:
    assert stack.driver is not None and stack.services is not None
    monkeypatch.setattr(stack.services.learning, "plans", _raise(RuntimeError(SECRET_WORDS)))
    before = len(stack.slack.ephemerals(ADA))
    response = await stack.driver.command(ADA, "plans")
    return response, _new_ephemeral(stack, ADA, before, UNEXPECTED)


async def _action(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> tuple[httpx.Response, Any]:
    assert stack.driver is not None and stack.services is not None
    monkeypatch.setattr(stack.services.reminder_prefs, "snooze", _raise(RuntimeError(SECRET_WORDS)))
    before = len(stack.slack.ephemerals(ADA))
    response = await stack.driver.block_action(ADA, "reminder_snooze_1d", message=_digest(stack, ADA))
    return response, _new_ephemeral(stack, ADA, before, UNEXPECTED)


async def _lazy_listener(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> tuple[httpx.Response, Any]:
    """Export CSV runs as a lazy listener: Bolt itself only logs what those raise."""
    assert stack.driver is not None and stack.services is not None
    results = await command(stack, MARGARET, "results")
    assert "Export CSV" in " ".join(buttons(results))
    monkeypatch.setattr(stack.services.slack, "dm_channel", _raise(RuntimeError(SECRET_WORDS)))
    before = len(stack.slack.ephemerals(MARGARET))
    response = await stack.driver.block_action(MARGARET, "results_csv", message=results)
    return response, _new_ephemeral(stack, MARGARET, before, UNEXPECTED)


async def _view_submission(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> tuple[httpx.Response, Any]:
    """Not acknowledged yet when it fails: the error goes under the form's first field, the form stays open."""
    assert stack.driver is not None and stack.services is not None
    await stack.driver.command(GRACE, "connect ispring")
    modal = await wait_for(
        lambda: (m := stack.slack.top_modal(GRACE)) and m.get("callback_id") == "connect_ispring" and m
    )
    monkeypatch.setattr(stack.services.connections, "connect_ispring", _raise(RuntimeError(SECRET_WORDS)))
    typed = {"ispring_client_id": {"value": "sandbox-ispring-client"}, "ispring_client_secret": {"value": "x"}}
    response = await stack.driver.view_submission(GRACE, modal, typed)

    def shown() -> Json | None:
        errors = stack.slack.view_errors.get(modal["id"]) or {}
        open_modal = stack.slack.top_modal(GRACE)
        if open_modal is None or open_modal["id"] != modal["id"] or not errors:
            return None
        return {"text": " ".join(errors.values()), "errors": errors}

    return response, shown


async def _home_button(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> tuple[httpx.Response, Any]:
    """App Home has no reply box: the person is told in their DM with the bot."""
    assert stack.driver is not None and stack.services is not None
    await stack.driver.app_home_opened(ADA)
    home = await wait_for(lambda: stack.slack.home(ADA))
    monkeypatch.setattr(stack.services.learning, "ispring_progress", _raise(RuntimeError(SECRET_WORDS)))
    before = len(stack.slack.dm_messages(ADA))
    response = await stack.driver.block_action(ADA, "home_refresh", view=home)
    return response, lambda: next((m for m in stack.slack.dm_messages(ADA)[before:] if UNEXPECTED in text_of(m)), None)


@pytest.mark.parametrize(
    "case",
    [_command, _action, _lazy_listener, _view_submission, _home_button],
    ids=["command", "action", "lazy", "view", "home"],
)
async def test_an_unexpected_exception_is_a_plain_reply_and_a_log_line_with_the_request_id(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, case: Case
) -> None:
    install_redaction()  # as every lmsbot process does: each record carries the log context (the request id)
    caplog.set_level(logging.INFO)
    calls_before = len(stack.slack.calls)
    response, shown = await case(stack, monkeypatch)
    assert response.status_code == 200, response.text  # acknowledged: Slack shows no "dispatch failed"
    request_id = response.headers["x-request-id"]
    reply = await wait_for(shown)
    assert UNEXPECTED in text_of(reply)
    assert await stack.work.wait_idle()

    sent = " ".join(str(call.args) for call in stack.slack.calls[calls_before:])  # all Slack received
    assert "Traceback" not in sent and SECRET_WORDS not in sent and "RuntimeError" not in sent

    [logged] = [r for r in caplog.records if r.getMessage() == "unexpected error in a Slack listener"]
    assert context_of(logged)["request_id"] == request_id and logged.levelno == logging.ERROR
    assert f"request_id={request_id}" in TextFormatter().format(logged).splitlines()[0]  # the line as written
    assert logged.exc_info is not None and SECRET_WORDS in str(logged.exc_info[1])  # the operator sees it all
