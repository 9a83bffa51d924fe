"""Serving the Slack stub (or any ASGI app, e.g. a Bolt app under test) in a background thread."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from bot.slackstub.state import SlackStub
from bot.slackstub.webapi import create_app
from bot.slackstub.workspace import Workspace

__all__ = ["SlackStubServer", "ThreadedServer"]


class ThreadedServer:
    """uvicorn in a daemon thread on a free port, like `SandboxServer`. Use as a context manager."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, name: str = "asgi-server") -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} failed to start")
            time.sleep(0.01)
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class SlackStubServer(ThreadedServer):
    """The stub's Web API and response URLs on 127.0.0.1 and a free port.

    `url` ends in "/api/": hand it to slack_sdk as `base_url` (or lmsbot as SLACK_API_URL). `stub` is live:
    tests inject faults, mint triggers and response URLs, and read messages and the call log from it.
    """

    def __init__(self, stub: SlackStub | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.stub = stub or SlackStub()
        super().__init__(create_app(self.stub), host=host, port=port, name="slack-stub")

    @property
    def url(self) -> str:
        return f"{self.base_url}/api/"

    def reset(self, workspace: Workspace | None = None) -> SlackStub:
        """A fresh world in the same stub object, without restarting uvicorn."""
        self.stub.reset(workspace)
        return self.stub

    def start(self) -> None:
        super().start()
        self.stub.base_url = self.base_url

    def __enter__(self) -> SlackStubServer:
        self.start()
        return self
