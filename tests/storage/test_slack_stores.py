"""slack_sdk's stores on our engine and tables, with Slack tokens encrypted at rest."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import text

from storage.crypto import Keyring
from storage.db import Database
from storage.rotation import rotate_keys
from storage.slack_stores import encrypted_installation_store, oauth_state_store, sqlalchemy_installation_store


def installation(**overrides: object) -> Installation:
    values: dict[str, object] = {
        "app_id": "A1",
        "team_id": "T1",
        "team_name": "Acme",
        "user_id": "U1",
        "bot_token": "xoxb-1-2-secretbot",
        "bot_id": "B1",
        "bot_user_id": "UB",
        "bot_scopes": "chat:write,commands",
        "user_token": "xoxp-1-2-secretuser",
    }
    values.update(overrides)
    return Installation(**values)  # type: ignore[arg-type]


async def test_encrypted_store_round_trip(db: Database, keyring: Keyring) -> None:
    store = encrypted_installation_store(db, "cid", keyring)
    original = installation()
    await store.async_save(original)
    assert original.bot_token == "xoxb-1-2-secretbot"  # the caller's object is not modified
    found = await store.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert found is not None and found.bot_token == "xoxb-1-2-secretbot" and found.user_token == "xoxp-1-2-secretuser"
    assert found.team_name == "Acme" and found.bot_scopes == ["chat:write", "commands"]
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-1-2-secretbot"
    async with db.transaction(write=False) as session:
        raw = (await session.execute(text("SELECT bot_token, user_token FROM slack_installations"))).one()
    assert all(value.startswith("gAAAAA") for value in raw)

    await store.async_delete_all(enterprise_id=None, team_id="T1")
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="T1") is None


async def test_plaintext_rows_from_before_encryption_are_read_then_encrypted_by_rotation(
    db: Database, keyring: Keyring
) -> None:
    await sqlalchemy_installation_store(db, "cid").async_save(installation())  # the unwrapped store: plaintext
    store = encrypted_installation_store(db, "cid", keyring)
    found = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None and found.bot_token == "xoxb-1-2-secretbot"
    assert await rotate_keys(db, keyring) == 2  # the installation row and the bot row
    async with db.transaction(write=False) as session:
        dump = repr((await session.execute(text("SELECT * FROM slack_installations"))).all())
    assert "xox" not in dump
    found = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None and found.user_token == "xoxp-1-2-secretuser"


async def test_long_rotating_tokens_fit_once_encrypted(db: Database, keyring: Keyring) -> None:
    # Rotating tokens are longer than slack_sdk's VARCHAR(200) once encrypted; PostgreSQL enforces lengths.
    long_token = "xoxe.xoxb-1-" + "a" * 170
    store = encrypted_installation_store(db, "cid", keyring)
    await store.async_save(installation(bot_token=long_token, bot_refresh_token="xoxe-1-" + "b" * 150))
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == long_token


async def test_oauth_state_store(db: Database) -> None:
    store = oauth_state_store(db, expiration_seconds=60)
    state = await store.async_issue()
    assert await store.async_consume(state) is True
    assert await store.async_consume(state) is False
