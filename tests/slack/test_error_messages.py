"""How failures read in Slack: the database being away is one plain sentence, the driver's words stay in the log."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from handlers.errors import DATABASE_UNAVAILABLE, message_for
from storage.errors import DatabaseUnavailable
from tests.support.slack import text_of


@pytest.mark.parametrize(
    "exc",
    [
        DatabaseUnavailable('OperationalError: connection to server at "10.0.0.5", port 5432 failed'),
        # Raised by code that does not go through Database.transaction (slack_sdk's stores use the engine).
        OperationalError("SELECT 1", {}, ConnectionRefusedError('connection to server at "10.0.0.5" failed')),
    ],
)
def test_an_unavailable_database_is_one_plain_sentence(exc: Exception, caplog: pytest.LogCaptureFixture) -> None:
    shown = text_of(dict(message_for(exc)))
    assert DATABASE_UNAVAILABLE == "The bot's database is unavailable — try again in a minute."
    assert DATABASE_UNAVAILABLE in shown and "10.0.0.5" not in shown
    assert "10.0.0.5" in caplog.text  # the operator still learns the real cause
