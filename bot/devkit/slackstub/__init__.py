"""A local stand-in for Slack: the Web API the bot calls out to, and a driver that plays Slack towards it.

- `SlackStubServer` / `SlackStub`: Web API methods at `<url>` (ends in "/api/"), response URLs, call log,
  messages per channel, views, fault injection (webapi.py, state.py, server.py).
- `SlackDriver`: signed slash commands, interactions and events into a Bolt app (driver.py).
- render.py: Block Kit and calls as terminal text for the console mode.
"""

from bot.devkit.slackstub.driver import SlackDriver, state_values
from bot.devkit.slackstub.server import SlackStubServer, ThreadedServer
from bot.devkit.slackstub.state import RESPONSE_URL_METHOD, ApiCall, SlackError, SlackStub
from bot.devkit.slackstub.workspace import SlackUser, Workspace, demo_workspace

__all__ = [
    "RESPONSE_URL_METHOD",
    "ApiCall",
    "SlackDriver",
    "SlackError",
    "SlackStub",
    "SlackStubServer",
    "SlackUser",
    "ThreadedServer",
    "Workspace",
    "demo_workspace",
    "state_values",
]
