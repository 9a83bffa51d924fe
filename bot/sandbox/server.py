"""Running the sandbox: in a background thread for tests/benchmarks, or blocking for the CLI."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn

from bot.sandbox.app import create_app, set_state
from bot.sandbox.config import SandboxConfig
from bot.sandbox.seed import build_state
from bot.sandbox.state import SandboxState

__all__ = ["SandboxConfig", "SandboxServer", "serve"]


def seeded_state(config: SandboxConfig) -> SandboxState:
    state = build_state(config.seed, config.learners, clock_speed=config.clock_speed)
    state.latency = config.latency
    return state


class SandboxServer:
    """uvicorn in a daemon thread on a free port. Use as a context manager.

    `state` is live: tests mutate it, inject faults and read the call log directly.
    """

    def __init__(self, config: SandboxConfig | None = None, state: SandboxState | None = None) -> None:
        self.config = config or SandboxConfig()
        self.app = create_app(state or seeded_state(self.config), self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def state(self) -> SandboxState:
        state: SandboxState = self.app.state.ctx.state
        return state

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def reset(self, state: SandboxState | None = None) -> SandboxState:
        """Swap in a fresh seeded world (or the given one) without restarting uvicorn."""
        new = state or seeded_state(self.config)
        set_state(self.app, new)
        return new

    def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            host=self.config.host,
            port=self.config.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="lms-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server failed to start")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(config: SandboxConfig) -> None:
    """Run in the foreground until interrupted (the `lmsbot sandbox` command)."""
    app = create_app(seeded_state(config), config)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", lifespan="off")
