"""Schema migrations, callable from the CLI and tests: `upgrade`, `downgrade`, `current`, `pending_diff`.

All take the application's DATABASE_URL (any driver suffix) and run Alembic over a synchronous connection.
"""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from storage.db import sync_url_for
from storage.models import metadata

SCRIPT_LOCATION = "storage:migrations"


# Tables that are not ours to model: procrastinate's job queue (revision 0007 creates it with procrastinate's SQL).
FOREIGN_TABLE_PREFIXES = ("procrastinate_",)


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate and drift checks look only at lmsbot's own tables."""
    return not (type_ == "table" and name is not None and name.startswith(FOREIGN_TABLE_PREFIXES))


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # ConfigParser interpolation: a '%' in a URL-encoded password must be doubled.
    config.set_main_option("sqlalchemy.url", sync_url_for(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head() -> str | None:
    """The newest revision this code ships."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current(url: str) -> str | None:
    """The revision the database is at (None: never migrated)."""
    engine = create_engine(sync_url_for(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def pending_diff(url: str) -> list[Any]:
    """Differences between the models and the database schema; empty means no drift.

    Run after `upgrade` in tests (models and migrations agree) and at start-up (the database is current).
    """
    engine = create_engine(sync_url_for(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include_name})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def require_current(url: str) -> None:
    """Refuse to run against a database the migrations have not caught up with (a clear message, not SQL errors)."""
    from storage.errors import ConfigurationError

    have, want = current(url), head()
    if have != want:
        state = "has no lmsbot tables yet" if have is None else f"is at revision {have}, this lmsbot needs {want}"
        raise ConfigurationError(f"the database {state}: run `lmsbot db upgrade` first")
