"""Running the sandbox: in a background thread for tests/benchmarks, or blocking for the CLI."""

from __future__ import annotations

import uvicorn

from bot.devkit.sandbox.app import create_app, set_state
from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.seed import build_state
from bot.devkit.sandbox.state import SandboxState
from bot.devkit.threaded_server import ThreadedServer

__all__ = ["SandboxConfig", "SandboxServer", "serve"]


def seeded_state(config: SandboxConfig) -> SandboxState:
    state = build_state(config.seed, config.learners, clock_speed=config.clock_speed)
    state.latency = config.latency
    return state


class SandboxServer(ThreadedServer):
    """The sandbox served in a background thread on a free port. Use as a context manager.

    `state` is live: tests mutate it, inject faults and read the call log directly.
    """

    def __init__(self, config: SandboxConfig | None = None, state: SandboxState | None = None) -> None:
        self.config = config or SandboxConfig()
        app = create_app(state or seeded_state(self.config), self.config)
        super().__init__(app, host=self.config.host, port=self.config.port, name="lms-sandbox")

    @property
    def state(self) -> SandboxState:
        state: SandboxState = self.app.state.ctx.state
        return state

    @property
    def url(self) -> str:
        return self.base_url

    def reset(self, state: SandboxState | None = None) -> SandboxState:
        """Swap in a fresh seeded world (or the given one) without restarting uvicorn."""
        new = state or seeded_state(self.config)
        set_state(self.app, new)
        return new


def serve(config: SandboxConfig) -> None:
    """Run in the foreground until interrupted (the `lmsbot sandbox` command)."""
    app = create_app(seeded_state(config), config)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", lifespan="off")
