"""Every table the bot owns, in one MetaData that Alembic migrates (slack_sdk's tables included).

IDs from the LMSs and from Slack are strings, always: Zoho's exceed 2**53 and iSpring's are UUIDs.
Constraint names follow `NAMING_CONVENTION` so migrations can address them on every database.

Size (~350 lines): one MetaData on purpose — Alembic's autogenerate and the naming convention see every table
in one module, and each table is a dozen declarative lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Double,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime
from storage.versions import fresh_version

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PROVIDERS = ("zoho", "ispring")
LINK_METHODS = ("self", "admin", "auto", "csv")
REMINDER_STATUSES = ("claimed", "sent", "failed")
DEFAULT_WEEKDAYS = "mon,tue,wed,thu,fri"
DEFAULT_SEND_TIME = "09:00"

# A 64-bit key on PostgreSQL; SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSON NULL would be the string 'null'; store SQL NULL instead.
Json = JSON(none_as_null=True)
SlackId = String(64)
LmsId = String(255)
Provider = String(16)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class ProviderConnectionRow(Base):
    """One LMS account per workspace and provider; every secret column holds Fernet ciphertext."""

    __tablename__ = "provider_connections"
    __table_args__ = (
        UniqueConstraint("team_id", "provider"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    provider: Mapped[str] = mapped_column(Provider)
    data_center: Mapped[str | None] = mapped_column(String(16))
    api_url: Mapped[str] = mapped_column(String(500))
    accounts_url: Mapped[str | None] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_enc: Mapped[str | None] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    access_token_expires_at: Mapped[datetime | None]
    scopes: Mapped[str | None] = mapped_column(Text)
    connected_by: Mapped[str | None] = mapped_column(SlackId)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LearnerLinkRow(Base):
    """A Slack user ↔ LMS learner, at most one per provider each way."""

    __tablename__ = "learner_links"
    __table_args__ = (
        UniqueConstraint("team_id", "slack_user_id", "provider"),
        UniqueConstraint("team_id", "provider", "learner_id"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider"),
        CheckConstraint(_in("method", LINK_METHODS), name="method"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    slack_user_id: Mapped[str] = mapped_column(SlackId)
    provider: Mapped[str] = mapped_column(Provider)
    learner_id: Mapped[str] = mapped_column(LmsId)
    email: Mapped[str | None] = mapped_column(String(320))
    method: Mapped[str] = mapped_column(String(8))
    linked_by: Mapped[str] = mapped_column(SlackId)
    linked_at: Mapped[datetime]


class TrackedModuleRow(Base):
    """A module whose learners get reminders. batch_id is '' for "no batch": NULLs never collide in a
    unique key, so two "no batch" rows for the same module would otherwise both be allowed."""

    __tablename__ = "tracked_modules"
    __table_args__ = (
        UniqueConstraint("team_id", "provider", "course_id", "batch_id", "module_id"),
        UniqueConstraint("team_id", "alias"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    provider: Mapped[str] = mapped_column(Provider)
    course_id: Mapped[str] = mapped_column(LmsId)
    batch_id: Mapped[str] = mapped_column(LmsId, default="", server_default="")
    module_id: Mapped[str] = mapped_column(LmsId)
    alias: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(SlackId)
    created_at: Mapped[datetime]


class ReminderPreferenceRow(Base):
    __tablename__ = "reminder_preferences"

    team_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    send_time: Mapped[str] = mapped_column(String(5), default=DEFAULT_SEND_TIME, server_default=DEFAULT_SEND_TIME)
    weekdays: Mapped[str] = mapped_column(String(32), default=DEFAULT_WEEKDAYS, server_default=DEFAULT_WEEKDAYS)
    digest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    snoozed_until: Mapped[datetime | None]
    timezone: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class ReminderMuteRow(Base):
    __tablename__ = "reminder_mutes"
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id", "tracked_module_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    slack_user_id: Mapped[str] = mapped_column(SlackId)
    tracked_module_id: Mapped[int] = mapped_column(ForeignKey("tracked_modules.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]


class SentReminderRow(Base):
    """One reminder per (user, item, period): the unique key makes "already reminded" a database fact."""

    __tablename__ = "sent_reminders"
    __table_args__ = (
        UniqueConstraint("team_id", "slack_user_id", "item_key", "period"),
        CheckConstraint(_in("status", REMINDER_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    slack_user_id: Mapped[str] = mapped_column(SlackId)
    item_key: Mapped[str] = mapped_column(String(500))
    period: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8))
    claim_token: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime]
    # While claimed: the first attempt that may have reached Slack and was not ruled out since (kept when a
    # stale claim is taken over, so the history check looks back far enough). None on rows from before 0003.
    sending_since: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    channel_id: Mapped[str | None] = mapped_column(SlackId)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[Any | None] = mapped_column(Json)
    # Changed by every write (storage/versions.py): the scheduler re-reads a row only when it moved.
    version: Mapped[int] = mapped_column(BigInteger, default=fresh_version, server_default="0")


class AuditLogRow(Base):
    """Who changed what. Values are scrubbed of secrets before they get here."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_team_id_created_at", "team_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str | None] = mapped_column(SlackId)  # None: installation-wide (e.g. key rotation)
    actor: Mapped[str] = mapped_column(SlackId)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(500))
    old_values: Mapped[Any | None] = mapped_column(Json)
    new_values: Mapped[Any | None] = mapped_column(Json)
    created_at: Mapped[datetime]


class ConnectStateRow(Base):
    """Single-use, expiring `state` for the Zoho OAuth connect flow."""

    __tablename__ = "connect_states"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    team_id: Mapped[str] = mapped_column(SlackId)
    slack_user_id: Mapped[str] = mapped_column(SlackId)
    provider: Mapped[str] = mapped_column(Provider)
    data_center: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    consumed_at: Mapped[datetime | None]


class RateLimitCallRow(Base):
    """One LMS call in the shared sliding window (epoch seconds, as the limiter's clock gives them)."""

    __tablename__ = "rate_limit_calls"
    __table_args__ = (Index("ix_rate_limit_calls_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255))
    at: Mapped[float] = mapped_column(Double)


class RateLimitLockRow(Base):
    """A lock the LMS reported for a key: no call before `until` (epoch seconds)."""

    __tablename__ = "rate_limit_locks"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    until: Mapped[float] = mapped_column(Double)


class RateLimitDailyRow(Base):
    """Calls to one LMS account in one minute (`bucket`: its start, epoch seconds): the rolling 24-hour count
    is the sum of the last 1,441 of these, so the daily budget costs one row per minute, not one per call."""

    __tablename__ = "rate_limit_daily"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)


class LmsCacheRow(Base):
    __tablename__ = "lms_cache"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    payload: Mapped[Any | None] = mapped_column(Json)
    fetched_at: Mapped[datetime]
    # Changed by every write (storage/versions.py): the scheduler decodes an answer again only when
    # it moved (fetched_at alone may repeat, e.g. on a virtual clock).
    version: Mapped[int] = mapped_column(BigInteger, default=fresh_version, server_default="0")


class SchedulerLeaseRow(Base):
    """Who runs the reminder scheduler: one holder per name, renewed before `expires_at` or taken over after it.

    A row rather than a PostgreSQL advisory lock so SQLite deployments and tests get the same hot standby.
    """

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SlackDeliveryRow(Base):
    """A Slack request (by its signature) or event (by its event_id) already taken in: a replay within Slack's
    5-minute window, or a redelivered event, finds its row and is not run again. Old rows are purged."""

    __tablename__ = "slack_deliveries"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class SlackDmChannelRow(Base):
    """The bot's DM channel with a person, as chat.postMessage to their user id answered it: kept so reading the
    DM's history (reconciling an unsure send) and editing a reminder need no conversations.open (Tier 3)."""

    __tablename__ = "slack_dm_channels"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime]


class WorkspaceUninstallRow(Base):
    """A workspace that removed the app (`app_uninstalled`) or whose bot token Slack revoked (`tokens_revoked`):
    its Slack tokens are deleted and the reminder sweep skips it. Its other data is kept until
    `lmsbot workspace purge` (README, "Workspace lifecycle").

    `token_fingerprint` (single-workspace mode) is a SHA-256 prefix of the SLACK_BOT_TOKEN that was revoked, never
    the token: once the operator configures the token of a new install, the workspace counts as installed again.
    In multi-workspace mode a new install saves a new bot token, and that is what counts."""

    __tablename__ = "workspace_uninstalls"

    team_id: Mapped[str] = mapped_column(SlackId, primary_key=True)
    enterprise_id: Mapped[str | None] = mapped_column(SlackId)
    reason: Mapped[str] = mapped_column(String(32))
    token_fingerprint: Mapped[str | None] = mapped_column(String(64))
    uninstalled_at: Mapped[datetime]


metadata = Base.metadata

# APScheduler's SQLAlchemyJobStore table, column for column as the job store defines it, so our migrations
# create it (and `lmsbot db check` does not report it as drift once the scheduler has run).
apscheduler_jobs = Table(
    "apscheduler_jobs",
    metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)

# slack_sdk's own tables, defined by slack_sdk so its stores work unchanged, but created by our migrations.
slack_installations = SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations")
slack_bots = SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
slack_oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")

# Columns holding encrypted Slack secrets. slack_sdk sizes tokens VARCHAR(200); Fernet ciphertext of a
# rotating token (xoxe.xoxb-…) is longer than that, and PostgreSQL enforces the length, so widen them.
SLACK_SECRET_COLUMNS: dict[str, tuple[str, ...]] = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}
for _table in (slack_installations, slack_bots):
    for _name in SLACK_SECRET_COLUMNS[_table.name]:
        _table.c[_name].type = Text()
