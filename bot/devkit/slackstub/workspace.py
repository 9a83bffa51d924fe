"""The Slack workspace the stub pretends to be: team, bot identity, people, channels and DMs.

Field names follow Slack's user and team objects (users.info, team.info) so that code reading them here reads
real Slack the same way. The demo team's people carry the e-mails of the LMS sandbox's named people
(bot/devkit/sandbox/seed.py), so lmsbot can match a Slack user to an LMS learner by e-mail as it will in production.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

# Slack's tz_label is the zone's long name; zoneinfo only knows abbreviations, so name the zones we seed.
_TZ_LABELS: dict[str, tuple[str, str]] = {
    "America/Los_Angeles": ("Pacific Standard Time", "Pacific Daylight Time"),
    "America/Chicago": ("Central Standard Time", "Central Daylight Time"),
    "America/New_York": ("Eastern Standard Time", "Eastern Daylight Time"),
    "Europe/London": ("Greenwich Mean Time", "British Summer Time"),
    "Europe/Berlin": ("Central European Time", "Central European Summer Time"),
    "Europe/Amsterdam": ("Central European Time", "Central European Summer Time"),
    "Asia/Kolkata": ("India Standard Time", "India Standard Time"),
    "Asia/Tokyo": ("Japan Standard Time", "Japan Standard Time"),
    "Pacific/Auckland": ("New Zealand Standard Time", "New Zealand Daylight Time"),
    "UTC": ("Coordinated Universal Time", "Coordinated Universal Time"),
}


def tz_fields(tz: str, at: float) -> dict[str, Any]:
    """Slack's tz, tz_label and tz_offset (seconds east of UTC) for a zone at a moment (DST-aware)."""
    moment = datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(tz))
    offset = moment.utcoffset()
    dst = moment.dst()
    standard, summer = _TZ_LABELS.get(tz, (moment.tzname() or tz, moment.tzname() or tz))
    return {
        "tz": tz,
        "tz_label": summer if dst else standard,
        "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
    }


@dataclass
class SlackUser:
    id: str
    name: str  # the handle (Slack's legacy `name`), shown as @name
    real_name: str
    email: str | None = None
    tz: str = "UTC"
    title: str = ""
    display_name: str = ""
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    is_app_user: bool = False
    deleted: bool = False
    is_restricted: bool = False
    bot_id: str | None = None

    def to_slack(self, team_id: str, at: float, *, locale: bool = False) -> dict[str, Any]:
        first, _, last = self.real_name.partition(" ")
        profile: dict[str, Any] = {
            "title": self.title,
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
            "first_name": first,
            "last_name": last,
            "status_text": "",
            "status_emoji": "",
            "team": team_id,
        }
        if self.email is not None:  # bots have no e-mail; Slack omits the field then
            profile["email"] = self.email
        if self.bot_id is not None:
            profile["bot_id"] = self.bot_id
        user: dict[str, Any] = {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            **tz_fields(self.tz, at),
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_primary_owner,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": self.is_app_user,
            "updated": int(at),
        }
        if locale:
            user["locale"] = "en-US"
        return user


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False


@dataclass
class Workspace:
    team_id: str = "T0DEMO"
    team_name: str = "Demo Co"
    domain: str = "demo-co"
    email_domain: str = "example.com"
    app_id: str = "A0LMSBOT"
    bot_user_id: str = "U0LMSBOT"
    bot_id: str = "B0LMSBOT"
    bot_name: str = "lmsbot"
    bot_token: str = "xoxb-0000-demo-lmsbot"
    # Slack's deprecated verification token, still sent in every payload's `token` field.
    verification_token: str = "demo-verification-token"
    users: dict[str, SlackUser] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    dms: dict[str, str] = field(default_factory=dict)  # user id -> DM channel id (the bot's IM with them)
    user_tokens: dict[str, str] = field(default_factory=dict)  # xoxp token -> user id
    # Tokens Slack revoked (the app was uninstalled, or tokens_revoked): calls with them answer token_revoked.
    revoked_tokens: set[str] = field(default_factory=set)
    # The Slack app's OAuth credentials, for the multi-workspace install flow (oauth.v2.access).
    client_id: str = "0000000000.0000000001"
    client_secret: str = "demo-client-secret"
    installer: str = "U0GRACE"  # who clicks "Allow" on the authorize page

    @property
    def url(self) -> str:
        return f"https://{self.domain}.slack.com/"

    def add_user(
        self,
        user_id: str,
        name: str,
        real_name: str,
        email: str | None = None,
        tz: str = "UTC",
        **flags: Any,
    ) -> SlackUser:
        user = SlackUser(user_id, name, real_name, email, tz, **flags)
        self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, *, is_private: bool = False) -> Channel:
        channel = Channel(channel_id, name, is_private)
        self.channels[channel_id] = channel
        return channel

    def user(self, user_id: str) -> SlackUser | None:
        return self.users.get(user_id)

    def user_by_email(self, email: str) -> SlackUser | None:
        wanted = email.strip().lower()
        return next((u for u in self.users.values() if u.email and u.email.lower() == wanted), None)

    def user_by_name(self, name: str) -> SlackUser | None:
        wanted = name.lstrip("@").lower()
        return next((u for u in self.users.values() if u.name.lower() == wanted), None)

    def dm_channel(self, user_id: str) -> str:
        """The bot's DM with a person: stable, so tests can name it before the bot opens it."""
        if user_id not in self.dms:
            self.dms[user_id] = "D" + user_id[1:]
        return self.dms[user_id]

    # -- the Directory protocol the renderer uses -----------------------------------------------------------
    def user_name(self, user_id: str) -> str | None:
        user = self.users.get(user_id)
        return user.name if user else None

    def channel_name(self, channel_id: str) -> str | None:
        channel = self.channels.get(channel_id)
        return channel.name if channel else None

    def dm_user(self, channel_id: str) -> str | None:
        return next((u for u, c in self.dms.items() if c == channel_id), None)

    def team_json(self) -> dict[str, Any]:
        return {
            "id": self.team_id,
            "name": self.team_name,
            "domain": self.domain,
            "email_domain": self.email_domain,
            "icon": {"image_default": True},
            "url": self.url,
        }


def encode_cursor(user_id: str) -> str:
    """Slack's users.list cursors are base64 of "user:<id>"; opaque to callers either way."""
    return base64.b64encode(f"user:{user_id}".encode()).decode()


def decode_cursor(cursor: str) -> str | None:
    try:
        kind, _, value = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
    except ValueError:
        return None
    return value if kind == "user" and value else None


# (id, handle, real name, tz, flags). E-mails are bot/devkit/sandbox/seed.py's: "first.last@example.com".
DEMO_PEOPLE: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("U0ADA", "ada", "Ada Lovelace", "Europe/London", {"title": "Analyst"}),
    (
        "U0GRACE",
        "grace",
        "Grace Hopper",
        "America/New_York",
        {"title": "Workspace Owner", "is_admin": True, "is_owner": True, "is_primary_owner": True},
    ),
    ("U0ALAN", "alan", "Alan Turing", "Europe/Berlin", {"title": "Researcher"}),
    ("U0KATHERINE", "katherine", "Katherine Johnson", "America/Los_Angeles", {"title": "Engineer"}),
    ("U0EDSGER", "edsger", "Edsger Dijkstra", "Europe/Amsterdam", {"title": "Engineer"}),
    ("U0MARGARET", "margaret", "Margaret Hamilton", "America/Los_Angeles", {"title": "Engineering Manager"}),
    ("U0BARBARA", "barbara", "Barbara Liskov", "Asia/Kolkata", {"title": "Engineer"}),
    ("U0CLAUDE", "claude", "Claude Shannon", "Pacific/Auckland", {"title": "Researcher"}),
]
DEMO_OWNER = "U0GRACE"
DEMO_MANAGER = "U0MARGARET"


def demo_workspace() -> Workspace:
    """T0DEMO: an owner/admin (Grace), a manager (Margaret), learners in five more time zones, the bot user
    and Slackbot (which Slack lists with is_bot false, a quirk user filters must survive)."""
    ws = Workspace()
    for user_id, handle, real_name, tz, flags in DEMO_PEOPLE:
        email = real_name.lower().replace(" ", ".") + "@example.com"
        ws.add_user(user_id, handle, real_name, email, tz, display_name=handle, **flags)
    ws.add_user(ws.bot_user_id, ws.bot_name, "LMS Bot", None, "America/Los_Angeles", is_bot=True, bot_id=ws.bot_id)
    ws.add_user("USLACKBOT", "slackbot", "Slackbot", None, "America/Los_Angeles")
    ws.add_channel("C0GENERAL", "general")
    ws.add_channel("C0LEARNING", "learning")
    ws.user_tokens["xoxp-0000-demo-grace"] = DEMO_OWNER
    return ws
