"""Storage fixtures: every `db` test runs on SQLite (a temporary file) and on PostgreSQL (a throw-away
database per test session), both migrated with storage.migrate and emptied before each test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text

from storage import migrate
from storage.crypto import Keyring
from storage.db import Database, parse_url
from storage.models import metadata
from tests.conftest import require_service

POSTGRES_ADMIN_URL = os.environ.get("LMSBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_conninfo(url: str) -> str:
    parsed = parse_url(url)[1].set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates and drops throw-away databases next to the admin database."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def create(self) -> str:
        name = f"lmsbot_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(_pg_conninfo(self.admin_url), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return _pg_conninfo(str(parse_url(self.admin_url)[1].set(database=name)))

    def drop_all(self) -> None:
        with psycopg.connect(_pg_conninfo(self.admin_url), autocommit=True) as conn:
            for name in self.created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    admin = parse_url(POSTGRES_ADMIN_URL)[1]
    require_service("PostgreSQL", admin.host or "127.0.0.1", admin.port or 5432)
    databases = PostgresDatabases(POSTGRES_ADMIN_URL)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'lmsbot.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url(postgres_databases: PostgresDatabases) -> str:
    url = postgres_databases.create()
    migrate.upgrade(url)
    return url


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated database of each kind (shared by the session; `db` empties it)."""
    return str(request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param]))


@pytest.fixture
def fresh_url(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """A new, empty (unmigrated) database of the given kind."""

    def make(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / f'fresh-{uuid.uuid4().hex[:6]}.db'}"
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        return databases.create()

    return make


async def empty_tables(db: Database) -> None:
    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(table.delete())


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await empty_tables(database)
    yield database
    await database.dispose()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_keys(Keyring.generate_key())
