"""The stub's live world: call log, faults, messages per channel, views, triggers and response URLs.

Every mutation happens under `lock` and never awaits, so a test thread reading `messages()` or `calls` always
sees a consistent state while uvicorn serves the bot from its own thread. Failures raise `SlackError` with
the error string Slack documents for that case; webapi.py turns it into Slack's `{"ok": false}` answer.

Size (~800 lines, a dev tool): the stand-in's whole world under its one lock, as sandbox/state.py; the
methods mirror Slack's documented behaviour per surface (messages, views, triggers, response URLs).
"""

from __future__ import annotations

import copy
import itertools
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.devkit.slackstub.workspace import Workspace, demo_workspace

Json = dict[str, Any]
RESPONSE_URL_METHOD = "response_url"  # how POSTs to response URLs appear in the call log
MODAL_STACK_LIMIT = 3  # "After you open a modal, you may only push two additional views" (Bolt docs)
MESSAGE_BLOCK_LIMIT = 50  # "up to 50 blocks in each message, and 100 blocks in modals or Home tabs"
VIEW_BLOCK_LIMIT = 100
CONTENT_FIELDS = ("text", "blocks", "attachments", "thread_ts", "metadata")  # what a message is made of
# Slack's per-method tiers, calls a minute per workspace (Tier 2: 20, Tier 3: 50, Tier 4: 100; the lower bound
# of each, which is all Slack promises), for `SlackStub(tiers=SLACK_TIERS)`. chat.postMessage is limited per
# channel instead (about one a second, short bursts allowed): POST_PER_CHANNEL a minute.
SLACK_TIERS: dict[str, int] = {
    "conversations.open": 50,
    "conversations.history": 50,
    "chat.update": 50,
    "chat.delete": 50,
    "chat.getPermalink": 100,
    "users.list": 20,
    "users.info": 100,
    "users.lookupByEmail": 100,
    "views.publish": 100,
    "views.open": 100,
    "views.update": 100,
    "views.push": 100,
    "team.info": 20,
    "auth.test": 100,
}
POST_PER_CHANNEL = 60
RATE_WINDOW = 60.0


class SlackError(Exception):
    """A refusal in Slack's shape: HTTP 200 with ok=false, except where Slack uses another status."""

    def __init__(
        self, error: str, *, status: int = 200, headers: dict[str, str] | None = None, messages: list[str] | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.messages = messages or []

    def body(self) -> Json:
        body: Json = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


@dataclass(frozen=True)
class ApiCall:
    method: str  # a Web API method, or RESPONSE_URL_METHOD for a POST to a response URL
    args: Json  # what the caller sent (query, form and JSON merged; JSON-string fields decoded; no token)
    at: float
    response: Json
    status: int = 200
    user_id: str | None = None  # whose token (the bot user for the bot token)
    target: str | None = None  # the response URL's id for RESPONSE_URL_METHOD

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))


@dataclass
class Fault:
    error: str
    status: int
    retry_after: int | None
    delay: float
    remaining: int


@dataclass
class Hold:
    """An answer held back after the method took effect (Slack stored the message, the reply is slow)."""

    seconds: float
    remaining: int
    generation: int = 0  # the stub's reset count when it was taken: a reset lets every held answer go


@dataclass
class Trigger:
    id: str
    user_id: str
    issued: float
    used: bool = False


@dataclass
class ResponseUrl:
    id: str
    user_id: str | None
    channel_id: str | None
    created: float
    source_ts: str | None = None  # the message an interaction came from: replace/delete_original act on it
    source_ephemeral: bool = False
    uses: int = 0


@dataclass
class Posted:
    channel: str
    ts: str
    message: Json  # Slack's message object
    recipient: str | None = None  # set for ephemeral messages: the one person who sees it
    deleted: bool = False
    versions: list[Json] = field(default_factory=list)  # what it said before each edit

    def export(self) -> Json:
        out = copy.deepcopy(self.message)
        out["channel"] = self.channel
        if self.recipient is not None:
            out["is_ephemeral"] = True
            out["recipient"] = self.recipient
        return out


@dataclass
class UploadedFile:
    """One files.getUploadURLExternal upload: its bytes arrive at upload_url, completeUploadExternal shares it."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    shared_in: str | None = None  # the channel it was shared to
    message_ts: str | None = None


class SlackStub:
    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        clock: Callable[[], float] = time.time,
        trigger_ttl: float = 3.0,
        response_url_ttl: float = 30 * 60,
        response_url_uses: int = 5,
        tiers: dict[str, int] | None = None,
        post_per_channel: int | None = None,
    ) -> None:
        """`tiers` (e.g. SLACK_TIERS): calls a minute per method, answered `ratelimited` (429, Retry-After)
        beyond; `post_per_channel`: chat.postMessage calls a minute per channel (POST_PER_CHANNEL). Both kept
        across `reset()`; None: no limit."""
        self.lock = threading.RLock()
        self.tiers = tiers
        self.post_per_channel = post_per_channel
        # The clock rate windows are counted on (default: the stub's own); a test running days of sweeps on a
        # virtual clock sets that one, so a day in a second of real time is not a burst.
        self.rate_clock: Callable[[], float] | None = None
        self.clock = clock
        self.trigger_ttl = trigger_ttl
        self.response_url_ttl = response_url_ttl
        self.response_url_uses = response_url_uses
        self.base_url = "http://127.0.0.1"  # the server sets the real one when it starts
        self._generation = 0
        self._init(workspace or demo_workspace())

    def _init(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.calls: list[ApiCall] = []
        self.faults: dict[str, list[Fault]] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.views: dict[str, Json] = {}
        self.view_owner: dict[str, str] = {}
        self.view_errors: dict[str, Json] = {}  # view id -> the errors its last submission was refused with
        self._oauth_codes: dict[str, dict[str, str]] = {}  # install code -> what the installer granted
        self.stacks: dict[str, list[str]] = {}  # user id -> open modal view ids, root first
        self.homes: dict[str, str] = {}  # user id -> home view id
        self._posted: list[Posted] = []
        self._seq = itertools.count(1)
        self._last_ts = 0.0
        self.holds: dict[str, list[Hold]] = {}
        self.held = 0  # answers being held back right now
        self._windows: dict[tuple[str, ...], list[float]] = {}  # (method[, channel]) -> times of accepted calls
        self.peers: set[tuple[str, int]] = set()  # (host, port) of every TCP connection a call came in on
        self.files: dict[str, UploadedFile] = {}  # file id -> an external upload (files.getUploadURLExternal)

    def reset(self, workspace: Workspace | None = None) -> None:
        """A fresh demo world in place (drivers and servers holding this stub keep working)."""
        with self.lock:
            self._generation += 1
            self._init(workspace or demo_workspace())

    def now(self) -> float:
        return self.clock()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    # -- call log and faults --------------------------------------------------------------------------------
    def record(self, call: ApiCall) -> None:
        with self.lock:
            self.calls.append(call)

    def calls_for(self, method: str) -> list[ApiCall]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def clear(self) -> None:
        """Forget the call log and the connections seen (the world stays)."""
        with self.lock:
            self.calls.clear()
            self.peers.clear()

    def note_peer(self, peer: tuple[str, int] | None) -> None:
        if peer is not None:
            with self.lock:
                self.peers.add((peer[0], peer[1]))

    @property
    def connections(self) -> int:
        """Distinct client connections the calls since the last `clear()` came in on."""
        with self.lock:
            return len(self.peers)

    def take_rate_limit(self, method: str, args: Json) -> int | None:
        """Seconds to wait when this call is over its method's limit (Slack's Retry-After); None: go ahead,
        and the call counts."""
        key: tuple[str, ...] = (method,)
        if method == "chat.postMessage":
            limit, key = self.post_per_channel, (method, str(args.get("channel") or ""))
        else:
            limit = (self.tiers or {}).get(method)
        if limit is None:
            return None
        with self.lock:
            now = self.rate_clock() if self.rate_clock is not None else self.now()
            window = [t for t in self._windows.get(key, []) if now - t < RATE_WINDOW]
            if len(window) >= limit:
                self._windows[key] = window
                return max(1, math.ceil(window[0] + RATE_WINDOW - now))
            window.append(now)
            self._windows[key] = window
            return None

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        *,
        status: int | None = None,
        retry_after: int | None = 1,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Refuse the next `times` calls to `method` ("*": any method). Slack answers ok=false errors with
        HTTP 200, except `ratelimited`: 429 with Retry-After."""
        if status is None:
            status = 429 if error == "ratelimited" else 200
        with self.lock:
            fault = Fault(error, status, retry_after if status == 429 else None, delay, times)
            self.faults.setdefault(method, []).append(fault)

    def take_fault(self, method: str) -> Fault | None:
        with self.lock:
            for key in (method, "*"):
                queue = self.faults.get(key)
                if queue:
                    fault = queue[0]
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        queue.pop(0)
                    return fault
            return None

    def hold_answer(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Let the next `times` successful calls to `method` take effect (the message is stored, the call
        logged) but answer them only after `seconds`: the gap in which a caller may die not knowing."""
        with self.lock:
            self.holds.setdefault(method, []).append(Hold(seconds, times))

    def release_holds(self) -> None:
        """Answer every held call now and hold no more."""
        with self.lock:
            self._generation += 1
            self.holds.clear()
            self.held = 0

    def take_hold(self, method: str) -> Hold | None:
        with self.lock:
            queue = self.holds.get(method)
            if not queue:
                return None
            hold = queue[0]
            hold.remaining -= 1
            if hold.remaining <= 0:
                queue.pop(0)
            self.held += 1
            return Hold(hold.seconds, 1, self._generation)

    def released(self, hold: Hold, waited: float) -> bool:
        """Whether a held answer may go now (its time is up, or the stub was reset meanwhile)."""
        with self.lock:
            done = waited >= hold.seconds or hold.generation != self._generation
            if done and hold.generation == self._generation:
                self.held -= 1
            return done

    # -- ids ------------------------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        # Slack's ts is "seconds.micros" and unique per channel; keep ours strictly increasing.
        value = max(self.now(), self._last_ts + 0.000001)
        self._last_ts = value
        return f"{value:.6f}"

    def _hash(self) -> str:
        return f"{int(self.now())}.{next(self._seq):08d}"

    def new_trigger(self, user_id: str) -> str:
        """A trigger_id as an interaction payload carries: one use, valid `trigger_ttl` seconds."""
        with self.lock:
            n = next(self._seq)
            trigger_id = f"{n}.{int(self.now())}.{secrets.token_hex(16)}"
            self.triggers[trigger_id] = Trigger(trigger_id, user_id, self.now())
            return trigger_id

    def _exchange(self, trigger_id: str | None) -> str:
        trigger = self.triggers.get(trigger_id or "")
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.now() - trigger.issued > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger.user_id

    def new_response_url(
        self,
        *,
        user_id: str | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
        ephemeral: bool = False,
    ) -> str:
        with self.lock:
            url_id = f"{self.workspace.team_id}/{next(self._seq)}/{secrets.token_hex(12)}"
            self.response_urls[url_id] = ResponseUrl(url_id, user_id, channel_id, self.now(), message_ts, ephemeral)
            return f"{self.base_url}/response/{url_id}"

    # -- messages -------------------------------------------------------------------------------------------
    def resolve_channel(self, channel: str) -> str:
        ws = self.workspace
        if channel in ws.channels or channel in ws.dms.values():
            return channel
        user = ws.users.get(channel)
        if user is not None and not user.is_bot:  # posting to a user id lands in the bot's DM with them
            return ws.dm_channel(channel)
        by_name = next((c.id for c in ws.channels.values() if f"#{c.name}" == channel), None)
        if by_name is not None:
            return by_name
        raise SlackError("channel_not_found")

    def _with_block_ids(self, blocks: list[Json]) -> list[Json]:
        # Slack gives every block without a block_id one of its own; a later block_actions payload names it.
        out = copy.deepcopy(blocks)
        for block in out:
            if isinstance(block, dict) and not block.get("block_id"):
                block["block_id"] = f"b{next(self._seq):05d}"
        return out

    def _bot_message(self, ts: str, content: Json) -> Json:
        ws = self.workspace
        message: Json = {
            "type": "message",
            "user": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "app_id": ws.app_id,
            "text": content.get("text") or "",
            "ts": ts,
            "team": ws.team_id,
            "bot_profile": {"id": ws.bot_id, "app_id": ws.app_id, "name": ws.bot_name, "team_id": ws.team_id},
        }
        if content.get("blocks") is not None:
            message["blocks"] = self._with_block_ids(content["blocks"])
        if content.get("attachments"):
            message["attachments"] = copy.deepcopy(content["attachments"])
        if content.get("thread_ts"):
            message["thread_ts"] = str(content["thread_ts"])
        if content.get("metadata"):
            message["metadata"] = copy.deepcopy(content["metadata"])
        return message

    @staticmethod
    def _check_content(content: Json) -> None:
        blocks = content.get("blocks")
        if not content.get("text") and not blocks and not content.get("attachments"):
            raise SlackError("no_text")
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > MESSAGE_BLOCK_LIMIT):
            raise SlackError(
                "invalid_blocks",
                messages=[f"[ERROR] no more than {MESSAGE_BLOCK_LIMIT} items allowed [json-pointer:/blocks]"],
            )

    def post_message(self, channel: str, content: Json) -> Posted:
        with self.lock:
            channel_id = self.resolve_channel(channel)
            self._check_content(content)
            ts = self._next_ts()
            posted = Posted(channel_id, ts, self._bot_message(ts, content))
            self._posted.append(posted)
            return posted

    def post_ephemeral(self, channel: str, user_id: str, content: Json) -> Posted:
        with self.lock:
            if user_id not in self.workspace.users:
                raise SlackError("user_not_found")
            channel_id = self.resolve_channel(channel)
            self._check_content(content)
            ts = self._next_ts()
            posted = Posted(channel_id, ts, self._bot_message(ts, content), recipient=user_id)
            self._posted.append(posted)
            return posted

    def _find(self, channel: str, ts: str, *, ephemeral: bool = False) -> Posted:
        for posted in self._posted:
            if (
                posted.channel == channel
                and posted.ts == ts
                and not posted.deleted
                and (posted.recipient is not None) == ephemeral
            ):
                return posted
        raise SlackError("message_not_found")

    def update_message(self, channel: str, ts: str, content: Json, *, ephemeral: bool = False) -> Posted:
        """chat.update semantics: fields left out keep their old value; `blocks: []` removes the blocks."""
        with self.lock:
            posted = self._find(self.resolve_channel(channel), ts, ephemeral=ephemeral)
            merged = {
                "text": content["text"] if content.get("text") is not None else posted.message.get("text"),
                "blocks": content["blocks"] if "blocks" in content else posted.message.get("blocks"),
                "attachments": content.get("attachments", posted.message.get("attachments")),
                "thread_ts": posted.message.get("thread_ts"),
                "metadata": content.get("metadata", posted.message.get("metadata")),
            }
            if merged["blocks"] == []:
                merged["blocks"] = None
            self._check_content(merged)
            posted.versions.append(posted.message)
            message = self._bot_message(ts, merged)
            message["edited"] = {"user": self.workspace.bot_user_id, "ts": self._next_ts()}
            posted.message = message
            return posted

    def delete_message(self, channel: str, ts: str, *, ephemeral: bool = False) -> Posted:
        with self.lock:
            posted = self._find(self.resolve_channel(channel), ts, ephemeral=ephemeral)
            posted.deleted = True
            return posted

    def message(self, channel: str, ts: str) -> Json | None:
        with self.lock:
            for posted in self._posted:
                if posted.channel == channel and posted.ts == ts and not posted.deleted:
                    return posted.export()
            return None

    def messages(self, channel: str) -> list[Json]:
        """The channel as people see it now: live messages in ts order, edits applied (no ephemerals)."""
        with self.lock:
            channel_id = self.resolve_channel(channel) if channel in self.workspace.users else channel
            return [
                p.export() for p in self._posted if p.channel == channel_id and p.recipient is None and not p.deleted
            ]

    def history(
        self,
        channel: str,
        *,
        oldest: float | None = None,
        latest: float | None = None,
        inclusive: bool = False,
        include_metadata: bool = False,
    ) -> list[Json]:
        """conversations.history's view of a channel: newest first, no ephemerals, no thread replies, no
        `channel` field; message metadata only when asked for (`include_all_metadata`)."""
        with self.lock:
            out: list[Json] = []
            for p in reversed(self._posted):
                if p.channel != channel or p.recipient is not None or p.deleted:
                    continue
                if p.message.get("thread_ts") not in (None, p.ts):
                    continue
                ts = float(p.ts)
                if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
                    continue
                if latest is not None and (ts > latest or (ts == latest and not inclusive)):
                    continue
                message = copy.deepcopy(p.message)
                if not include_metadata:
                    message.pop("metadata", None)
                out.append(message)
            return out

    def dm_messages(self, user_id: str) -> list[Json]:
        with self.lock:
            return self.messages(self.workspace.dm_channel(user_id))

    def ephemerals(self, user_id: str | None = None, channel: str | None = None) -> list[Json]:
        with self.lock:
            return [
                p.export()
                for p in self._posted
                if p.recipient is not None
                and not p.deleted
                and (user_id is None or p.recipient == user_id)
                and (channel is None or p.channel == channel)
            ]

    # -- views ----------------------------------------------------------------------------------------------
    def _build_view(self, payload: Any, *, kind: str, view_id: str, root: str, previous: str | None) -> Json:
        if not isinstance(payload, dict) or payload.get("type") != kind:
            raise SlackError(
                "invalid_arguments", messages=[f"[ERROR] view type must be {kind} [json-pointer:/view/type]"]
            )
        blocks = payload.get("blocks")
        if not isinstance(blocks, list) or len(blocks) > VIEW_BLOCK_LIMIT:
            raise SlackError(
                "invalid_arguments", messages=[f"[ERROR] views must contain between 1 and {VIEW_BLOCK_LIMIT} blocks"]
            )
        if kind == "modal" and not payload.get("title"):
            raise SlackError(
                "invalid_arguments", messages=["[ERROR] missing required field: title [json-pointer:/view]"]
            )
        ws = self.workspace
        view: Json = {
            "id": view_id,
            "team_id": ws.team_id,
            "type": kind,
            "blocks": self._with_block_ids(blocks),
            "private_metadata": payload.get("private_metadata", ""),
            "callback_id": payload.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self._hash(),
            "title": copy.deepcopy(payload.get("title")),
            "clear_on_close": bool(payload.get("clear_on_close", False)),
            "notify_on_close": bool(payload.get("notify_on_close", False)),
            "close": copy.deepcopy(payload.get("close")),
            "submit": copy.deepcopy(payload.get("submit")),
            "previous_view_id": previous,
            "root_view_id": root,
            "app_id": ws.app_id,
            "external_id": payload.get("external_id", ""),
            "app_installed_team_id": ws.team_id,
            "bot_id": ws.bot_id,
        }
        return view

    def _new_view_id(self) -> str:
        return f"V{next(self._seq):08X}"

    def _claim_external_id(self, payload: Any, view_id: str) -> None:
        external = payload.get("external_id") if isinstance(payload, dict) else None
        if external and any(v.get("external_id") == external and k != view_id for k, v in self.views.items()):
            raise SlackError("duplicate_external_id")

    def open_modal(self, trigger_id: str | None, payload: Any) -> Json:
        with self.lock:
            user_id = self._exchange(trigger_id)
            view_id = self._new_view_id()
            self._claim_external_id(payload, view_id)
            view = self._build_view(payload, kind="modal", view_id=view_id, root=view_id, previous=None)
            self.views[view_id] = view
            self.view_owner[view_id] = user_id
            self.stacks[user_id] = [view_id]  # a new modal replaces whatever the person had open
            return copy.deepcopy(view)

    def push_modal(self, trigger_id: str | None, payload: Any) -> Json:
        with self.lock:
            user_id = self._exchange(trigger_id)
            stack = self.stacks.setdefault(user_id, [])
            if len(stack) >= MODAL_STACK_LIMIT:
                raise SlackError("push_limit_reached")
            view_id = self._new_view_id()
            self._claim_external_id(payload, view_id)
            root = stack[0] if stack else view_id
            previous = stack[-1] if stack else None
            view = self._build_view(payload, kind="modal", view_id=view_id, root=root, previous=previous)
            self.views[view_id] = view
            self.view_owner[view_id] = user_id
            stack.append(view_id)
            return copy.deepcopy(view)

    def update_view(self, view_id: str | None, external_id: str | None, payload: Any, hash_: str | None) -> Json:
        with self.lock:
            if not view_id and not external_id:
                raise SlackError("invalid_arguments", messages=["[ERROR] view_id or external_id is required"])
            if not view_id:
                view_id = next((k for k, v in self.views.items() if v.get("external_id") == external_id), None)
            old = self.views.get(view_id or "")
            if old is None or view_id is None:
                raise SlackError("not_found")
            if hash_ and hash_ != old["hash"]:
                raise SlackError("hash_conflict")
            self._claim_external_id(payload, view_id)
            if isinstance(payload, dict) and not payload.get("external_id") and old.get("external_id"):
                payload = {**payload, "external_id": old["external_id"]}  # an update keeps the view's identity
            view = self._build_view(
                payload, kind=old["type"], view_id=view_id, root=old["root_view_id"], previous=old["previous_view_id"]
            )
            self.views[view_id] = view
            self.view_errors.pop(view_id, None)
            return copy.deepcopy(view)

    def publish_home(self, user_id: str, payload: Any, hash_: str | None) -> Json:
        with self.lock:
            if user_id not in self.workspace.users:
                raise SlackError("user_not_found")
            old_id = self.homes.get(user_id)
            if hash_ and old_id is not None and hash_ != self.views[old_id]["hash"]:
                raise SlackError("hash_conflict")
            view_id = old_id or self._new_view_id()
            view = self._build_view(payload, kind="home", view_id=view_id, root=view_id, previous=None)
            self.views[view_id] = view
            self.view_owner[view_id] = user_id
            self.homes[user_id] = view_id
            return copy.deepcopy(view)

    def modal_stack(self, user_id: str) -> list[Json]:
        with self.lock:
            return [copy.deepcopy(self.views[v]) for v in self.stacks.get(user_id, [])]

    def top_modal(self, user_id: str) -> Json | None:
        stack = self.modal_stack(user_id)
        return stack[-1] if stack else None

    def home(self, user_id: str) -> Json | None:
        with self.lock:
            view_id = self.homes.get(user_id)
            return copy.deepcopy(self.views[view_id]) if view_id else None

    def close_view(self, user_id: str, view_id: str, *, all_views: bool = False) -> None:
        with self.lock:
            stack = self.stacks.get(user_id, [])
            if all_views or (stack and stack[0] == view_id):
                stack.clear()
            elif view_id in stack:
                del stack[stack.index(view_id) :]

    def new_oauth_code(self, *, scopes: str, redirect_uri: str) -> str:
        with self.lock:
            code = f"oauth-code-{len(self._oauth_codes) + 1}-{int(self.now() * 1000)}"
            self._oauth_codes[code] = {"scopes": scopes, "redirect_uri": redirect_uri}
            return code

    def take_oauth_code(self, code: str) -> dict[str, str] | None:
        """An install code works once (as Slack's do)."""
        with self.lock:
            return self._oauth_codes.pop(code, None)

    def apply_view_ack(
        self, user_id: str, view_id: str, status: int, body: Json | None, submitted_hash: str | None = None
    ) -> None:
        """What Slack does with a view_submission ack: empty 200 closes the view, response_action
        update/push/clear/errors as documented; anything but 200 leaves the modal as it was.

        Slack applies the ack the moment it arrives, before anything the app does afterwards; here the driver
        hands the ack over only once it has the HTTP response, by which time the app may already have called
        views.update. So an ack for a view that changed since it was submitted (`submitted_hash`) came first
        in Slack's order and is overtaken, not applied on top.
        """
        if status != 200:
            return
        with self.lock:
            current = self.views.get(view_id)
            if submitted_hash is not None and current is not None and current.get("hash") != submitted_hash:
                return
            action = (body or {}).get("response_action")
            if action is None:
                self.close_view(user_id, view_id)
            elif action == "clear":
                self.close_view(user_id, view_id, all_views=True)
            elif action == "errors":
                self.view_errors[view_id] = dict((body or {}).get("errors") or {})
            elif action == "update" and view_id in self.views:
                self.update_view(view_id, None, (body or {}).get("view"), None)
            elif action == "push":
                stack = self.stacks.setdefault(user_id, [])
                if len(stack) < MODAL_STACK_LIMIT:
                    new_id = self._new_view_id()
                    root = stack[0] if stack else new_id
                    view = self._build_view(
                        (body or {}).get("view"), kind="modal", view_id=new_id, root=root, previous=view_id
                    )
                    self.views[new_id] = view
                    self.view_owner[new_id] = user_id
                    stack.append(new_id)

    # -- response URLs --------------------------------------------------------------------------------------
    # -- files ----------------------------------------------------------------------------------------------
    def new_upload(self, filename: str, length: int) -> UploadedFile:
        with self.lock:
            file_id = f"F{next(self._seq):08d}"
            upload = UploadedFile(file_id, filename, length)
            self.files[file_id] = upload
            return upload

    def receive_upload(self, file_id: str, content: bytes) -> None:
        with self.lock:
            upload = self.files.get(file_id)
            if upload is None:
                raise SlackError("file_not_found", status=404)
            upload.content = content

    def complete_upload(self, items: list[Json], channel: str | None, comment: str | None) -> list[Json]:
        """Share uploaded files (all of them must have arrived) in `channel`, as one message with the comment."""
        with self.lock:
            uploads = []
            for item in items:
                upload = self.files.get(str(item.get("id") or ""))
                if upload is None or upload.content is None:
                    raise SlackError("file_not_found")
                upload.title = str(item.get("title") or upload.filename)
                uploads.append(upload)
            channel_id = self.resolve_channel(channel) if channel else None
            shared = [self.file_object(u) for u in uploads]
            if channel_id is not None:
                ts = self._next_ts()
                message = self._bot_message(ts, {"text": comment or ""})
                message["files"] = shared
                message["upload"] = True
                self._posted.append(Posted(channel_id, ts, message))
                for u in uploads:
                    u.shared_in, u.message_ts = channel_id, ts
            return [self.file_object(u) for u in uploads]

    def file_object(self, upload: UploadedFile) -> Json:
        return {
            "id": upload.file_id,
            "name": upload.filename,
            "title": upload.title or upload.filename,
            "size": len(upload.content or b""),
            "channels": [upload.shared_in] if upload.shared_in else [],
        }

    def shared_files(self, channel: str) -> list[UploadedFile]:
        with self.lock:
            return [f for f in self.files.values() if f.shared_in == channel]

    def respond(self, url_id: str, body: Json) -> Json:
        """A POST to a response URL: post, replace or delete as Slack documents for response_url.

        With no original message (a slash command), the first reply becomes the one that later
        replace_original/delete_original act on.
        """
        with self.lock:
            target = self.response_urls.get(url_id)
            if target is None:
                raise SlackError("invalid_url", status=404)
            # Slack: up to 5 responses within 30 minutes. The refusal's exact shape was not found in Slack's
            # docs; a 404 with these error strings is this stub's choice.
            if self.now() - target.created > self.response_url_ttl:
                raise SlackError("expired_url", status=404)
            if target.uses >= self.response_url_uses:
                raise SlackError("used_url", status=404)
            channel = target.channel_id
            if body.get("delete_original") and target.source_ts and channel:
                target.uses += 1
                self.delete_message(channel, target.source_ts, ephemeral=target.source_ephemeral)
                target.source_ts = None
                return {"ok": True}
            if channel is None:
                raise SlackError("channel_not_found", status=404)
            content: Json = {
                k: body[k] for k in ("text", "blocks", "attachments", "thread_ts", "metadata") if k in body
            }
            if body.get("replace_original") and target.source_ts:
                self.update_message(channel, target.source_ts, content, ephemeral=target.source_ephemeral)
            elif body.get("response_type") == "in_channel":
                posted = self.post_message(channel, content)
                if target.source_ts is None:
                    target.source_ts, target.source_ephemeral = posted.ts, False
            else:  # ephemeral is response_url's default
                if target.user_id is None:
                    raise SlackError("user_not_found", status=404)
                posted = self.post_ephemeral(channel, target.user_id, content)
                if target.source_ts is None:
                    target.source_ts, target.source_ephemeral = posted.ts, True
            target.uses += 1
            return {"ok": True}
