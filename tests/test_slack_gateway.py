"""The services' view of Slack: people, DMs, and recovering when a workspace's token changes."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.services.slack_gateway import SlackGateway
from bot.slackstub.server import SlackStubServer


async def test_people_exclude_bots_and_a_revoked_token_is_looked_up_again() -> None:
    with SlackStubServer() as slack:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, slack_bot_token=slack.stub.workspace.bot_token, slack_api_url=slack.url
        )
        gateway = SlackGateway(settings)
        team = slack.stub.workspace.team_id
        people = await gateway.users(team)
        assert "U0ADA" in {p.id for p in people}
        assert not {"U0LMSBOT", "USLACKBOT"} & {p.id for p in people}
        ada = await gateway.user(team, "U0ADA")
        assert ada.email == "ada.lovelace@example.com" and ada.tz == "Europe/London"
        first = await gateway.client(team)
        slack.stub.fail_next("chat.postMessage", error="token_revoked")
        with pytest.raises(SlackApiError):
            await gateway.post(team, "U0ADA", "hi", [])
        assert await gateway.client(team) is not first  # the token is fetched again, not reused forever
        ts = await gateway.post(team, "U0ADA", "hi again", [])
        assert ts and slack.stub.dm_messages("U0ADA")[-1]["text"] == "hi again"
