"""Shared fixtures: one LMS sandbox server per test session, reset to a fresh demo world for each test."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest

from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import SandboxServer
from bot.sandbox.state import SandboxState

SandboxFactory = Callable[..., SandboxServer]


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
