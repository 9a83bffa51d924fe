"""The Slack stand-in: slack_sdk's own clients against the stub, the driver's signed requests, rendering, and a
tiny Bolt app end to end over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.devkit.slackstub import (
    RESPONSE_URL_METHOD,
    ApiCall,
    SlackDriver,
    SlackStub,
    SlackStubServer,
    ThreadedServer,
    state_values,
)
from bot.devkit.slackstub.render import (
    PLAIN,
    Style,
    mrkdwn,
    render_blocks,
    render_call,
    render_message,
    render_view,
    slack_date,
)
from bot.devkit.slackstub.workspace import demo_workspace

TOKEN = "xoxb-0000-demo-lmsbot"
SECRET = "test-signing-secret"
ADA, GRACE, MARGARET = "U0ADA", "U0GRACE", "U0MARGARET"


class ManualClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def _server() -> Iterator[SlackStubServer]:
    with SlackStubServer() as server:
        yield server


@pytest.fixture
def server(_server: SlackStubServer) -> SlackStubServer:
    _server.reset()
    _server.stub.clock = time.time
    return _server


@pytest.fixture
def stub(server: SlackStubServer) -> SlackStub:
    return server.stub


@pytest.fixture
def client(server: SlackStubServer) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=server.url)


async def refused(call: Awaitable[Any]) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "edit_module",
    "private_metadata": "course=1",
    "title": {"type": "plain_text", "text": "Edit module"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "name",
            "label": {"type": "plain_text", "text": "Name"},
            "element": {"type": "plain_text_input", "action_id": "value", "initial_value": "Intro"},
        },
        {
            "type": "input",
            "block_id": "due",
            "label": {"type": "plain_text", "text": "Due"},
            "element": {"type": "datepicker", "action_id": "value"},
        },
        {
            "type": "input",
            "block_id": "kind",
            "label": {"type": "plain_text", "text": "Kind"},
            "element": {
                "type": "radio_buttons",
                "action_id": "value",
                "options": [
                    {"text": {"type": "plain_text", "text": "Self-paced"}, "value": "self"},
                    {"text": {"type": "plain_text", "text": "Blended"}, "value": "blended"},
                ],
            },
        },
    ],
}


# -- Web API through slack_sdk ------------------------------------------------------------------------------
async def test_auth_test_and_team_info(client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert auth["team_id"] == "T0DEMO" and auth["user_id"] == "U0LMSBOT" and auth["bot_id"] == "B0LMSBOT"
    assert auth["team"] == "Demo Co" and auth["url"] == "https://demo-co.slack.com/"
    team = await client.team_info()
    assert team["team"]["id"] == "T0DEMO" and team["team"]["domain"] == "demo-co"


async def test_bad_tokens_and_unknown_methods(server: SlackStubServer, stub: SlackStub) -> None:
    bad = await refused(AsyncWebClient(token="xoxb-wrong", base_url=server.url).auth_test())
    assert bad.response.status_code == 200 and bad.response["error"] == "invalid_auth"
    missing = await refused(AsyncWebClient(base_url=server.url).auth_test())
    assert missing.response["error"] == "not_authed"
    unknown = await refused(AsyncWebClient(token=TOKEN, base_url=server.url).api_call("lms.teleport"))
    assert unknown.response["error"] == "unknown_method"
    assert [c.response["error"] for c in stub.calls] == ["invalid_auth", "not_authed", "unknown_method"]


async def test_user_token_auth(server: SlackStubServer) -> None:
    auth = await AsyncWebClient(token="xoxp-0000-demo-grace", base_url=server.url).auth_test()
    assert auth["user_id"] == GRACE and "bot_id" not in auth.data


async def test_post_to_a_user_lands_in_their_dm(client: AsyncWebClient, stub: SlackStub) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Due soon*"}}]
    sent = await client.chat_postMessage(channel=ADA, text="Due soon", blocks=blocks)
    assert sent["channel"] == "D0ADA" and sent["ts"] == sent["message"]["ts"]
    assert sent["message"]["bot_id"] == "B0LMSBOT" and sent["message"]["user"] == "U0LMSBOT"
    assert sent["message"]["blocks"][0]["block_id"]  # Slack assigns a block_id when there is none
    [stored] = stub.messages("D0ADA")
    assert stored["text"] == "Due soon" and stored["channel"] == "D0ADA"
    assert stub.dm_messages(ADA) == [stored] and stub.messages(ADA) == [stored]
    [call] = stub.calls_for("chat.postMessage")
    assert call.args["channel"] == ADA and call.args["blocks"] == blocks and call.user_id == "U0LMSBOT"
    nowhere = await refused(client.chat_postMessage(channel="C0NOPE", text="x"))
    assert nowhere.response["error"] == "channel_not_found"
    empty = await refused(client.api_call("chat.postMessage", json={"channel": ADA}))
    assert empty.response["error"] == "no_text"


async def test_chat_update_edits_in_place(client: AsyncWebClient, stub: SlackStub) -> None:
    first = await client.chat_postMessage(channel="C0LEARNING", text="Syncing…")
    second = await client.chat_postMessage(channel="C0LEARNING", text="other")
    blocks = [{"type": "section", "block_id": "s", "text": {"type": "mrkdwn", "text": "Synced 3 courses"}}]
    updated = await client.api_call("chat.update", json={"channel": "C0LEARNING", "ts": first["ts"], "blocks": blocks})
    assert updated["ts"] == first["ts"] and updated["text"] == "Syncing…"  # text left out: kept
    messages = stub.messages("C0LEARNING")
    assert [m["ts"] for m in messages] == [first["ts"], second["ts"]]
    assert messages[0]["blocks"] == blocks and messages[0]["edited"]["user"] == "U0LMSBOT"
    await client.chat_update(channel="C0LEARNING", ts=first["ts"], text="Done", blocks=[])
    assert "blocks" not in stub.messages("C0LEARNING")[0] and stub.messages("C0LEARNING")[0]["text"] == "Done"
    missing = await refused(client.chat_update(channel="C0LEARNING", ts="1.000001", text="x"))
    assert missing.response["error"] == "message_not_found"


async def test_delete_permalink_and_ephemeral(client: AsyncWebClient, stub: SlackStub) -> None:
    sent = await client.chat_postMessage(channel="C0GENERAL", text="hi")
    link = await client.chat_getPermalink(channel="C0GENERAL", message_ts=sent["ts"])
    assert link["permalink"] == f"https://demo-co.slack.com/archives/C0GENERAL/p{sent['ts'].replace('.', '')}"
    deleted = await client.chat_delete(channel="C0GENERAL", ts=sent["ts"])
    assert deleted["ts"] == sent["ts"] and stub.messages("C0GENERAL") == []
    gone = await refused(client.chat_getPermalink(channel="C0GENERAL", message_ts=sent["ts"]))
    assert gone.response["error"] == "message_not_found"
    eph = await client.chat_postEphemeral(channel="C0GENERAL", user=GRACE, text="only you")
    [seen] = stub.ephemerals(GRACE)
    assert seen["ts"] == eph["message_ts"] and seen["recipient"] == GRACE and seen["is_ephemeral"] is True
    assert stub.messages("C0GENERAL") == [] and stub.ephemerals(ADA) == []
    nobody = await refused(client.chat_postEphemeral(channel="C0GENERAL", user="U0NOBODY", text="x"))
    assert nobody.response["error"] == "user_not_found"


async def test_conversations_open_is_stable(client: AsyncWebClient) -> None:
    first = await client.conversations_open(users=ADA)
    assert first["channel"] == {"id": "D0ADA"} and "already_open" not in first.data
    again = await client.conversations_open(users=[ADA], return_im=True)
    assert again["channel"]["id"] == "D0ADA" and again["channel"]["is_im"] and again["already_open"]
    assert again["channel"]["user"] == ADA
    assert (await refused(client.conversations_open(users="U0NOBODY"))).response["error"] == "user_not_found"


async def test_conversations_history_pages_newest_first_with_metadata_on_request(
    client: AsyncWebClient, stub: SlackStub
) -> None:
    dm = (await client.conversations_open(users=ADA))["channel"]["id"]
    meta = {"event_type": "lmsbot_reminder", "event_payload": {"item_key": "digest", "period": "2026-03-30"}}
    posted = [(await client.chat_postMessage(channel=dm, text=f"m{i}", metadata=meta))["ts"] for i in range(5)]
    await client.chat_postMessage(channel=dm, text="a reply", thread_ts=posted[0])  # threads: not in history
    await client.chat_postEphemeral(channel=dm, user=ADA, text="only Ada")
    await client.chat_delete(channel=dm, ts=posted[4])
    plain = await client.conversations_history(channel=dm)
    assert [m["text"] for m in plain["messages"]] == ["m3", "m2", "m1", "m0"]  # newest first, live ones only
    assert plain["has_more"] is False and "response_metadata" not in plain
    assert all("metadata" not in m and "channel" not in m for m in plain["messages"])
    assert plain["messages"][0]["bot_id"] == stub.workspace.bot_id
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await client.conversations_history(
            channel=dm, oldest=posted[0], limit=2, cursor=cursor, include_all_metadata=True
        )
        pages.append([m["text"] for m in page["messages"]])
        assert all(m["metadata"] == meta for m in page["messages"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page["has_more"]:
            break
    assert pages == [["m3", "m2"], ["m1"]]  # `oldest` itself is left out unless inclusive
    inclusive = await client.conversations_history(channel=dm, oldest=posted[0], inclusive=True, latest=posted[1])
    assert [m["text"] for m in inclusive["messages"]] == ["m1", "m0"]
    for bad, error in (
        ({"channel": "D0NOPE"}, "channel_not_found"),
        ({"channel": dm, "cursor": "x"}, "invalid_cursor"),
    ):
        assert (await refused(client.conversations_history(**bad))).response["error"] == error


async def test_a_held_answer_has_already_stored_the_message(server: SlackStubServer, stub: SlackStub) -> None:
    stub.hold_answer("chat.postMessage", 30.0)
    task = asyncio.ensure_future(
        AsyncWebClient(token=TOKEN, base_url=server.url).chat_postMessage(channel=ADA, text="x")
    )
    await eventually(lambda: stub.held == 1)
    assert [m["text"] for m in stub.dm_messages(ADA)] == ["x"] and not task.done()  # stored, not yet answered
    assert [c.ok for c in stub.calls_for("chat.postMessage")] == [True]
    stub.release_holds()
    assert (await asyncio.wait_for(task, 5))["ts"] == stub.dm_messages(ADA)[0]["ts"]
    assert stub.held == 0
    await AsyncWebClient(token=TOKEN, base_url=server.url).chat_postMessage(channel=ADA, text="y")  # not held


async def test_users_info_lookup_and_time_zones(client: AsyncWebClient, stub: SlackStub) -> None:
    user = (await client.users_info(user=ADA))["user"]
    assert user["id"] == ADA and user["team_id"] == "T0DEMO" and user["name"] == "ada"
    assert user["real_name"] == "Ada Lovelace" and user["profile"]["email"] == "ada.lovelace@example.com"
    assert user["profile"]["display_name"] == "ada" and user["profile"]["real_name"] == "Ada Lovelace"
    assert not user["is_admin"] and not user["is_owner"] and not user["is_bot"] and not user["deleted"]
    grace = (await client.users_info(user=GRACE))["user"]
    assert grace["is_admin"] and grace["is_owner"]
    claude = (await client.users_info(user="U0CLAUDE"))["user"]
    offset = datetime.now(UTC).astimezone(ZoneInfo("Pacific/Auckland")).utcoffset()
    assert offset is not None and claude["tz"] == "Pacific/Auckland"
    assert claude["tz_offset"] == int(offset.total_seconds())
    assert claude["tz_label"].startswith("New Zealand")
    kolkata = (await client.users_info(user="U0BARBARA"))["user"]
    assert (kolkata["tz_offset"], kolkata["tz_label"]) == (19800, "India Standard Time")
    found = await client.users_lookupByEmail(email="Grace.Hopper@example.com")
    assert found["user"]["id"] == GRACE
    assert (await refused(client.users_lookupByEmail(email="x@example.com"))).response["error"] == "users_not_found"
    assert (await refused(client.users_info(user="U0NOBODY"))).response["error"] == "user_not_found"
    stub.workspace.add_user("U0NEW", "newbie", "New Person", "new@example.com", "Asia/Tokyo", deleted=True)
    assert (await client.users_info(user="U0NEW"))["user"]["deleted"] is True


async def test_users_list_paginates(client: AsyncWebClient, stub: SlackStub) -> None:
    seen: list[str] = []
    pages = 0
    async for page in await client.users_list(limit=3):  # slack_sdk follows response_metadata.next_cursor
        pages += 1
        assert len(page["members"]) <= 3
        seen.extend(m["id"] for m in page["members"])
    assert seen == list(stub.workspace.users) and pages == 4  # 8 people + the bot + Slackbot
    cursors = [c.args.get("cursor") for c in stub.calls_for("users.list")]
    assert cursors[0] is None and all(cursors[1:])
    assert (await client.users_list())["response_metadata"]["next_cursor"] == ""
    assert (await refused(client.users_list(cursor="bm9wZQ=="))).response["error"] == "invalid_cursor"


async def test_form_encoded_and_query_arguments(server: SlackStubServer, stub: SlackStub) -> None:
    blocks = [{"type": "divider"}]
    async with httpx.AsyncClient() as http:
        form = await http.post(
            server.url + "chat.postMessage",
            data={"channel": "C0GENERAL", "text": "form", "blocks": json.dumps(blocks)},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        legacy = await http.get(server.url + "users.info", params={"token": TOKEN, "user": ADA})
        bad = await http.post(
            server.url + "chat.postMessage", data={"token": TOKEN, "channel": "C0GENERAL", "blocks": "["}
        )
    assert form.json()["ok"] and stub.messages("C0GENERAL")[0]["blocks"][0]["type"] == "divider"
    assert legacy.json()["user"]["id"] == ADA
    assert "token" not in stub.calls_for("users.info")[0].args
    assert bad.status_code == 200 and bad.json() == {"ok": False, "error": "invalid_blocks_format"}


async def test_ratelimited_then_retried_by_slack_sdk(server: SlackStubServer, stub: SlackStub) -> None:
    stub.fail_next("chat.postMessage")
    plain = await refused(AsyncWebClient(token=TOKEN, base_url=server.url).chat_postMessage(channel=ADA, text="x"))
    assert plain.response.status_code == 429 and plain.response["error"] == "ratelimited"
    assert plain.response.headers["Retry-After"] == "1"
    stub.fail_next("chat.postMessage", retry_after=0)  # slack_sdk sleeps Retry-After + random() seconds
    retrying = AsyncWebClient(
        token=TOKEN, base_url=server.url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )
    sent = await retrying.chat_postMessage(channel=ADA, text="after the wait")
    assert sent["ok"] and [c.status for c in stub.calls_for("chat.postMessage")] == [429, 429, 200]
    stub.fail_next("*", "fatal_error", status=500, times=2)
    for _ in range(2):
        assert (await refused(retrying.team_info())).response.status_code == 500
    assert (await retrying.team_info())["ok"]
    stub.fail_next("views.publish", "not_enabled")
    refusal = await refused(retrying.views_publish(user_id=ADA, view={"type": "home", "blocks": []}))
    assert refusal.response.status_code == 200 and refusal.response["error"] == "not_enabled"


async def test_views_open_needs_a_live_unused_trigger(client: AsyncWebClient, stub: SlackStub) -> None:
    clock = ManualClock()
    stub.clock = clock
    trigger = stub.new_trigger(ADA)
    opened = (await client.views_open(trigger_id=trigger, view=MODAL))["view"]
    assert opened["id"].startswith("V") and opened["hash"] and opened["root_view_id"] == opened["id"]
    assert opened["callback_id"] == "edit_module" and opened["state"] == {"values": {}}
    assert stub.top_modal(ADA) == opened
    assert (await refused(client.views_open(trigger_id=trigger, view=MODAL))).response["error"] == (
        "exchanged_trigger_id"
    )
    assert (await refused(client.views_open(trigger_id="1.2.nope", view=MODAL))).response["error"] == (
        "invalid_trigger_id"
    )
    late = stub.new_trigger(ADA)
    clock.t += 3.5
    assert (await refused(client.views_open(trigger_id=late, view=MODAL))).response["error"] == "expired_trigger_id"
    untitled = {k: v for k, v in MODAL.items() if k != "title"}
    bad = await refused(client.views_open(trigger_id=stub.new_trigger(ADA), view=untitled))
    assert bad.response["error"] == "invalid_arguments" and bad.response["response_metadata"]["messages"]


async def test_views_update_push_and_publish(client: AsyncWebClient, stub: SlackStub) -> None:
    opened = (await client.views_open(trigger_id=stub.new_trigger(ADA), view={**MODAL, "external_id": "ext-1"}))["view"]
    changed = {**MODAL, "title": {"type": "plain_text", "text": "Saved"}}
    updated = (await client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed))["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    stale = await refused(client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed))
    assert stale.response["error"] == "hash_conflict"
    by_external = await client.views_update(external_id="ext-1", view=MODAL)
    assert by_external["view"]["id"] == opened["id"]
    assert (await refused(client.views_update(view_id="V404", view=MODAL))).response["error"] == "not_found"
    for n in range(2):
        pushed = (await client.views_push(trigger_id=stub.new_trigger(ADA), view=MODAL))["view"]
        assert pushed["root_view_id"] == opened["id"] and len(stub.modal_stack(ADA)) == n + 2
    limit = await refused(client.views_push(trigger_id=stub.new_trigger(ADA), view=MODAL))
    assert limit.response["error"] == "push_limit_reached"
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi <@U0ADA>"}}]}
    first = (await client.views_publish(user_id=ADA, view=home))["view"]
    second = (await client.views_publish(user_id=ADA, view=home, hash=first["hash"]))["view"]
    assert second["id"] == first["id"] and second["hash"] != first["hash"] and stub.home(ADA) == second
    assert (await refused(client.views_publish(user_id=ADA, view=home, hash=first["hash"]))).response["error"] == (
        "hash_conflict"
    )
    assert (await refused(client.views_publish(user_id="U0NOBODY", view=home))).response["error"] == "user_not_found"


# -- response URLs ------------------------------------------------------------------------------------------
async def test_response_url_posts_replaces_and_deletes(client: AsyncWebClient, stub: SlackStub) -> None:
    url = stub.new_response_url(user_id=ADA, channel_id="C0GENERAL")
    webhook = AsyncWebhookClient(url)
    assert (await webhook.send(text="Working on it…")).status_code == 200
    [reply] = stub.ephemerals(ADA, "C0GENERAL")
    assert reply["text"] == "Working on it…"
    await webhook.send(text="Done", replace_original=True)
    assert [e["text"] for e in stub.ephemerals(ADA)] == ["Done"]
    await webhook.send(text="Everyone: done", response_type="in_channel")
    assert [m["text"] for m in stub.messages("C0GENERAL")] == ["Everyone: done"]
    await webhook.send_dict({"delete_original": True})
    assert stub.ephemerals(ADA) == []
    calls = stub.calls_for(RESPONSE_URL_METHOD)
    assert len(calls) == 4 and calls[0].args == {"text": "Working on it…"} and calls[0].target
    await webhook.send(text="fifth")
    sixth = await webhook.send(text="sixth")  # Slack allows 5 responses per response_url
    assert sixth.status_code == 404 and json.loads(sixth.body)["error"] == "used_url"

    posted = await client.chat_postMessage(channel="C0GENERAL", text="Approve?")
    on_message = stub.new_response_url(user_id=GRACE, channel_id="C0GENERAL", message_ts=posted["ts"])
    await AsyncWebhookClient(on_message).send(text="Approved by @grace", replace_original=True)
    assert stub.message("C0GENERAL", posted["ts"])["text"] == "Approved by @grace"  # type: ignore[index]
    async with httpx.AsyncClient() as http:
        unknown = await http.post(stub.base_url + "/response/T0DEMO/1/nope", json={"text": "x"})
    assert unknown.status_code == 404


async def test_response_url_expires_after_30_minutes(stub: SlackStub) -> None:
    clock = ManualClock()
    stub.clock = clock
    url = stub.new_response_url(user_id=ADA, channel_id="C0GENERAL")
    clock.t += 30 * 60 + 1
    late = await AsyncWebhookClient(url).send(text="too late")
    assert late.status_code == 404 and json.loads(late.body)["error"] == "expired_url"


# -- the driver: signatures and payloads --------------------------------------------------------------------
class Capture:
    """An httpx transport that keeps what the driver sent and answers like a Bolt app would."""

    def __init__(self, answer: httpx.Response | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer or httpx.Response(200)

    def payload(self, n: int = -1) -> dict[str, Any]:
        form = parse_qs(self.requests[n].content.decode())
        parsed: dict[str, Any] = json.loads(form["payload"][0])
        return parsed

    def form(self, n: int = -1) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.requests[n].content.decode(), keep_blank_values=True).items()}


def driver_for(stub: SlackStub, capture: Capture) -> SlackDriver:
    return SlackDriver("http://bolt.test/slack/events", SECRET, stub, transport=httpx.MockTransport(capture))


async def test_driver_signs_like_slack(stub: SlackStub) -> None:
    capture = Capture()
    driver = driver_for(stub, capture)
    await driver.command(ADA, "help")
    await driver.signed_post(b"payload=%7B%7D", "application/x-www-form-urlencoded", signature="v0=" + "0" * 64)
    await driver.signed_post(b"token=x", "application/x-www-form-urlencoded", timestamp=int(time.time()) - 301)
    verifier = SignatureVerifier(SECRET)
    good, forged, stale = capture.requests
    assert verifier.is_valid_request(good.content, dict(good.headers))
    assert good.headers["X-Slack-Signature"].startswith("v0=")
    assert not verifier.is_valid_request(forged.content, dict(forged.headers))
    assert not verifier.is_valid_request(stale.content, dict(stale.headers))  # signed, but 5 minutes old
    expected = verifier.generate_signature(timestamp=stale.headers["X-Slack-Request-Timestamp"], body=stale.content)
    assert stale.headers["X-Slack-Signature"] == expected
    assert not verifier.is_valid_request(good.content + b"&x=1", dict(good.headers))  # tampered body


async def test_command_form_fields(stub: SlackStub) -> None:
    capture = Capture()
    await driver_for(stub, capture).command(ADA, "status course 7", channel_id="C0LEARNING")
    form = capture.form()
    assert list(form) == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert form["command"] == "/lms" and form["text"] == "status course 7" and form["user_name"] == "ada"
    assert (
        form["channel_name"] == "learning" and form["team_id"] == "T0DEMO" and form["is_enterprise_install"] == "false"
    )
    assert form["trigger_id"] in stub.triggers and form["response_url"].startswith(stub.base_url + "/response/")
    await driver_for(stub, capture).command(GRACE, "")
    assert capture.form()["channel_id"] == "D0GRACE" and capture.form()["channel_name"] == "directmessage"


async def test_command_ack_body_is_shown_to_the_person(stub: SlackStub) -> None:
    capture = Capture(httpx.Response(200, json={"text": "Looking that up…"}))
    await driver_for(stub, capture).command(ADA, "status")
    assert [e["text"] for e in stub.ephemerals(ADA, "D0ADA")] == ["Looking that up…"]


async def test_block_action_payload_from_a_message(client: AsyncWebClient, stub: SlackStub) -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Module 2"}},
        {
            "type": "actions",
            "block_id": "module_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "mark_done",
                    "text": {"type": "plain_text", "text": "Done"},
                    "value": "m2",
                },
                {"type": "datepicker", "action_id": "snooze", "initial_date": "2024-05-01"},
            ],
        },
    ]
    await client.chat_postMessage(channel=ADA, text="Module 2", blocks=blocks)
    [message] = stub.dm_messages(ADA)
    capture = Capture()
    driver = driver_for(stub, capture)
    await driver.block_action(ADA, "mark_done", message=message)
    payload = capture.payload()
    assert payload["type"] == "block_actions" and payload["user"]["id"] == ADA and payload["team"]["id"] == "T0DEMO"
    assert payload["container"] == {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": "D0ADA",
        "is_ephemeral": False,
    }
    [action] = payload["actions"]
    assert action["action_id"] == "mark_done" and action["block_id"] == "module_actions" and action["value"] == "m2"
    assert action["type"] == "button" and action["text"]["text"] == "Done"
    assert payload["message"]["ts"] == message["ts"] and "channel" not in payload["message"]
    assert payload["state"]["values"]["module_actions"]["snooze"] == {
        "type": "datepicker",
        "selected_date": "2024-05-01",
    }
    assert payload["response_url"] == driver.last_response_url and payload["trigger_id"] == driver.last_trigger_id
    await driver.block_action(ADA, "snooze", selected_date="2024-06-01", message=message)
    assert capture.payload()["actions"][0]["selected_date"] == "2024-06-01"
    # The response URL acts on the clicked message.
    await AsyncWebhookClient(str(driver.last_response_url)).send(text="Snoozed", replace_original=True)
    assert stub.dm_messages(ADA)[0]["text"] == "Snoozed"


async def test_view_submission_state_and_ack_handling(client: AsyncWebClient, stub: SlackStub) -> None:
    view = (await client.views_open(trigger_id=stub.new_trigger(ADA), view=MODAL))["view"]
    errors = {"response_action": "errors", "errors": {"due": "Pick a date"}}
    capture = Capture(httpx.Response(200, json=errors))
    driver = driver_for(stub, capture)
    await driver.view_submission(ADA, view, {"kind": {"value": "blended"}})
    payload = capture.payload()
    assert payload["type"] == "view_submission" and payload["view"]["callback_id"] == "edit_module"
    assert payload["view"]["private_metadata"] == "course=1" and payload["response_urls"] == []
    assert payload["view"]["state"]["values"] == {
        "name": {"value": {"type": "plain_text_input", "value": "Intro"}},  # untouched: the initial value
        "due": {"value": {"type": "datepicker", "selected_date": None}},
        "kind": {"value": {"type": "radio_buttons", "selected_option": MODAL["blocks"][2]["element"]["options"][1]}},
    }
    assert stub.view_errors[view["id"]] == {"due": "Pick a date"} and stub.top_modal(ADA) is not None
    capture.answer = httpx.Response(200)  # an empty ack closes the modal
    await driver.view_submission(ADA, view, {"due": {"value": "2024-06-01"}})
    assert capture.payload()["view"]["state"]["values"]["due"]["value"]["selected_date"] == "2024-06-01"
    assert stub.top_modal(ADA) is None
    with pytest.raises(KeyError):
        state_values(view["blocks"], {"nope": {"value": "x"}})


async def test_shortcut_options_events_and_view_closed(client: AsyncWebClient, stub: SlackStub) -> None:
    capture = Capture()
    driver = driver_for(stub, capture)
    await driver.shortcut(GRACE, "open_admin")
    shortcut = capture.payload()
    assert shortcut["type"] == "shortcut" and shortcut["callback_id"] == "open_admin" and "response_url" not in shortcut
    view = (await client.views_open(trigger_id=shortcut["trigger_id"], view=MODAL))["view"]
    await driver.options(GRACE, "value", "intr", view=view)
    suggestion = capture.payload()
    assert (
        suggestion["type"] == "block_suggestion" and suggestion["value"] == "intr" and suggestion["block_id"] == "name"
    )
    await driver.view_closed(GRACE, view)
    assert capture.payload()["type"] == "view_closed" and stub.top_modal(GRACE) is None
    await client.views_publish(user_id=ADA, view={"type": "home", "blocks": [{"type": "divider"}]})
    await driver.app_home_opened(ADA)
    envelope = json.loads(capture.requests[-1].content)
    assert capture.requests[-1].headers["Content-Type"] == "application/json"
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert envelope["authorizations"][0]["user_id"] == "U0LMSBOT"
    event = envelope["event"]
    assert event["type"] == "app_home_opened" and event["channel"] == "D0ADA" and event["view"]["type"] == "home"
    await driver.event({"type": "team_join", "user": {"id": "U0NEW"}}, retry_num=1)
    assert capture.requests[-1].headers["X-Slack-Retry-Num"] == "1"


# -- rendering ----------------------------------------------------------------------------------------------
def test_mrkdwn_is_lightly_converted() -> None:
    ws = demo_workspace()
    text = "*Due* _soon_ for <@U0ADA> in <#C0LEARNING> — <https://lms.example.com/c/1|Course 1> &amp; ~old~ snake_case"
    assert (
        mrkdwn(text, ws) == "Due soon for @ada in #learning — Course 1 (https://lms.example.com/c/1) & old snake_case"
    )
    assert mrkdwn("<@U0NOBODY|someone> <!here> `*raw*`") == "@someone @here `*raw*`"
    assert mrkdwn("*bold*", style=Style(ansi=True)) == "\033[1mbold\033[0m"


def test_render_representative_blocks() -> None:
    ws = demo_workspace()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your courses"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Python 101* for <@U0ADA>"},
            "fields": [
                {"type": "mrkdwn", "text": "*Progress*"},
                {"type": "mrkdwn", "text": "*Due*"},
                {"type": "plain_text", "text": "2 of 3 modules"},
                {"type": "plain_text", "text": "1 May"},
            ],
            "accessory": {"type": "button", "action_id": "open", "text": {"type": "plain_text", "text": "Open"}},
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Synced from Zoho"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "done",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Done"},
                },
                {"type": "button", "action_id": "later", "text": {"type": "plain_text", "text": "Later"}},
            ],
        },
        {"type": "image", "image_url": "https://x/y.png", "alt_text": "progress chart"},
        {"type": "unknown_thing"},
    ]
    out = render_blocks(blocks, ws)
    assert out.split("\n") == [
        "Your courses",
        "════════════",
        "Python 101 for @ada",
        "Progress         Due",
        "2 of 3 modules   1 May",
        "  ↳ [ Open ] (open)",
        "Synced from Zoho",
        "─" * PLAIN.width,
        "[ Done ] (done)  [ Later ] (later)",
        "[image: progress chart]",
        "[unknown_thing block]",
    ]


def test_render_modal_inputs_with_choices_and_errors() -> None:
    modal = json.loads(json.dumps(MODAL))
    modal["blocks"][2]["element"]["initial_option"] = modal["blocks"][2]["element"]["options"][0]
    modal["blocks"].append(
        {
            "type": "input",
            "block_id": "course",
            "optional": True,
            "label": {"type": "plain_text", "text": "Course"},
            "hint": {"type": "plain_text", "text": "Pick one"},
            "element": {
                "type": "static_select",
                "action_id": "pick",
                "placeholder": {"type": "plain_text", "text": "Choose"},
                "options": [
                    {"text": {"type": "plain_text", "text": "Python 101"}, "value": "1"},
                    {"text": {"type": "plain_text", "text": "Rust 201"}, "value": "2"},
                ],
            },
        }
    )
    out = render_view(modal, errors={"due": "Pick a date"})
    assert out.split("\n") == [
        "▣ Edit module (edit_module)",
        "─" * PLAIN.width,
        "Name",
        "  [ Intro ] (value)",
        "Due",
        "  [ 📅 ] (value)",
        "  ⚠ Pick a date",
        "Kind",
        "  (value)",
        "  (•) Self-paced",
        "  ( ) Blended",
        "Course (optional)",
        "  [ Choose… ▾ ] (pick)",
        "    ○ Python 101",
        "    ○ Rust 201",
        "  Pick one",
        "─" * PLAIN.width,
        "[ Cancel ]  [ Save ]",
    ]


def test_render_calls() -> None:
    ws = demo_workspace()
    ws.dm_channel(ADA)
    message = {"text": "hi", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hello <@U0ADA>"}}]}
    dm = ApiCall("chat.postMessage", {"channel": ADA}, 0.0, {"ok": True, "channel": "D0ADA", "message": message})
    assert render_call(dm, ws) == "→ DM to @ada (chat.postMessage)\n  Hello @ada"
    in_channel = ApiCall("chat.postMessage", {}, 0.0, {"ok": True, "channel": "C0GENERAL", "message": {"text": "x"}})
    assert render_call(in_channel, ws).startswith("→ message in #general (chat.postMessage)")
    eph = ApiCall("chat.postEphemeral", {"channel": "D0GRACE", "user": GRACE, "text": "psst"}, 0.0, {"ok": True})
    assert render_call(eph, ws) == "→ ephemeral to @grace (chat.postEphemeral)\n  psst"
    opened = ApiCall("views.open", {}, 0.0, {"ok": True, "view": {**MODAL, "id": "V1"}})
    assert render_call(opened, ws).startswith("→ modal opened: Edit module (views.open)\n  ▣ Edit module")
    home = ApiCall("views.publish", {"user_id": ADA}, 0.0, {"ok": True, "view": {"type": "home", "blocks": []}})
    assert render_call(home, ws).startswith("→ home tab for @ada (views.publish)")
    reply = ApiCall(RESPONSE_URL_METHOD, {"text": "ok", "replace_original": True}, 0.0, {"ok": True})
    assert render_call(reply, ws) == "→ original message replaced (response_url)\n  ok"
    failed = ApiCall("views.open", {}, 0.0, {"ok": False, "error": "expired_trigger_id"})
    assert render_call(failed, ws) == "✗ views.open failed: expired_trigger_id"
    lookup = ApiCall("users.info", {"user": ADA}, 0.0, {"ok": True})
    assert render_call(lookup, ws) == "· users.info user=U0ADA"
    attached = {"attachments": [{"text": "*late*"}]}
    assert render_message(attached) == "▌ late"


# -- end to end: a Bolt app over real HTTP ------------------------------------------------------------------
def bolt_app(stub_url: str) -> tuple[AsyncApp, list[str]]:
    app = AsyncApp(signing_secret=SECRET, client=AsyncWebClient(token=TOKEN, base_url=stub_url))
    ran: list[str] = []

    @app.command("/lms")
    async def lms(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ran.append(command["text"])
        if command["text"] == "edit":
            await client.views_open(trigger_id=command["trigger_id"], view=MODAL)
            return
        await client.chat_postEphemeral(channel=command["channel_id"], user=command["user_id"], text="Your courses")

    @app.view("edit_module")
    async def save(ack: AsyncAck, view: dict[str, Any]) -> None:
        due = view["state"]["values"]["due"]["value"]["selected_date"]
        if due is None:
            await ack(response_action="errors", errors={"due": "Pick a date"})
            return
        await ack()
        ran.append(f"saved {due}")

    return app, ran


@pytest.fixture
def bolt(server: SlackStubServer) -> Iterator[tuple[ThreadedServer, list[str]]]:
    app, ran = bolt_app(server.url)
    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    with ThreadedServer(Starlette(routes=[Route("/slack/events", events, methods=["POST"])]), name="bolt") as web:
        yield web, ran


async def test_bolt_app_end_to_end(bolt: tuple[ThreadedServer, list[str]], stub: SlackStub) -> None:
    web, ran = bolt
    driver = SlackDriver(f"{web.base_url}/slack/events", SECRET, stub)
    response = await driver.command(ADA, "courses")
    assert response.status_code == 200 and response.content == b""
    await eventually(lambda: bool(stub.ephemerals(ADA)))
    [shown] = stub.ephemerals(ADA, "D0ADA")
    assert shown["text"] == "Your courses" and ran == ["courses"]
    assert stub.calls_for("auth.test")  # Bolt's single-team authorization asked the stub who it is

    # A modal from the command's trigger, a refused submission, then a good one.
    await driver.command(ADA, "edit")
    await eventually(lambda: stub.top_modal(ADA) is not None)
    view = stub.top_modal(ADA)
    assert view is not None
    refused_submit = await driver.view_submission(ADA, view)
    assert refused_submit.json()["response_action"] == "errors" and stub.view_errors[view["id"]]
    accepted = await driver.view_submission(ADA, view, {"due": {"value": "2024-06-01"}})
    assert accepted.status_code == 200 and stub.top_modal(ADA) is None and ran[-1] == "saved 2024-06-01"


async def test_bolt_rejects_bad_signatures(bolt: tuple[ThreadedServer, list[str]], stub: SlackStub) -> None:
    web, ran = bolt
    driver = SlackDriver(f"{web.base_url}/slack/events", "not-the-secret", stub)
    assert (await driver.command(ADA, "courses")).status_code == 401
    honest = SlackDriver(f"{web.base_url}/slack/events", SECRET, stub)
    stale = await honest.signed_post(
        b"command=%2Flms&text=x", "application/x-www-form-urlencoded", int(time.time()) - 600
    )
    assert stale.status_code == 401
    await asyncio.sleep(0.2)
    assert ran == [] and stub.calls == []  # the listener never ran, not even authorization


async def test_files_upload_v2_shares_the_file_in_the_dm(client: AsyncWebClient, stub: SlackStub) -> None:
    dm = (await client.conversations_open(users="U0ADA"))["channel"]["id"]
    done = await client.files_upload_v2(
        channel=dm, content="a,b\n1,2\n", filename="x.csv", title="X", initial_comment="Here it is"
    )
    assert done["file"]["name"] == "x.csv" and done["file"]["title"] == "X"
    methods = [c.method for c in stub.calls if c.method.startswith("files.")]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    (upload,) = stub.shared_files(dm)
    assert upload.content == b"a,b\n1,2\n" and upload.length == len(upload.content)
    (message,) = [m for m in stub.messages(dm) if m.get("files")]
    assert message["text"] == "Here it is" and message["files"][0]["id"] == upload.file_id
    with pytest.raises(SlackApiError) as refused:  # a file whose bytes never arrived cannot be completed
        pending = await client.files_getUploadURLExternal(filename="y.csv", length=3)
        await client.files_completeUploadExternal(files=[{"id": pending["file_id"], "title": "Y"}], channel_id=dm)
    assert refused.value.response["error"] == "file_not_found"
    with pytest.raises(SlackApiError) as bad:
        await client.api_call("files.getUploadURLExternal", params={"filename": "z.csv"})
    assert bad.value.response["error"] == "invalid_arguments"


def test_date_tokens_read_as_slack_shows_them_in_the_readers_zone() -> None:
    """One session (Thu 2 Apr 2026 16:00–16:30 UTC), as the console shows it to Grace in New York and to Ada in
    London, and with no zone given (tests): the fallback."""
    start = int(datetime(2026, 4, 2, 16, 0, tzinfo=UTC).timestamp())
    end = start + 1800
    pretty = "{date_short_pretty} at {time}"
    text = f"<!date^{start}^{pretty}|Thu 2 Apr 2026 16:00 UTC>–<!date^{end}^{{time}}|16:30 UTC>"
    assert mrkdwn(text) == "Thu 2 Apr 2026 16:00 UTC–16:30 UTC"
    assert mrkdwn(text, style=Style(zone="America/New_York")) == "Apr 2, 2026 at 12:00 EDT–12:30 EDT"
    assert mrkdwn(text, style=Style(zone="Europe/London")) == "Apr 2, 2026 at 17:00 BST–17:30 BST"
    day_before = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    assert slack_date(start, "{date_short_pretty} at {time}", "Asia/Kolkata", day_before) == "Tomorrow at 21:30 IST"
    assert slack_date(start, "as of {date_long_pretty}", "UTC", day_before) == "as of tomorrow"
    assert slack_date(start, "{date_long} {date_num}", "UTC") == "Thursday, April 2nd, 2026 2026-04-02"
    assert mrkdwn("<!date^soon^{time}|later>", style=Style(zone="UTC")) == "later"  # not a timestamp: the fallback
