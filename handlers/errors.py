"""Every failure a person can meet, as a clear ephemeral message — never a stack trace."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

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
    ValidationError,
)
from bot.services.connections import ConnectError
from bot.services.learning import NeedsSetup
from bot.services.links import LinkError
from bot.services.roles import NotAllowed
from bot.services.slack_gateway import SlackNotInstalled
from bot.services.tracking import TrackError
from handlers.views import SlackMessage, error_message
from storage.errors import StorageError, unavailable_cause

log = logging.getLogger(__name__)

# Raised on purpose by services; their message is already written for the person who asked.
PLAIN = (NeedsSetup, NotAllowed, LinkError, TrackError, ConnectError, ValidationError, StorageError)
DATABASE_UNAVAILABLE = "The bot's database is unavailable — try again in a minute."


def message_for(exc: BaseException) -> SlackMessage:
    cause = unavailable_cause(exc)
    if cause is not None:
        # The driver's words are for the operator's log, not for the person who asked.
        log.warning("database unavailable while answering: %s", cause)
        return error_message(DATABASE_UNAVAILABLE)
    return _message_for(exc)


def _message_for(exc: BaseException) -> SlackMessage:
    if isinstance(exc, PLAIN):
        text = exc.message if isinstance(exc, LMSError) else str(exc)  # no "LMS:" prefix on our own words
        return error_message(text, markup=True)
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
    log.exception("unexpected error in a Slack listener", exc_info=exc)
    return error_message("Something went wrong on our side. It has been logged; please try again.")
