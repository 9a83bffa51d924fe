"""Provider connections: encrypted secrets, idempotent saves, the access-token cache, key rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import text

from bot.lms.tokens import AccessToken
from bot.services.token_store import DatabaseTokenStore
from storage.crypto import Keyring
from storage.db import Database
from storage.errors import DecryptionError
from storage.models import metadata
from storage.repositories import ConnectionRepository
from storage.rotation import rotate_keys
from storage.slack_stores import encrypted_installation_store

ZOHO_SECRET, ZOHO_REFRESH, ZOHO_ACCESS = "zoho-client-secret-4f1c", "1000.refresh-9a8b7c", "1000.access-d4e5f6"
ISPRING_SECRET, ISPRING_ACCESS = "ispring-client-secret-77aa", "ispring-access-88bb"
SLACK_BOT, SLACK_USER = "xoxb-1111-2222-botTokenSecret", "xoxp-1111-2222-userTokenSecret"
SLACK_BOT_REFRESH = "xoxe-1-botRefreshSecret"
IN_AN_HOUR = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


async def save_zoho(repo: ConnectionRepository, **overrides: object) -> None:
    values: dict[str, object] = {
        "data_center": "eu",
        "api_url": "https://people.zoho.eu/",
        "accounts_url": "https://accounts.zoho.eu",
        "client_id": "1000.CLIENT",
        "client_secret": ZOHO_SECRET,
        "refresh_token": ZOHO_REFRESH,
        "scopes": "ZOHOPEOPLE.training.ALL",
        "connected_by": "U1",
    }
    values.update(overrides)
    await repo.save_zoho("T1", **values)  # type: ignore[arg-type]


async def test_save_and_get_zoho(db: Database, keyring: Keyring) -> None:
    repo = ConnectionRepository(db, keyring)
    assert await repo.get("T1", "zoho") is None
    await save_zoho(repo)
    conn = await repo.get("T1", "zoho")
    assert conn is not None
    assert conn.api_url == "https://people.zoho.eu"  # trailing slash trimmed
    assert conn.client_secret is not None and conn.client_secret.get_secret_value() == ZOHO_SECRET
    assert conn.refresh_token is not None and conn.refresh_token.get_secret_value() == ZOHO_REFRESH
    assert conn.access_token is None and conn.data_center == "eu" and conn.connected_by == "U1"
    assert ZOHO_SECRET not in repr(conn) and ZOHO_REFRESH not in repr(conn)
    assert conn.created_at.tzinfo is UTC


async def test_saving_the_same_connection_twice_changes_nothing(db: Database, keyring: Keyring) -> None:
    repo = ConnectionRepository(db, keyring)
    await save_zoho(repo)
    await repo.save_access_token("T1", "zoho", ZOHO_ACCESS, IN_AN_HOUR, None)
    before = await repo.get("T1", "zoho")
    async with db.transaction(write=False) as session:
        raw_before = (await session.execute(text("SELECT client_secret_enc FROM provider_connections"))).scalar()
    await save_zoho(repo)
    after = await repo.get("T1", "zoho")
    assert after == before  # same timestamps, access token kept
    async with db.transaction(write=False) as session:
        assert (
            await session.execute(text("SELECT client_secret_enc FROM provider_connections"))
        ).scalar() == raw_before


async def test_new_credentials_replace_and_drop_the_cached_access_token(db: Database, keyring: Keyring) -> None:
    repo = ConnectionRepository(db, keyring)
    await save_zoho(repo)
    await repo.save_access_token("T1", "zoho", ZOHO_ACCESS, IN_AN_HOUR, None)
    await save_zoho(repo, connected_by="U2")  # not a credential: the access token stays
    conn = await repo.get("T1", "zoho")
    assert conn is not None and conn.access_token is not None and conn.connected_by == "U2"
    await save_zoho(repo, refresh_token="1000.new-refresh")
    conn = await repo.get("T1", "zoho")
    assert conn is not None and conn.access_token is None and conn.access_token_expires_at is None
    assert conn.refresh_token is not None and conn.refresh_token.get_secret_value() == "1000.new-refresh"
    assert conn.updated_at >= conn.created_at


async def test_zoho_without_a_stored_client_secret(db: Database, keyring: Keyring) -> None:
    repo = ConnectionRepository(db, keyring)
    await save_zoho(repo, client_secret=None)
    conn = await repo.get("T1", "zoho")
    assert conn is not None and conn.client_secret is None and conn.refresh_token is not None


async def test_ispring_list_and_delete(db: Database, keyring: Keyring) -> None:
    repo = ConnectionRepository(db, keyring)
    saved = await repo.save_ispring(
        "T1",
        api_url="https://api-learn.ispringlearn.com",
        client_id="isp",
        client_secret=ISPRING_SECRET,
        connected_by=None,
    )
    assert saved.provider == "ispring" and saved.refresh_token is None and saved.accounts_url is None
    assert saved.client_secret is not None and saved.client_secret.get_secret_value() == ISPRING_SECRET
    again = await repo.save_ispring(
        "T1",
        api_url="https://api-learn.ispringlearn.com",
        client_id="isp",
        client_secret=ISPRING_SECRET,
        connected_by=None,
    )
    assert again == saved
    await save_zoho(repo)
    await repo.save_ispring("T2", api_url="https://x", client_id="c", client_secret="s", connected_by="U9")
    assert [(c.team_id, c.provider) for c in await repo.list()] == [
        ("T1", "ispring"),
        ("T1", "zoho"),
        ("T2", "ispring"),
    ]
    assert [c.provider for c in await repo.list("T1")] == ["ispring", "zoho"]
    assert await repo.delete("T1", "ispring") is True
    assert await repo.delete("T1", "ispring") is False
    assert await repo.get("T1", "ispring") is None
    with pytest.raises(ValueError, match="unknown provider"):
        await repo.get("T1", "moodle")


async def test_access_token_save_load_clear(db: Database, keyring: Keyring) -> None:
    repo = ConnectionRepository(db, keyring)
    assert await repo.save_access_token("T1", "zoho", ZOHO_ACCESS, IN_AN_HOUR, None) is False  # no connection
    await save_zoho(repo)
    assert await repo.save_access_token("T1", "zoho", ZOHO_ACCESS, IN_AN_HOUR, None) is True
    assert await repo.save_access_token("T1", "zoho", ZOHO_ACCESS, IN_AN_HOUR, None) is False
    stored = await repo.load_access_token("T1", "zoho")
    assert stored is not None and stored.value == ZOHO_ACCESS and stored.expires_at == IN_AN_HOUR
    assert ZOHO_ACCESS not in repr(stored)
    assert await repo.clear_access_token("T1", "zoho") is True
    assert await repo.clear_access_token("T1", "zoho") is False
    assert await repo.load_access_token("T1", "zoho") is None


async def test_token_store_adapter(db: Database, keyring: Keyring) -> None:
    repo = ConnectionRepository(db, keyring)
    await save_zoho(repo)
    store = DatabaseTokenStore(repo, "T1", "zoho")
    assert await store.load() is None
    expires = IN_AN_HOUR.timestamp()
    await store.save(AccessToken(ZOHO_ACCESS, expires, "ZOHOPEOPLE.training.ALL"))
    # Another process (another store on the same database) sees it.
    loaded = await DatabaseTokenStore(ConnectionRepository(db, keyring), "T1", "zoho").load()
    assert loaded == AccessToken(ZOHO_ACCESS, expires, "ZOHOPEOPLE.training.ALL")
    await store.clear()
    assert await store.load() is None
    # No connection row (credentials from the environment): the token is kept in memory instead.
    memory = DatabaseTokenStore(repo, "T9", "ispring")
    await memory.save(AccessToken("tok", expires))
    assert await memory.load() == AccessToken("tok", expires)


async def _write_everything(db: Database, keyring: Keyring) -> None:
    repo = ConnectionRepository(db, keyring)
    await save_zoho(repo)
    await repo.save_access_token("T1", "zoho", ZOHO_ACCESS, IN_AN_HOUR, None)
    await repo.save_ispring(
        "T1", api_url="https://isp", client_id="isp", client_secret=ISPRING_SECRET, connected_by="U1"
    )
    await repo.save_access_token("T1", "ispring", ISPRING_ACCESS, IN_AN_HOUR, None)
    store = encrypted_installation_store(db, "client-1", keyring)
    await store.async_save(
        Installation(
            app_id="A1",
            team_id="T1",
            user_id="U1",
            bot_token=SLACK_BOT,
            bot_id="B1",
            bot_user_id="UB1",
            bot_refresh_token=SLACK_BOT_REFRESH,
            bot_token_expires_in=43200,
            user_token=SLACK_USER,
        )
    )


async def _all_text(db: Database) -> str:
    dump: list[str] = []
    async with db.transaction(write=False) as session:
        for table in metadata.sorted_tables:
            for row in (await session.execute(text(f'SELECT * FROM "{table.name}"'))).all():
                dump.append(repr(tuple(row)))
    return "\n".join(dump)


async def test_no_secret_is_stored_in_plaintext(db: Database, keyring: Keyring) -> None:
    await _write_everything(db, keyring)
    everything = await _all_text(db)
    assert "1000.CLIENT" in everything and "B1" in everything  # the dump does contain the rows
    for secret in (ZOHO_SECRET, ZOHO_REFRESH, ZOHO_ACCESS, ISPRING_SECRET, ISPRING_ACCESS, SLACK_BOT, SLACK_USER):
        assert secret not in everything
    assert SLACK_BOT_REFRESH not in everything
    assert "xox" not in everything


async def test_key_rotation(db: Database) -> None:
    key_a, key_b = Keyring.generate_key(), Keyring.generate_key()
    await _write_everything(db, Keyring.from_keys(key_a))

    both = Keyring.from_keys(f"{key_b},{key_a}")
    # provider_connections: 2 rows, slack_installations: 1, slack_bots: 1
    assert await rotate_keys(db, both) == 4
    await _assert_readable(db, both)
    only_b = Keyring.from_keys(key_b)
    await _assert_readable(db, only_b)
    assert await rotate_keys(db, both) == 0
    assert await rotate_keys(db, only_b) == 0
    with pytest.raises(DecryptionError):
        await ConnectionRepository(db, Keyring.from_keys(key_a)).get("T1", "zoho")


async def _assert_readable(db: Database, keyring: Keyring) -> None:
    repo = ConnectionRepository(db, keyring)
    zoho, ispring = await repo.get("T1", "zoho"), await repo.get("T1", "ispring")
    assert zoho is not None and ispring is not None
    assert [
        s.get_secret_value() if s else None for s in (zoho.client_secret, zoho.refresh_token, zoho.access_token)
    ] == [
        ZOHO_SECRET,
        ZOHO_REFRESH,
        ZOHO_ACCESS,
    ]
    assert ispring.client_secret is not None and ispring.client_secret.get_secret_value() == ISPRING_SECRET
    assert ispring.access_token is not None and ispring.access_token.get_secret_value() == ISPRING_ACCESS
    store = encrypted_installation_store(db, "client-1", keyring)
    installation = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert installation is not None
    assert (installation.bot_token, installation.user_token, installation.bot_refresh_token) == (
        SLACK_BOT,
        SLACK_USER,
        SLACK_BOT_REFRESH,
    )
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == SLACK_BOT and bot.bot_refresh_token == SLACK_BOT_REFRESH


async def test_clock_is_injectable(db: Database, keyring: Keyring) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    repo = ConnectionRepository(db, keyring, clock=lambda: when)
    await save_zoho(repo)
    conn = await repo.get("T1", "zoho")
    assert conn is not None and conn.created_at == conn.updated_at == when
    later = ConnectionRepository(db, keyring, clock=lambda: when + timedelta(days=1))
    await later.save_access_token("T1", "zoho", "a", IN_AN_HOUR, None)
    conn = await repo.get("T1", "zoho")
    assert conn is not None and conn.updated_at == when + timedelta(days=1) and conn.created_at == when
