"""Serving the Slack stub (or any ASGI app, e.g. a Bolt app under test) in a background thread."""

from __future__ import annotations

from bot.devkit.slackstub.state import SlackStub
from bot.devkit.slackstub.webapi import create_app
from bot.devkit.slackstub.workspace import Workspace
from bot.devkit.threaded_server import ThreadedServer

__all__ = ["SlackStubServer", "ThreadedServer"]


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
