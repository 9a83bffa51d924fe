"""Slack as services see it: who a user is, their e-mail and time zone, and sending DMs.

Handlers answer the request in front of them with Bolt's own `client`/`respond`; services that act on their
own (reminders, auto-linking) come through here, with the workspace's bot token from the installation store
(multi-workspace) or SLACK_BOT_TOKEN (single workspace).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.services.slack_transport import (
    POST_PER_MINUTE,
    TIER_PER_MINUTE,
    Pacer,
    RetryDroppedConnectionsExceptPosts,
    SlackHttp,
)

_USER_TTL_SECONDS = 600.0
# A workspace may reinstall (new token) or revoke: look the token up again this often, and at once on these.
_CLIENT_TTL_SECONDS = 600.0
_TOKEN_ERRORS = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired"})
HISTORY_PAGE = 100  # Slack recommends no more than 200 messages a page


class DmChannelStore(Protocol):
    async def get(self, team_id: str, user_id: str) -> str | None: ...

    async def put(self, team_id: str, user_id: str, channel_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Posted:
    channel: str
    ts: str


class SlackNotInstalled(Exception):
    """No bot token for this workspace."""


@dataclass(frozen=True, slots=True)
class SlackUser:
    id: str
    name: str
    real_name: str
    email: str | None
    tz: str | None
    tz_offset: int | None
    is_admin: bool
    is_owner: bool
    is_bot: bool
    deleted: bool

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> SlackUser:
        profile = raw.get("profile") or {}
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name") or ""),
            real_name=str(raw.get("real_name") or profile.get("real_name") or raw.get("name") or ""),
            email=profile.get("email") or None,
            tz=raw.get("tz") or None,
            tz_offset=raw.get("tz_offset"),
            is_admin=bool(raw.get("is_admin")),
            is_owner=bool(raw.get("is_owner") or raw.get("is_primary_owner")),
            is_bot=bool(raw.get("is_bot")) or raw.get("id") == "USLACKBOT",
            deleted=bool(raw.get("deleted")),
        )


class SlackGateway:
    def __init__(
        self,
        settings: Settings,
        installation_store: AsyncInstallationStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        http: SlackHttp | None = None,
        dm_channels: DmChannelStore | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.settings = settings
        self.installation_store = installation_store
        self.http = http or SlackHttp()
        self.dm_channels = dm_channels
        self.pacer = pacer or Pacer(TIER_PER_MINUTE)
        self._clock = clock
        self._clients: dict[str, tuple[AsyncWebClient, float]] = {}
        self._users: dict[tuple[str, str], tuple[SlackUser, float]] = {}
        self._dms: dict[tuple[str, str], str] = {}  # (team, user) -> DM channel, in front of `dm_channels`

    async def client(self, team_id: str) -> AsyncWebClient:
        cached = self._clients.get(team_id)
        if cached and self._clock() - cached[1] < _CLIENT_TTL_SECONDS:
            cached[0].session = self.http.session()  # this loop's session (the same one, within a loop)
            return cached[0]
        token: str | None = None
        if self.installation_store is not None:
            bot = await self.installation_store.async_find_bot(enterprise_id=None, team_id=team_id)
            token = bot.bot_token if bot else None
        if token is None and self.settings.slack_bot_token is not None:
            token = self.settings.slack_bot_token.get_secret_value()
        if token is None:
            raise SlackNotInstalled(f"lmsbot is not installed in workspace {team_id}")
        client = AsyncWebClient(
            token=token,
            base_url=self.settings.slack_api_url,
            retry_handlers=[RetryDroppedConnectionsExceptPosts()],
            session=self.http.session(),
        )
        self._clients[team_id] = (client, self._clock())
        return client

    def forget_token(self, team_id: str, exc: BaseException) -> None:
        """Slack refused the token (revoked, reinstalled): fetch it from the installation store next time."""
        if isinstance(exc, SlackApiError) and exc.response.get("error") in _TOKEN_ERRORS:
            self._clients.pop(team_id, None)

    def forget_workspace(self, team_id: str) -> None:
        """The workspace uninstalled the app (or was purged): drop its client, people and DM channels here."""
        self._clients.pop(team_id, None)
        for user_key in [key for key in self._users if key[0] == team_id]:
            del self._users[user_key]
        for dm_key in [key for key in self._dms if key[0] == team_id]:
            del self._dms[dm_key]

    async def user(self, team_id: str, user_id: str) -> SlackUser:
        cached = self._users.get((team_id, user_id))
        if cached and self._clock() - cached[1] < _USER_TTL_SECONDS:
            return cached[0]
        await self.pacer.wait("users.info", team_id)
        response = await (await self.client(team_id)).users_info(user=user_id)
        user = SlackUser.from_api(response["user"])
        self._users[(team_id, user_id)] = (user, self._clock())
        return user

    async def users(self, team_id: str) -> list[SlackUser]:
        """Every member (real people only: no bots, no deactivated accounts)."""
        client = await self.client(team_id)
        people: list[SlackUser] = []
        cursor: str | None = None
        while True:
            await self.pacer.wait("users.list", team_id)
            response = await client.users_list(limit=200, cursor=cursor)
            members: list[dict[str, Any]] = response.get("members") or []
            for raw in members:
                user = SlackUser.from_api(raw)
                self._users[(team_id, user.id)] = (user, self._clock())
                if not user.is_bot and not user.deleted:
                    people.append(user)
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return people

    async def user_by_email(self, team_id: str, email: str) -> SlackUser | None:
        try:
            await self.pacer.wait("users.lookupByEmail", team_id)
            response = await (await self.client(team_id)).users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                return None
            raise
        return SlackUser.from_api(response["user"])

    async def user_id_by_handle(self, team_id: str, handle: str) -> str | None:
        """A member by @handle, display name or real name (for mentions typed without Slack's escaping)."""
        wanted = handle.strip().lstrip("@").lower()
        for person in await self.users(team_id):
            if wanted in (person.name.lower(), person.real_name.lower()):
                return person.id
        return None

    async def dm_channel(self, team_id: str, user_id: str) -> str:
        """The bot's DM channel with this person: known from an earlier post (kept in the database), else
        conversations.open (Tier 3) once."""
        channel = await self.known_dm_channel(team_id, user_id)
        if channel is not None:
            return channel
        await self.pacer.wait("conversations.open", team_id)
        response = await (await self.client(team_id)).conversations_open(users=user_id)
        channel = str(response["channel"]["id"])
        await self._remember_dm(team_id, user_id, channel)
        return channel

    async def known_dm_channel(self, team_id: str, user_id: str) -> str | None:
        channel = self._dms.get((team_id, user_id))
        if channel is None and self.dm_channels is not None:
            channel = await self.dm_channels.get(team_id, user_id)
            if channel is not None:
                self._dms[(team_id, user_id)] = channel
        return channel

    async def _remember_dm(self, team_id: str, user_id: str, channel: str) -> None:
        if self._dms.get((team_id, user_id)) == channel:
            return
        self._dms[(team_id, user_id)] = channel
        if self.dm_channels is not None:
            await self.dm_channels.put(team_id, user_id, channel)

    async def post_dm(
        self,
        team_id: str,
        user_id: str,
        text: str,
        blocks: list[dict[str, Any]],
        metadata: dict[str, Any] | None = None,
    ) -> Posted:
        """A DM without conversations.open: chat.postMessage to the user id lands in the app's DM with them, and
        the answer names that DM's channel, which is kept (for conversations.history and chat.update)."""
        await self.pacer.wait("chat.postMessage", team_id, user_id, limit=POST_PER_MINUTE)
        try:
            response = await (await self.client(team_id)).chat_postMessage(
                channel=user_id, text=text, blocks=blocks, metadata=metadata
            )
        except SlackApiError as exc:
            self.forget_token(team_id, exc)
            raise
        posted = Posted(channel=str(response["channel"]), ts=str(response["ts"]))
        try:
            await self._remember_dm(team_id, user_id, posted.channel)
        except Exception:  # noqa: BLE001 - the message is out; without the id a later edit opens the DM once
            self._dms[(team_id, user_id)] = posted.channel
        return posted

    async def post(
        self,
        team_id: str,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """chat.postMessage; `metadata` is Slack message metadata ({"event_type", "event_payload"})."""
        await self.pacer.wait("chat.postMessage", team_id, channel, limit=POST_PER_MINUTE)
        try:
            response = await (await self.client(team_id)).chat_postMessage(
                channel=channel, text=text, blocks=blocks, metadata=metadata
            )
        except SlackApiError as exc:
            self.forget_token(team_id, exc)
            raise
        return str(response["ts"])

    async def update(
        self,
        team_id: str,
        channel: str,
        ts: str,
        text: str,
        blocks: list[dict[str, Any]],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """chat.update; without `metadata` the message keeps the metadata it had (as Slack documents)."""
        await self.pacer.wait("chat.update", team_id)
        try:
            await (await self.client(team_id)).chat_update(
                channel=channel, ts=ts, text=text, blocks=blocks, metadata=metadata
            )
        except SlackApiError as exc:
            self.forget_token(team_id, exc)
            raise

    async def history(
        self, team_id: str, channel: str, *, oldest: float, limit: int = HISTORY_PAGE
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """conversations.history since `oldest` (a Unix time), newest first, one page (one call) at a time,
        with every message's metadata (`include_all_metadata`; a DM needs the im:history scope)."""
        client = await self.client(team_id)
        cursor: str | None = None
        while True:
            await self.pacer.wait("conversations.history", team_id)
            try:
                response = await client.conversations_history(
                    channel=channel,
                    oldest=f"{oldest:.6f}",
                    limit=limit,
                    cursor=cursor,
                    include_all_metadata=True,
                )
            except SlackApiError as exc:
                self.forget_token(team_id, exc)
                raise
            yield list(response.get("messages") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not response.get("has_more", True):
                return

    async def publish_home(self, team_id: str, user_id: str, view: dict[str, Any]) -> None:
        await self.pacer.wait("views.publish", team_id)
        await (await self.client(team_id)).views_publish(user_id=user_id, view=view)

    async def aclose(self) -> None:
        await self.http.aclose()
