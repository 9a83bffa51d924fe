"""What can go wrong talking to an LMS, as a small typed hierarchy.

Every error carries the LMS's own message (when it sent one), the endpoint name and the HTTP status, so a
Slack reply or a CLI line can say in plain words what happened.
"""

from __future__ import annotations

from bot.errors import UserError


class LMSError(Exception):
    """Base class: anything the LMS layer raises."""

    status: int | None = None
    default_message = "The LMS request failed"

    def __init__(
        self,
        message: str | None = None,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        provider: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.endpoint = endpoint
        self.provider = provider
        if status is not None:
            self.status = status
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.provider or 'LMS'} {self.endpoint}" if self.endpoint else (self.provider or "LMS")
        code = f" (HTTP {self.status})" if self.status else ""
        return f"{where}: {self.message}{code}"


class ValidationError(LMSError, UserError):
    """Bad input caught before anything was sent; the message is written for the person who typed it."""

    default_message = "Invalid input"


class NotConnectedError(LMSError):
    """No credentials for this LMS: nothing can be asked until an admin connects it."""

    default_message = "This LMS is not connected yet"


class BadRequestError(LMSError):
    status = 400
    default_message = "Invalid parameter value/input parameter missing"


class UnauthorizedError(LMSError):
    status = 401
    default_message = "The LMS rejected our credentials"


class ForbiddenError(LMSError):
    status = 403
    default_message = "Sorry! You are not authorized to do this operation"


class NotFoundError(LMSError):
    status = 404
    default_message = "Not found"


class LimitExceededError(LMSError):
    status = 422
    default_message = "Maximum limit exceeded"


class ServerError(LMSError):
    status = 500
    default_message = "Sorry! Server error occured"


class RateLimitedError(LMSError):
    """The endpoint is locked (by the LMS) or our own budget would be exceeded by waiting any longer."""

    default_message = "Rate limit reached; the LMS is locked for this endpoint"

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float,
        endpoint: str | None = None,
        status: int | None = None,
        provider: str | None = None,
    ) -> None:
        self.retry_after = max(0.0, retry_after)
        super().__init__(message, endpoint=endpoint, status=status, provider=provider)


class DailyBudgetExhaustedError(RateLimitedError):
    """lmsbot's daily share of the LMS account's API calls is spent (`ZOHO_DAILY_CALL_BUDGET`, rolling 24 h).

    Nothing was sent. `try_again_after` is the local clock time ("14:05 CET") when a call fits again.
    """

    default_message = "The LMS's daily API budget for this workspace is used up"

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float,
        try_again_after: str,
        endpoint: str | None = None,
        provider: str | None = None,
    ) -> None:
        self.try_again_after = try_again_after
        super().__init__(
            message or f"{self.default_message}; try again after {try_again_after}",
            retry_after=retry_after,
            endpoint=endpoint,
            provider=provider,
        )


class UnreachableError(LMSError):
    """Timeout, refused connection, DNS failure: no usable answer at all."""

    default_message = "The LMS could not be reached"


class DeadlineExceededError(UnreachableError):
    """No complete answer within the call's deadline (LMS_CALL_DEADLINE_SECONDS): a slow or stalling server."""

    default_message = "no complete answer in time"


class ProtocolError(LMSError):
    """The LMS answered, but not in a form we can read."""

    default_message = "The LMS sent a response we could not read"


class InvalidResponseError(ProtocolError):
    """An answer lmsbot refuses to read: too large, a redirect, a web page, hostile XML or JSON.

    The message says what was wrong in plain words; `str()` puts it after "<provider> sent an answer lmsbot
    cannot read".
    """

    default_message = "the answer could not be read"

    def __str__(self) -> str:
        where = f" ({self.endpoint})" if self.endpoint else ""
        return f"{self.provider or 'The LMS'} sent an answer lmsbot cannot read{where}: {self.message}"


_BY_STATUS: dict[int, type[LMSError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    422: LimitExceededError,
}


def error_for_status(status: int) -> type[LMSError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return LMSError
