"""`UserError`: the one base of every error whose message is written for the person who asked.

It sits at the bottom of `bot` and imports nothing, so services and the LMS clients may all derive from it
without crossing the import-linter layers. Storage may import nothing from `bot`: its errors are mapped once,
to plain copy, by the error boundary (`handlers.errors`), and their own words stay in the log.

The boundary shows `message` as it is (it may carry Slack mrkdwn such as `/lms link` or a <@U…> mention, so it
is not escaped); any other exception is an operator's problem: logged with the request id, never shown.
"""

from __future__ import annotations


class UserError(Exception):
    """An error a person may see: `message` says, in plain words, what went wrong and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
