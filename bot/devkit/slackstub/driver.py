"""Playing Slack towards a Bolt app over real HTTP: signed slash commands, interactions and events.

Payload shapes follow Slack's interaction payloads (block_actions, view_submission, view_closed, shortcut,
block_suggestion), the slash command form fields and the Events API's event_callback envelope. Requests are
signed with Slack's v0 scheme via slack_sdk's SignatureVerifier, as Bolt's verification expects. Each
interaction carries a fresh trigger_id the stub knows, and (where Slack sends one) a response URL the stub
serves, so what the app does next lands in the stub.

Size (~490 lines): one builder per Slack payload kind, mirroring Slack's payload reference one to one.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.devkit.slackstub.state import Json, SlackError, SlackStub

FORM = "application/x-www-form-urlencoded"

# Where a stateful element's value lives in state.values / an action (Slack's field per element type).
_VALUE_FIELDS: dict[str, str] = {
    "plain_text_input": "value",
    "url_text_input": "value",
    "email_text_input": "value",
    "number_input": "value",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "overflow": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "rich_text_input": "rich_text_value",
}
_INITIAL_FIELDS: dict[str, str] = {
    "value": "initial_value",
    "selected_option": "initial_option",
    "selected_options": "initial_options",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "selected_date_time": "initial_date_time",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_conversation": "initial_conversation",
    "selected_conversations": "initial_conversations",
    "selected_channel": "initial_channel",
    "selected_channels": "initial_channels",
    "rich_text_value": "initial_value",
}


def iter_elements(blocks: list[Json]) -> Iterator[tuple[str, Json]]:
    """(block_id, element) for every interactive element: input, actions and section accessories."""
    for block in blocks:
        block_id = str(block.get("block_id", ""))
        kind = block.get("type")
        if kind == "input" and isinstance(block.get("element"), dict):
            yield block_id, block["element"]
        elif kind == "actions":
            for element in block.get("elements", []):
                yield block_id, element
        elif kind == "section" and isinstance(block.get("accessory"), dict):
            yield block_id, block["accessory"]


def find_element(blocks: list[Json], action_id: str, block_id: str | None = None) -> tuple[str, Json] | None:
    for bid, element in iter_elements(blocks):
        if element.get("action_id") == action_id and (block_id is None or bid == block_id):
            return bid, element
    return None


def _all_options(element: Json) -> list[Json]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _option(element: Json, raw: Any) -> Json | None:
    if raw is None or isinstance(raw, dict):
        return copy.deepcopy(raw)
    for option in _all_options(element):
        if option.get("value") == str(raw):
            return copy.deepcopy(option)
    return {"text": {"type": "plain_text", "text": str(raw)}, "value": str(raw)}  # external selects


def _entry_value(element: Json, field: str, raw: Any) -> Any:
    if field == "selected_option":
        return _option(element, raw)
    if field == "selected_options":
        return [_option(element, r) for r in (raw or [])]
    if field == "rich_text_value" and isinstance(raw, str):
        section = {"type": "rich_text_section", "elements": [{"type": "text", "text": raw}]}
        return {"type": "rich_text", "elements": [section]}
    return raw


def state_entry(element: Json, raw: Any = None, *, touched: bool = True) -> Json:
    """One state.values entry: {type, <value field>}; an untouched element reports its initial value."""
    if isinstance(raw, dict) and "type" in raw and touched:
        return copy.deepcopy(raw)
    kind = str(element.get("type"))
    field = _VALUE_FIELDS.get(kind, "value")
    if not touched:
        initial = element.get(_INITIAL_FIELDS[field])
        return {"type": kind, field: copy.deepcopy(initial)}
    return {"type": kind, field: _entry_value(element, field, raw)}


def state_values(blocks: list[Json], values: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Json]]:
    """state.values as Slack sends it: {block_id: {action_id: {type, value | selected_option | …}}}.

    `values` gives what the person entered, as raw values ("text", an option value, "2024-05-01", "U0ADA")
    or as ready entries; every other stateful element reports its initial value (or null), as in Slack.
    """
    values = values or {}
    out: dict[str, dict[str, Json]] = {}
    seen: set[tuple[str, str]] = set()
    for block_id, element in iter_elements(blocks):
        kind = element.get("type")
        action_id = element.get("action_id")
        if kind not in _VALUE_FIELDS or not action_id:
            continue
        given = values.get(block_id, {})
        touched = action_id in given
        out.setdefault(block_id, {})[action_id] = state_entry(element, given.get(action_id), touched=touched)
        seen.add((block_id, action_id))
    for block_id, actions in values.items():
        for action_id in actions:
            if (block_id, action_id) not in seen:
                raise KeyError(f"no stateful element {block_id}/{action_id} in the view or message")
    return out


class SlackDriver:
    def __init__(
        self,
        events_url: str,
        signing_secret: str,
        stub: SlackStub,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.events_url = events_url
        self.transport = transport  # e.g. httpx.MockTransport, or an ASGITransport to skip the socket
        self.verifier = SignatureVerifier(signing_secret)
        self.stub = stub
        self.timeout = timeout
        self.clock = clock  # the signing clock: Bolt checks it against its own wall clock
        self.last_trigger_id: str | None = None
        self.last_response_url: str | None = None
        self._seq = itertools.count(1)

    # -- transport ------------------------------------------------------------------------------------------
    async def signed_post(
        self,
        body: bytes,
        content_type: str,
        timestamp: int | str | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST as Slack does; pass `timestamp` and/or `signature` to send a stale or forged request."""
        ts = str(int(self.clock()) if timestamp is None else timestamp)
        if signature is None:
            signature = self.verifier.generate_signature(timestamp=ts, body=body)
        sent = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or ""}
        sent.update(headers or {})
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
            return await client.post(self.events_url, content=body, headers=sent)

    async def _post_payload(self, payload: Json) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.signed_post(body, FORM)

    # -- payload parts --------------------------------------------------------------------------------------
    def _user(self, user_id: str) -> Json:
        user = self.stub.workspace.user(user_id)
        name = user.name if user else user_id
        return {"id": user_id, "username": name, "name": name, "team_id": self.stub.workspace.team_id}

    def _base(self, kind: str, user_id: str) -> Json:
        ws = self.stub.workspace
        return {
            "type": kind,
            "user": self._user(user_id),
            "api_app_id": ws.app_id,
            "token": ws.verification_token,
            "team": {"id": ws.team_id, "domain": ws.domain},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _trigger(self, user_id: str) -> str:
        self.last_trigger_id = self.stub.new_trigger(user_id)
        return self.last_trigger_id

    def _channel_name(self, channel_id: str) -> str:
        ws = self.stub.workspace
        return "directmessage" if channel_id.startswith("D") else (ws.channel_name(channel_id) or channel_id)

    def _action_ts(self) -> str:
        return f"{self.clock():.6f}"

    # -- slash commands -------------------------------------------------------------------------------------
    async def command(
        self, user_id: str, text: str = "", command: str = "/lms", channel_id: str | None = None
    ) -> httpx.Response:
        """A slash command, form-encoded like Slack; default channel: the person's DM with the bot.

        A body in the ack is shown to the person as Slack does (ephemeral unless response_type is in_channel).
        """
        ws = self.stub.workspace
        with self.stub.lock:
            channel = channel_id or ws.dm_channel(user_id)
        user = ws.user(user_id)
        self.last_response_url = self.stub.new_response_url(user_id=user_id, channel_id=channel)
        fields = {
            "token": ws.verification_token,
            "team_id": ws.team_id,
            "team_domain": ws.domain,
            "channel_id": channel,
            "channel_name": self._channel_name(channel),
            "user_id": user_id,
            "user_name": user.name if user else user_id,
            "command": command,
            "text": text,
            "api_app_id": ws.app_id,
            "is_enterprise_install": "false",
            "response_url": self.last_response_url,
            "trigger_id": self._trigger(user_id),
        }
        response = await self.signed_post(urlencode(fields).encode(), FORM)
        self._show_command_ack(response, user_id, channel)
        return response

    def _show_command_ack(self, response: httpx.Response, user_id: str, channel: str) -> None:
        if response.status_code != 200 or not response.content:
            return
        try:
            parsed: Any = response.json()
        except ValueError:
            parsed = {"text": response.text}
        if not isinstance(parsed, dict) or not (parsed.get("text") or parsed.get("blocks")):
            return
        content = {k: parsed[k] for k in ("text", "blocks", "attachments") if k in parsed}
        try:
            if parsed.get("response_type") == "in_channel":
                self.stub.post_message(channel, content)
            else:
                self.stub.post_ephemeral(channel, user_id, content)
        except SlackError:  # Slack would show the person an error; the test sees the ack body anyway
            pass

    # -- interactions ---------------------------------------------------------------------------------------
    async def block_action(
        self,
        user_id: str,
        action_id: str,
        value: Any = None,
        *,
        block_id: str | None = None,
        view: Json | None = None,
        message: Json | None = None,
        selected_option: Any = None,
        selected_date: str | None = None,
        container: Json | None = None,
        channel_id: str | None = None,
        values: dict[str, dict[str, Any]] | None = None,
    ) -> httpx.Response:
        """A click or selection in a message (from `stub.messages()`/`ephemerals()`) or a view (modal/home).

        The element is looked up by action_id to fill block_id, type and button text; `values` sets other
        elements' state (see `state_values`).
        """
        surface = view if view is not None else message
        blocks: list[Json] = list((surface or {}).get("blocks") or [])
        found = find_element(blocks, action_id, block_id)
        bid, element = found if found else (block_id or "actions", {"type": "button", "action_id": action_id})
        action: Json = {"action_id": action_id, "block_id": bid, "type": element.get("type", "button")}
        kind = action["type"]
        if kind == "button":
            action["text"] = copy.deepcopy(element.get("text") or {"type": "plain_text", "text": action_id})
            button_value = value if value is not None else element.get("value")
            if button_value is not None:
                action["value"] = button_value
            if element.get("style"):
                action["style"] = element["style"]
        elif selected_date is not None or kind == "datepicker":
            action["type"] = kind if found else "datepicker"
            action["selected_date"] = selected_date if selected_date is not None else value
        elif selected_option is not None and not found:
            action.update({"type": "static_select", "selected_option": _option(element, selected_option)})
        else:
            raw = selected_option if selected_option is not None else value
            entry = state_entry(element, raw)
            action.update({k: v for k, v in entry.items() if k != "type"})
        action["action_ts"] = self._action_ts()
        payload = self._base("block_actions", user_id)
        payload["trigger_id"] = self._trigger(user_id)
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = {**copy.deepcopy(view), "state": {"values": state_values(blocks, values)}}
        elif message is not None:
            channel = str(message.get("channel") or channel_id or "")
            ephemeral = bool(message.get("is_ephemeral"))
            ts = str(message.get("ts"))
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            }
            payload["channel"] = {"id": channel, "name": self._channel_name(channel)}
            if not ephemeral:  # Slack does not echo an ephemeral message back
                payload["message"] = {
                    k: copy.deepcopy(v) for k, v in message.items() if k not in ("channel", "recipient")
                }
            payload["state"] = {"values": state_values(blocks, values)}
            self.last_response_url = self.stub.new_response_url(
                user_id=user_id, channel_id=channel, message_ts=ts, ephemeral=ephemeral
            )
            payload["response_url"] = self.last_response_url
        if container is not None:
            payload["container"] = container
        payload["actions"] = [action]
        return await self._post_payload(payload)

    async def view_submission(
        self, user_id: str, view: Json, values: dict[str, dict[str, Any]] | None = None
    ) -> httpx.Response:
        """Submit a modal; the ack is applied to the stub's modal stack as Slack would (close, update, push,
        clear, or errors kept in `stub.view_errors`)."""
        blocks = list(view.get("blocks") or [])
        state = state_values(blocks, values)
        with self.stub.lock:
            live = self.stub.views.get(str(view.get("id")))
            submitted_hash = live.get("hash") if live else None
        payload = self._base("view_submission", user_id)
        payload["trigger_id"] = self._trigger(user_id)
        payload["view"] = {**copy.deepcopy(view), "state": {"values": state}}
        payload["response_urls"] = self._response_urls(user_id, blocks, state)
        response = await self._post_payload(payload)
        body: Json | None = None
        if response.content:
            try:
                parsed = response.json()
                body = parsed if isinstance(parsed, dict) else None
            except ValueError:
                body = None
        self.stub.apply_view_ack(user_id, str(view.get("id")), response.status_code, body, submitted_hash)
        return response

    def _response_urls(self, user_id: str, blocks: list[Json], state: dict[str, dict[str, Json]]) -> list[Json]:
        # Only inputs with response_url_enabled (conversation/channel selects) get response URLs.
        urls: list[Json] = []
        for block_id, element in iter_elements(blocks):
            if not element.get("response_url_enabled"):
                continue
            action_id = str(element.get("action_id"))
            entry = state.get(block_id, {}).get(action_id, {})
            channel = entry.get("selected_conversation") or entry.get("selected_channel")
            if channel:
                url = self.stub.new_response_url(user_id=user_id, channel_id=str(channel))
                urls.append({"block_id": block_id, "action_id": action_id, "channel_id": channel, "response_url": url})
        return urls

    async def view_closed(self, user_id: str, view: Json, *, is_cleared: bool = False) -> httpx.Response:
        """The person closes the modal (Slack sends this only if notify_on_close; the stub closes it anyway)."""
        self.stub.close_view(user_id, str(view.get("id")), all_views=is_cleared)
        payload = self._base("view_closed", user_id)
        payload["view"] = copy.deepcopy(view)
        payload["is_cleared"] = is_cleared
        return await self._post_payload(payload)

    async def shortcut(self, user_id: str, callback_id: str) -> httpx.Response:
        """A global shortcut (no response_url: Slack sends that only for message shortcuts)."""
        ws = self.stub.workspace
        payload = {
            "type": "shortcut",
            "token": ws.verification_token,
            "action_ts": self._action_ts(),
            "team": {"id": ws.team_id, "domain": ws.domain},
            "user": {"id": user_id, "username": self._user(user_id)["username"], "team_id": ws.team_id},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger(user_id),
        }
        return await self._post_payload(payload)

    async def options(
        self, user_id: str, action_id: str, value: str, block_id: str | None = None, view: Json | None = None
    ) -> httpx.Response:
        """block_suggestion: what the person typed into an external_select; the response carries options."""
        if block_id is None and view is not None:
            found = find_element(list(view.get("blocks") or []), action_id)
            block_id = found[0] if found else None
        payload = self._base("block_suggestion", user_id)
        payload.update({"action_id": action_id, "block_id": block_id or "", "value": value})
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = copy.deepcopy(view)
        return await self._post_payload(payload)

    # -- events ---------------------------------------------------------------------------------------------
    async def event(
        self, event: Json, *, retry_num: int | None = None, retry_reason: str | None = None
    ) -> httpx.Response:
        """An Events API event in its event_callback envelope (JSON, as Slack sends events)."""
        ws = self.stub.workspace
        now = self.clock()
        inner = {**copy.deepcopy(event), "event_ts": event.get("event_ts") or f"{now:.6f}"}
        envelope = {
            "token": ws.verification_token,
            "team_id": ws.team_id,
            "api_app_id": ws.app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": f"Ev{next(self._seq):08X}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": ws.team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers: dict[str, str] = {}
        if retry_num is not None:  # Slack's redelivery headers
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return await self.signed_post(json.dumps(envelope).encode(), "application/json", headers=headers)

    async def app_uninstalled(self) -> httpx.Response:
        """Someone removed the app from the workspace: Slack revokes every token it issued, then says so."""
        ws = self.stub.workspace
        with self.stub.lock:
            ws.revoked_tokens.update([ws.bot_token, *ws.user_tokens])
        return await self.event({"type": "app_uninstalled"})

    async def tokens_revoked(self, *, users: list[str] | None = None, bot: bool = False) -> httpx.Response:
        """Slack revoked some tokens (the users' tokens, and/or the bot's) and tells the app which, by user id."""
        ws = self.stub.workspace
        with self.stub.lock:
            ws.revoked_tokens.update(token for token, user in ws.user_tokens.items() if user in (users or []))
            if bot:
                ws.revoked_tokens.add(ws.bot_token)
        tokens: Json = {}
        if users:
            tokens["oauth"] = list(users)
        if bot:
            tokens["bot"] = [ws.bot_user_id]
        return await self.event({"type": "tokens_revoked", "tokens": tokens})

    async def app_home_opened(self, user_id: str, tab: str = "home") -> httpx.Response:
        with self.stub.lock:
            channel = self.stub.workspace.dm_channel(user_id)
        event: Json = {"type": "app_home_opened", "user": user_id, "channel": channel, "tab": tab}
        home = self.stub.home(user_id)
        if home is not None and tab == "home":  # Slack includes the current home view once one is published
            event["view"] = home
        return await self.event(event)
