"""Migrations: upgrade an empty database, no drift between models and migrations, downgrade to base."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, inspect

from storage import migrate
from storage.db import sync_url_for
from storage.models import metadata
from tests.support.fleet import PROCRASTINATE_TABLES

DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url_for(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", DIALECTS)
def test_upgrade_diff_downgrade(kind: str, fresh_url: Callable[[str], str]) -> None:
    url = fresh_url(kind)
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head() is not None
    # PostgreSQL also gets procrastinate's job queue (REMINDER_EXECUTOR=procrastinate), in procrastinate's own schema.
    queue = set(PROCRASTINATE_TABLES) if kind == "postgresql" else set()
    assert _tables(url) == set(metadata.tables) | {"alembic_version"} | queue
    assert {"slack_installations", "slack_bots", "slack_oauth_states"} <= set(metadata.tables)
    assert migrate.pending_diff(url) == []  # models and migrations agree

    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    assert _tables(url) <= {"alembic_version"}
    assert migrate.pending_diff(url) != []  # and the diff notices when they do not

    migrate.upgrade(url)  # a second round trip works too
    assert migrate.pending_diff(url) == []


def test_upgrade_twice_is_a_no_op(fresh_url: Callable[[str], str]) -> None:
    url = fresh_url("sqlite")
    migrate.upgrade(url)
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
