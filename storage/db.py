"""The database: one URL in, an async engine for the bot and sync URLs for Alembic and APScheduler out.

Only storage/ opens sessions. Repositories use `Database.transaction()` for one short transaction per
operation, so nothing ever holds a connection (or a lock) across a slow LMS or Slack call.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, Literal

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from storage.errors import ConfigurationError, DatabaseUnavailable, unavailable_cause

log = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgresql"]

_ASYNC_DRIVERS: dict[Dialect, str] = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS: dict[Dialect, str] = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
_BEGIN_OPTION = "lmsbot_sqlite_begin"
CONNECT_TIMEOUT_SECONDS = 10


def parse_url(url: str) -> tuple[Dialect, URL]:
    """The dialect and parsed URL; `postgres://` (Heroku style) and any driver suffix are accepted."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"DATABASE_URL is not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return "sqlite", parsed
    if backend in ("postgresql", "postgres"):
        return "postgresql", parsed
    raise ConfigurationError(f"DATABASE_URL must be sqlite:///... or postgresql://..., not {backend}://")


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def async_url_for(url: str) -> str:
    dialect, parsed = parse_url(url)
    return _render(parsed.set(drivername=_ASYNC_DRIVERS[dialect]))


def sync_url_for(url: str) -> str:
    dialect, parsed = parse_url(url)
    return _render(parsed.set(drivername=_SYNC_DRIVERS[dialect]))


def _is_sqlite_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)


class Database:
    """One async engine per process (build it at start-up, `await dispose()` at shutdown)."""

    def __init__(self, url: str, *, echo: bool = False, busy_timeout_seconds: float = 30.0) -> None:
        self.url = url
        self.dialect: Dialect
        self.dialect, parsed = parse_url(url)
        self.async_url = async_url_for(url)
        self.sync_url = sync_url_for(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "postgresql":
            kwargs["pool_pre_ping"] = True  # a long-lived bot outlives server-side idle timeouts
            # libpq waits forever for a server that does not answer; a bounded wait makes an outage an error.
            kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        elif _is_sqlite_memory(parsed):
            # Every new connection to :memory: is a new, empty database: share one (tests, demos only).
            kwargs["poolclass"] = StaticPool
        self.engine: AsyncEngine = create_async_engine(self.async_url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, busy_timeout_ms=int(busy_timeout_seconds * 1000))
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(self.engine, expire_on_commit=False)
        # One per event loop: a Database is usually used from one loop, but tests and the CLI may run several.
        self._write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"Database({parse_url(self.url)[1]!r})"  # SQLAlchemy's URL repr masks the password

    @asynccontextmanager
    async def transaction(self, *, write: bool = True, locks: Iterable[str] = ()) -> AsyncIterator[AsyncSession]:
        """One short transaction, committed on success and rolled back on error.

        `write=True` serialises against other writers where it matters: SQLite takes its write lock up front
        (BEGIN IMMEDIATE) so a read-then-write cannot fail half-way with "database is locked"; PostgreSQL
        takes a transaction-scoped advisory lock for each of `locks`, which makes check-then-insert logic
        safe across processes without SERIALIZABLE retries.

        A database that cannot be reached raises DatabaseUnavailable (a StorageError), so callers meet one
        typed error for "down, restarting or cut off" whatever the driver.
        """
        try:
            async with self._sqlite_writer(write), self.engine.connect() as conn:
                if write and self.dialect == "sqlite":
                    await conn.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
                async with self.sessionmaker(bind=conn) as session, session.begin():
                    if write and self.dialect == "postgresql":
                        for key in sorted(set(locks)):  # a fixed order: two lockers cannot deadlock
                            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
                    yield session
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            cause = unavailable_cause(exc)
            if cause is None:
                raise
            raise DatabaseUnavailable(cause) from exc

    @asynccontextmanager
    async def _sqlite_writer(self, write: bool) -> AsyncIterator[None]:
        """SQLite has one writer at a time: this process's writers queue here, in order, rather than in SQLite's
        busy handler, which sleeps them in growing steps (up to 100 ms) and turns 50 concurrent writes into
        seconds. Other processes still meet busy_timeout. A queued writer holds no pooled connection."""
        if not write or self.dialect != "sqlite":
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            lock = self._write_locks[loop] = asyncio.Lock()
        async with lock:
            yield

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below); the sqlite3 module's own transaction handling
        # would defer it and make BEGIN IMMEDIATE impossible.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL: readers never block the writer, so the web and worker processes can share the file.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite; ON DELETE CASCADE needs it
            # Wait for another process's write lock instead of failing at once.
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))
