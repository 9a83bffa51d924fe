"""The services' view of Slack: people, DMs, and recovering when a workspace's token changes."""

from __future__ import annotations

import pytest
from aiohttp import ServerDisconnectedError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.devkit.clock import VirtualClock
from bot.devkit.slackstub.server import SlackStubServer
from bot.devkit.slackstub.state import SlackStub
from bot.services.slack_gateway import SlackGateway
from bot.services.slack_transport import Pacer


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


async def test_history_pages_with_metadata_and_a_dropped_post_is_never_retried_blindly() -> None:
    with SlackStubServer() as slack:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, slack_bot_token=slack.stub.workspace.bot_token, slack_api_url=slack.url
        )
        gateway = SlackGateway(settings)
        team = slack.stub.workspace.team_id
        channel = await gateway.dm_channel(team, "U0ADA")
        meta = {"event_type": "lmsbot_reminder", "event_payload": {"item_key": "digest", "period": "p"}}
        for i in range(3):
            await gateway.post(team, channel, f"m{i}", [], meta)
        pages = [page async for page in gateway.history(team, channel, oldest=0.0, limit=2)]
        assert [[m["text"] for m in page] for page in pages] == [["m2", "m1"], ["m0"]]
        assert all(m["metadata"] == meta for page in pages for m in page)
        assert [c.args.get("include_all_metadata") for c in slack.stub.calls_for("conversations.history")] == ["1"] * 2

        # slack_sdk retries once when the connection drops; for chat.postMessage that could post twice.
        [handler] = (await gateway.client(team)).retry_handlers
        dropped = ServerDisconnectedError()

        async def retries(method: str) -> bool:
            request = HttpRequest(method="POST", url=f"{slack.url}{method}", headers={})
            return await handler.can_retry_async(state=RetryState(), request=request, error=dropped)

        assert await retries("users.info") and await retries("conversations.history")
        assert not await retries("chat.postMessage")


async def test_a_method_over_its_tier_waits_for_the_minute_instead_of_meeting_ratelimited() -> None:
    clock = VirtualClock(1000.0)
    pacer = Pacer({"chat.update": 2}, clock=clock.now, sleep=clock.sleep)
    [times] = await clock.drive([_paced(pacer, clock, 5)])
    assert times == [1000.0, 1000.0, 1060.0, 1060.0, 1120.0]  # two a minute, per workspace
    other = await clock.drive([_paced(pacer, clock, 2, team="T2")])
    assert other == [[1120.0, 1120.0]]  # another workspace has its own budget


async def _paced(pacer: Pacer, clock: VirtualClock, n: int, team: str = "T1") -> list[float]:
    times = []
    for _ in range(n):
        await pacer.wait("chat.update", team)
        times.append(clock.now())
    return times


async def test_the_stand_in_enforces_tiers_when_asked_and_dms_to_a_user_id_name_the_channel() -> None:
    with SlackStubServer(SlackStub(tiers={"conversations.open": 2})) as slack:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, slack_bot_token=slack.stub.workspace.bot_token, slack_api_url=slack.url
        )
        client = AsyncWebClient(token=slack.stub.workspace.bot_token, base_url=slack.url)
        for _ in range(2):
            await client.conversations_open(users="U0ADA")
        with pytest.raises(SlackApiError) as refused:
            await client.conversations_open(users="U0ADA")
        assert refused.value.response.status_code == 429 and refused.value.response["error"] == "ratelimited"
        assert int(refused.value.response.headers["retry-after"]) >= 1

        gateway = SlackGateway(settings)
        team = slack.stub.workspace.team_id
        slack.stub.clear()
        posted = await gateway.post_dm(team, "U0ADA", "hello", [])
        assert posted.channel == slack.stub.workspace.dm_channel("U0ADA")
        assert await gateway.dm_channel(team, "U0ADA") == posted.channel  # known: no conversations.open
        assert slack.stub.calls_for("conversations.open") == []
        await gateway.aclose()
