"""Shared fixtures: one LMS sandbox server per test session, reset to a fresh demo world for each test."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.sandbox.state import SandboxState

SandboxFactory = Callable[..., SandboxServer]
# Tests that must run the migrations themselves on new SQLite files (not get a copy of the template).
REAL_MIGRATIONS = ("tests/storage/test_migrations.py",)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head per test session (per xdist worker), by the real `storage.migrate`."""
    from storage import migrate

    path = tmp_path_factory.mktemp("template") / "head.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(autouse=True)
def _migrate_sqlite_by_copy(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, _sqlite_template: Path
) -> None:
    """`migrate.upgrade(url)` of a new SQLite file to head copies the session's template instead.

    Migrating a new file runs about a hundred DDL statements, each committed and synced to disk: a second or more
    under load, and the fixtures (make_world, DevStack, the worker stages) make hundreds of such files. The copy
    is the same schema, made by the same code once per session. Upgrading an existing file, to another revision,
    or PostgreSQL still runs Alembic; so do the migration tests themselves (REAL_MIGRATIONS).
    """
    if request.node.path.as_posix().endswith(REAL_MIGRATIONS):
        return
    from storage import migrate
    from storage.db import sync_url_for

    real_upgrade = migrate.upgrade

    def upgrade(url: str, revision: str = "head") -> None:
        parsed = make_url(sync_url_for(url))
        file = parsed.database if parsed.get_backend_name() == "sqlite" and not parsed.query else None
        if revision == "head" and file not in (None, "", ":memory:"):
            target = Path(str(file))
            if not target.exists() and target.parent.is_dir():
                shutil.copyfile(_sqlite_template, target)
                return
        real_upgrade(url, revision)

    monkeypatch.setattr(migrate, "upgrade", upgrade)


@pytest.fixture(scope="session")
def _shared_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def sandbox(_shared_sandbox: SandboxServer) -> SandboxServer:
    """The session's sandbox with a fresh demo state (call log, tokens and rate windows cleared too)."""
    _shared_sandbox.reset()
    return _shared_sandbox


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    """A dedicated sandbox: `sandbox_factory(SandboxConfig(rate_limit=3), state=...)` or keyword overrides."""
    servers: list[SandboxServer] = []

    def make(
        config: SandboxConfig | None = None, state: SandboxState | None = None, **overrides: object
    ) -> SandboxServer:
        server = SandboxServer(config or SandboxConfig(**overrides), state)  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a local service is missing, except in CI (LMSBOT_REQUIRE_SERVICES=1), where it fails."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("LMSBOT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}, and LMSBOT_REQUIRE_SERVICES=1 says it must be used")
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return os.environ.get("LMSBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
