"""How failures read in Slack: the database being away is one plain sentence, the driver's words stay in the log."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from handlers.errors import DATABASE_UNAVAILABLE, message_for
from storage.errors import DatabaseUnavailable, DecryptionError, NotFound, StorageError
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


@pytest.mark.parametrize(
    ("exc", "plain"),
    [
        (NotFound("tracked module #7 does not exist in this workspace"), "not there any more"),
        (DecryptionError("a stored secret does not decrypt with any of the 2 configured key(s)"), "reconnect"),
        (StorageError("UPDATE reminder_state failed: row version 3 != 4"), "could not save or read that"),
    ],
)
def test_storage_words_stay_in_the_log(exc: StorageError, plain: str, caplog: pytest.LogCaptureFixture) -> None:
    """Storage words its errors for operators (ids, tables, key counts): a person gets plain copy instead."""
    shown = text_of(dict(message_for(exc)))
    assert plain in shown and str(exc) not in shown
    assert str(exc) in caplog.text
