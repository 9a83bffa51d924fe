"""URLs, the UTC datetime type, the keyring and its loading."""

from __future__ import annotations

import logging
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect

from bot.config import Settings
from storage.crypto import Keyring, load_keyring
from storage.db import Database, async_url_for, sync_url_for
from storage.errors import ConfigurationError, DecryptionError
from storage.types import UTCDateTime


@pytest.mark.parametrize(
    ("url", "async_url", "sync_url"),
    [
        ("sqlite:///lmsbot.db", "sqlite+aiosqlite:///lmsbot.db", "sqlite:///lmsbot.db"),
        ("sqlite+aiosqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        (
            "postgresql://u:p%40ss@h:5433/db",
            "postgresql+psycopg://u:p%40ss@h:5433/db",
            "postgresql+psycopg://u:p%40ss@h:5433/db",
        ),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_urls_are_derived_for_each_driver(url: str, async_url: str, sync_url: str) -> None:
    assert async_url_for(url) == async_url
    assert sync_url_for(url) == sync_url


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_urls_are_refused_clearly(url: str) -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        Database(url)


async def test_database_attributes_and_repr_hide_the_password() -> None:
    db = Database("postgresql://bot:hunter2@127.0.0.1/lmsbot")
    try:
        assert db.dialect == "postgresql"
        assert "hunter2" not in repr(db)
        assert db.sync_url == "postgresql+psycopg://bot:hunter2@127.0.0.1/lmsbot"
    finally:
        await db.dispose()


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_seconds=7)
    try:
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 7000
    finally:
        await db.dispose()


async def test_in_memory_sqlite_keeps_its_data_between_transactions() -> None:
    db = Database("sqlite://")
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
            await session.execute(text("INSERT INTO t VALUES (1)"))
        async with db.transaction(write=False) as session:
            assert (await session.execute(text("SELECT x FROM t"))).scalar() == 1
    finally:
        await db.dispose()


def test_utc_datetime_normalises_and_refuses_naive_values() -> None:
    column = UTCDateTime()
    sqlite, pg = _dialect("sqlite"), _dialect("postgresql")
    plus2 = datetime(2026, 11, 24, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert column.process_bind_param(plus2, sqlite) == datetime(2026, 11, 24, 10, 0)
    assert column.process_bind_param(plus2, pg) == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert column.process_result_value(datetime(2026, 11, 24, 10, 0), sqlite) == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert column.process_result_value("2026-11-24 10:00:00", sqlite) == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert column.process_result_value(plus2, pg) == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert column.process_bind_param(None, pg) is None
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 11, 24, 10, 0), pg)


def _dialect(name: str) -> Dialect:
    return PGDialect_psycopg() if name == "postgresql" else SQLiteDialect_pysqlite()


def test_keyring_round_trip_and_repr_without_secrets() -> None:
    key = Keyring.generate_key()
    keyring = Keyring.from_keys(key)
    token = keyring.encrypt("s3cret-value")
    assert "s3cret-value" not in token
    assert keyring.decrypt(token) == "s3cret-value"
    assert key not in repr(keyring) and repr(keyring) == "Keyring(1 key)"
    assert len(Keyring.from_keys(f" {key} , {Keyring.generate_key()} ,")) == 2


def test_malformed_key_is_named_by_position_but_never_printed() -> None:
    good = Keyring.generate_key()
    with pytest.raises(ConfigurationError) as caught:
        Keyring.from_keys([good, "not-a-valid-key-material"])
    message = str(caught.value)
    assert "#2 of 2" in message and "not-a-valid-key-material" not in message and good not in message
    with pytest.raises(ConfigurationError, match="no key"):
        Keyring.from_keys(" , ")


def test_decrypting_with_the_wrong_key_is_a_clear_error() -> None:
    token = Keyring.from_keys(Keyring.generate_key()).encrypt("x")
    with pytest.raises(DecryptionError, match="removed from LMSBOT_ENCRYPTION_KEYS"):
        Keyring.from_keys(Keyring.generate_key()).decrypt(token)


def test_rotation_moves_a_secret_to_the_newest_key() -> None:
    old, new = Keyring.generate_key(), Keyring.generate_key()
    token = Keyring.from_keys(old).encrypt("v")
    both = Keyring.from_keys([new, old])
    assert both.needs_rotation(token)
    rotated = both.rotate(token)
    assert not both.needs_rotation(rotated)
    assert Fernet(new.encode()).decrypt(rotated.encode()) == b"v"


def test_production_without_keys_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LMSBOT_ENCRYPTION_KEYS is not set: generate one with `lmsbot keys"):
        load_keyring(None, production=True, dev_key_file=tmp_path / "key")
    assert not (tmp_path / "key").exists()


def test_keys_from_settings_are_used(tmp_path: Path) -> None:
    key = Keyring.generate_key()
    settings = Settings(_env_file=None, lmsbot_encryption_keys=SecretStr(key))
    assert settings.lmsbot_env == "production"
    keyring = load_keyring(settings.lmsbot_encryption_keys, production=True, dev_key_file=tmp_path / "key")
    assert Fernet(key.encode()).decrypt(keyring.encrypt("x").encode()) == b"x"
    assert (
        load_keyring(SecretStr(key), production=True, dev_key_file=tmp_path / "k").decrypt(keyring.encrypt("y")) == "y"
    )


def test_development_creates_then_reuses_a_private_key_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state" / "dev.key"
    with caplog.at_level(logging.WARNING, logger="storage.crypto"):
        first = load_keyring(None, production=False, dev_key_file=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "development key file" in caplog.text and path.read_text().strip() not in caplog.text
    second = load_keyring("", production=False, dev_key_file=path)
    assert second.decrypt(first.encrypt("x")) == "x"
    assert [p.name for p in path.parent.iterdir()] == ["dev.key"]  # no temporary file left behind
