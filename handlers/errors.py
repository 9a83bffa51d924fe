"""The error boundary: every failure a person can meet becomes a plain reply — never a stack trace.

- `message_for` maps an exception to what the person sees: a `UserError` shows its Problem's sentence
  (`handlers.views.problems`) or its own words; the LMS
  errors, Slack's refusals and storage's errors are mapped here, once, to plain copy (storage's own words and
  the database driver's stay in the log); anything else is logged with the request id and answered with
  `UNEXPECTED`.
- `install(app)` registers the one `@app.error` handler. Bolt calls it for whatever a listener (command,
  action, shortcut, view submission, event) raises; it answers where the person is: the ephemeral reply of
  a command or a message button, an inline error on an unacknowledged view submission, the modal itself
  for a submission already acknowledged or a button inside a modal, and a DM for App Home and shortcuts
  (which have no reply box).
- `guarded(listener)` wraps every listener and lazy listener in the same answer (see its docstring for why
  `@app.error` alone is not enough); `@app.error` answers whatever escapes a wrapper.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import UserError
from bot.lms.errors import (
    DailyBudgetExhaustedError,
    ForbiddenError,
    LMSError,
    NotConnectedError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    UnauthorizedError,
    UnreachableError,
)
from bot.services.errors import DecryptionError, NotFound, StorageError, unavailable_cause
from bot.services.roles import NotAllowed
from bot.services.slack_gateway import SlackNotInstalled
from handlers.views import SlackMessage, error_message
from handlers.views.notices import DATABASE_UNAVAILABLE, UNEXPECTED, field_text, problem_modal, refusal
from handlers.views.problems import problem_text

__all__ = ["DATABASE_UNAVAILABLE", "UNEXPECTED", "guarded", "install", "message_for"]

log = logging.getLogger(__name__)

Listener = Callable[..., Awaitable[None]]


def message_for(exc: BaseException) -> SlackMessage:
    cause = unavailable_cause(exc)
    if cause is not None:
        # The driver's words are for the operator's log, not for the person who asked.
        log.warning("database unavailable while answering: %s", cause)
        return error_message(DATABASE_UNAVAILABLE)
    return _message_for(exc)


def _message_for(exc: BaseException) -> SlackMessage:
    if isinstance(exc, NotAllowed):
        return error_message(refusal(exc.role, exc.what))
    if isinstance(exc, UserError):  # our own words, with their mrkdwn (`/lms link`, <@U…>) kept
        return error_message(problem_text(exc), markup=True)
    if isinstance(exc, StorageError):
        return _storage_message(exc)
    if isinstance(exc, NotConnectedError):
        return error_message(
            "This LMS is not connected yet.", "An admin can run `/lms connect zoho` or `/lms connect ispring`."
        )
    if isinstance(exc, DailyBudgetExhaustedError):
        return error_message(f"{exc.message}.")
    if isinstance(exc, RateLimitedError):
        minutes = max(1, round(exc.retry_after / 60))
        return error_message(
            f"{exc.provider or 'The LMS'} is rate-limited right now and nothing is cached yet.",
            f"Try again in about {minutes} min.",
        )
    if isinstance(exc, UnreachableError):
        return error_message(f"{exc.provider or 'The LMS'} is not answering right now.", "Try again in a few minutes.")
    if isinstance(exc, UnauthorizedError):
        return error_message(
            f"{exc.provider or 'The LMS'} no longer accepts lmsbot's credentials.",
            "An admin can reconnect it with `/lms connect`.",
        )
    if isinstance(exc, ForbiddenError):
        return error_message(f"{exc.provider or 'The LMS'} says lmsbot is not allowed to do that: {exc.message}")
    if isinstance(exc, NotFoundError):
        return error_message(f"{exc.provider or 'The LMS'} could not find that: {exc.message}")
    if isinstance(exc, ProtocolError):  # hostile or garbled content, a redirect, an answer too large
        return error_message(
            f"{exc.provider or 'The LMS'} sent an answer lmsbot cannot read: {exc.message}.",
            "Try again later; if it keeps happening, an admin can check the connection with `/lms status`.",
        )
    if isinstance(exc, LMSError):
        return error_message(f"{exc.provider or 'The LMS'} said: {exc.message}")
    if isinstance(exc, SlackNotInstalled):
        return error_message("lmsbot is not installed in this workspace yet.")
    if isinstance(exc, SlackApiError):
        log.warning("Slack API error: %s", exc.response.get("error"))
        return error_message(f"Slack refused a request ({exc.response.get('error')}). Please try again.")
    # The log context puts the request id (and workspace, user) on the line; the traceback stays in the log.
    log.error("unexpected error in a Slack listener", exc_info=exc)
    return error_message(UNEXPECTED)


def _storage_message(exc: StorageError) -> SlackMessage:
    """Storage words its errors for operators (ids, table names, key hints): people get plain copy."""
    log.warning("storage refused while answering: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, NotFound):
        return error_message("That is not there any more: it may have just been removed. Please try again.")
    if isinstance(exc, DecryptionError):
        return error_message(
            "lmsbot cannot read the LMS credentials it stored.", "An admin can reconnect the LMS with `/lms connect`."
        )
    return error_message("lmsbot could not save or read that just now.", "Please try again in a minute.")


# --- the boundary ------------------------------------------------------------------------------------------------


def install(app: AsyncApp) -> None:
    """The one `@app.error` handler, for what a listener outside `guarded` raises (and errors before one runs)."""

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], context: AsyncBoltContext) -> BoltResponse | None:
        acked = context.ack is None or context.ack.response is not None
        ack_with = await answer(error, body, context.client, context.respond, acked=acked)
        return None if acked else BoltResponse(status=200, body=ack_with or "")


def guarded(listener: Listener) -> Listener:
    """A listener (or lazy listener) behind the boundary: what it raises is answered, never re-raised.

    Bolt hands a listener's exception to `@app.error` but, once the listener has acked, forgets that ack when
    the handler returns: a failure within Bolt's 10 ms poll makes the request look unacknowledged (an HTTP 404
    to Slack, "didn't call ack()"). And Bolt only logs what a lazy listener raises. So every listener is
    wrapped; the wrapper receives Bolt's `args` and passes on the arguments the listener names.
    """
    wanted = list(inspect.signature(listener).parameters)

    async def run(args: AsyncArgs) -> None:
        try:
            await listener(**{name: getattr(args, name, None) for name in wanted})
        except Exception as exc:  # noqa: BLE001 - the boundary: answered in plain words, unexpected ones logged
            body: dict[str, Any] = dict(args.body or {})
            ack = args.ack
            acked = ack is None or ack.response is not None or bool(getattr(args.req, "lazy_only", False))
            if not acked and body.get("type") != "view_submission":
                await ack()  # Slack's 3 seconds first; the answer follows on the response URL
                acked = True
            ack_with = await answer(exc, body, args.client, args.respond, acked=acked)
            if ack_with is not None and ack is not None:
                await ack(**ack_with)

    run.__name__ = run.__qualname__ = getattr(listener, "__name__", "listener")  # Bolt names lazy runs by it
    return run


async def answer(
    exc: Exception,
    body: Mapping[str, Any],
    client: AsyncWebClient | None,
    respond: AsyncRespond | None,
    *,
    acked: bool,
) -> dict[str, Any] | None:
    """Tell the person what went wrong. Returns what to acknowledge a request not acknowledged yet with (a view
    submission's inline errors; `{}` for a plain ack), None when it was acknowledged already."""
    shown = message_for(exc)
    view = body.get("view") or {}
    try:
        if body.get("type") == "view_submission":
            if not acked:
                return _inline_error(view, shown)
            if client is not None:  # acknowledged with "update" (a "Saving…" view): the modal says it
                await client.views_update(view_id=str(view.get("id")), view=problem_modal(_title(view), shown))
            return None
        if respond is not None and respond.response_url is not None:  # a command, a message button: ephemeral
            await respond(text=shown["text"], blocks=shown["blocks"], response_type="ephemeral", replace_original=False)
        elif client is not None and view.get("type") == "modal":  # a menu or button inside a modal
            await client.views_update(view_id=str(view.get("id")), view=problem_modal(_title(view), shown))
        elif client is not None and body.get("type") in ("block_actions", "shortcut", "message_action"):
            user = (body.get("user") or {}).get("id")  # App Home and shortcuts have no reply box: a DM
            if user:
                await client.chat_postMessage(channel=str(user), text=shown["text"], blocks=shown["blocks"])
    except Exception as failed:  # noqa: BLE001 - the answer itself failed (Slack down, view gone): log only
        log.warning("could not show an error to the user: %s: %s", type(failed).__name__, failed)
    return None if acked else {}


def _inline_error(view: Mapping[str, Any], shown: SlackMessage) -> dict[str, Any]:
    """An error under the form's first input (the form stays open with what was typed), else the modal says it."""
    block = next((b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"), None)
    if block:
        return {"response_action": "errors", "errors": {block: field_text(shown["text"])}}
    return {"response_action": "update", "view": problem_modal(_title(view), shown)}


def _title(view: Mapping[str, Any]) -> str:
    return str((view.get("title") or {}).get("text") or "lmsbot")
