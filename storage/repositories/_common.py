"""Helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeAlias

from sqlalchemy import CursorResult, Result, Table
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase

from storage.db import Database
from storage.types import utcnow

Provider: TypeAlias = Literal["zoho", "ispring"]
PROVIDERS: tuple[Provider, ...] = ("zoho", "ispring")
# The time now, an aware UTC datetime: the composition root passes its one clock's reading (bot.clock.utc), so rows
# are stamped with the time the rest of the process sees; storage imports nothing from bot, so it is a callable here.
Now: TypeAlias = Callable[[], datetime]


def check_provider(provider: str) -> Provider:
    if provider == "zoho":
        return "zoho"
    if provider == "ispring":
        return "ispring"
    raise ValueError(f"unknown provider {provider!r}; expected 'zoho' or 'ispring'")


def upsert(db: Database, target: type[DeclarativeBase] | Table) -> PgInsert | SqliteInsert:
    """INSERT with ON CONFLICT support: the same statement on both databases (they share the syntax)."""
    table = target if isinstance(target, Table) else target.__table__
    assert isinstance(table, Table)
    return pg_insert(table) if db.dialect == "postgresql" else sqlite_insert(table)


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE/DELETE/INSERT touched (DML results are always cursor results)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


class Repository:
    """Base: a database, and a clock tests can move (aware UTC datetimes)."""

    def __init__(self, db: Database, *, clock: Now | None = None) -> None:
        self.db = db
        self._clock: Now = clock or utcnow

    def now(self) -> datetime:
        return self._clock()
