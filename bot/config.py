"""Configuration from the environment (and `.env`), validated once at start-up: one `Settings`, which holds
the reminder engine's and scheduler's REMINDER_* settings (`Settings.reminders`, a `ReminderConfig`).

One module over ~300 lines on purpose: every variable an operator can set is declared here, with its default and
why, so the whole configuration reads in one place."""

from __future__ import annotations

from enum import StrEnum
from string import Formatter
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.lms.dates import DateOrder
from bot.lms.options import ISpringAuthScheme, ModuleDataTransport

# Zoho data centers: (People API host, Accounts host). Accounts hosts come from Zoho's multi-DC table; the
# People hosts outside .com follow Zoho's `<product>.zoho.<tld>` pattern and are not confirmed by Zoho docs,
# which is why ZOHO_PEOPLE_URL / ZOHO_ACCOUNTS_URL always win over the data center.
ZOHO_DATA_CENTERS: dict[str, tuple[str, str]] = {
    "com": ("https://people.zoho.com", "https://accounts.zoho.com"),
    "eu": ("https://people.zoho.eu", "https://accounts.zoho.eu"),
    "in": ("https://people.zoho.in", "https://accounts.zoho.in"),
    "com.au": ("https://people.zoho.com.au", "https://accounts.zoho.com.au"),
    "jp": ("https://people.zoho.jp", "https://accounts.zoho.jp"),
    "ca": ("https://people.zohocloud.ca", "https://accounts.zohocloud.ca"),
    "sa": ("https://people.zoho.sa", "https://accounts.zoho.sa"),
    "uk": ("https://people.zoho.uk", "https://accounts.zoho.uk"),
    "com.cn": ("https://people.zoho.com.cn", "https://accounts.zoho.com.cn"),
}
# Names people use for the same data centers.
_DC_ALIASES = {"us": "com", "au": "com.au", "cn": "com.cn", "zohocloud.ca": "ca"}


def normalize_data_center(value: str) -> str:
    key = value.strip().lower().lstrip(".")
    key = key.removeprefix("zoho.")
    key = _DC_ALIASES.get(key, key)
    if key not in ZOHO_DATA_CENTERS:
        known = ", ".join(ZOHO_DATA_CENTERS)
        raise ValueError(f"unknown Zoho data center {value!r}; expected one of: {known}")
    return key


class ZohoPlan(StrEnum):
    ESSENTIAL = "essential"  # "ESSENTIAL HR"
    PROFESSIONAL = "professional"
    PREMIUM = "premium"
    ENTERPRISE = "enterprise"


# Zoho People's daily API limit per organisation: (calls per user licence, the most per day), from
# https://www.zoho.com/people/api/api-limits.html. The count is shared by every integration the org runs.
ZOHO_PLAN_LIMITS: dict[ZohoPlan, tuple[int, int]] = {
    ZohoPlan.ESSENTIAL: (250, 5000),
    ZohoPlan.PROFESSIONAL: (250, 10000),
    ZohoPlan.PREMIUM: (250, 15000),
    ZohoPlan.ENTERPRISE: (500, 25000),
}
# lmsbot's share of the org's daily cap: the other 60% stays with the org's other integrations (HR sync,
# payroll, attendance devices), which lmsbot cannot see and must not starve.
ZOHO_BUDGET_SHARE = 0.4
# Without the plan and licence count: 40% of the smallest cap a 10-person organisation can have (Essential HR,
# 10 x 250 = 2,500 calls a day). Set ZOHO_PLAN and ZOHO_LICENSES (or ZOHO_DAILY_CALL_BUDGET) to use more.
ZOHO_DEFAULT_DAILY_BUDGET = 1000


def zoho_org_daily_cap(plan: ZohoPlan, licenses: int) -> int:
    per_license, most = ZOHO_PLAN_LIMITS[plan]
    return min(per_license * licenses, most)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Zoho People LMS
    zoho_data_center: str | None = None
    zoho_people_url: str = "https://people.zoho.com"
    zoho_accounts_url: str = "https://accounts.zoho.com"
    zoho_client_id: str | None = None
    zoho_client_secret: SecretStr | None = None
    zoho_refresh_token: SecretStr | None = None
    zoho_date_order: DateOrder = DateOrder.DMY
    zoho_module_data_transport: ModuleDataTransport = ModuleDataTransport.QUERY
    # A 422 "Maximum limit exceeded" is the only documented status that can mean the threshold lock.
    zoho_422_is_lock: bool = True
    # Bulk progress reads ("Single Course - All Learner Progress"): auto uses them for an account once they
    # agree with module-progress on a sample of learners (re-checked every ZOHO_BULK_RECHECK_HOURS); off never.
    zoho_bulk_reads: Literal["auto", "off"] = "auto"
    zoho_bulk_recheck_hours: float = Field(default=24.0, gt=0)
    zoho_bulk_sample: int = Field(default=5, ge=1, le=50)  # learners compared per check
    # Calls lmsbot may make per Zoho account over any rolling 24 hours (None: derived from the plan below).
    zoho_daily_call_budget: int | None = Field(default=None, ge=1)
    zoho_plan: ZohoPlan | None = None
    zoho_licenses: int | None = Field(default=None, ge=1)

    # iSpring Learn
    ispring_api_url: str = "https://api-learn.ispringlearn.com"
    ispring_client_id: str | None = None
    ispring_client_secret: SecretStr | None = None
    ispring_auth_scheme: ISpringAuthScheme = ISpringAuthScheme.BEARER
    ispring_response_format: Literal["xml", "json"] = "xml"
    # iSpring webhooks (POST /ispring/webhooks/<team id>): the secret iSpring signs each delivery with.
    # Unset: the route refuses every delivery (the daily read still reconciles).
    ispring_webhook_secret: SecretStr | None = None
    # `lmsbot ispring webhooks register|status|remove` only: iSpring's webhook management takes an account
    # owner's or administrator's login, not the API client credentials. Read when the command runs, never stored.
    ispring_account_url: str | None = None  # e.g. https://yourcompany.ispringlearn.com
    ispring_admin_email: str | None = None
    ispring_admin_password: SecretStr | None = None

    # HTTP behaviour shared by both clients
    lms_timeout_seconds: float = Field(default=20.0, gt=0)  # httpx's, per read: a trickling server never trips it
    # The most one LMS call may take end to end (connect, headers, the whole body; token request and retries
    # included; waits for rate-limit budget excluded), and the largest answer read (bytes, decompressed).
    lms_call_deadline_seconds: float = Field(default=30.0, gt=0)
    lms_max_response_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    lms_max_retries: int = Field(default=3, ge=0, le=10)
    lms_rate_limit: int = Field(default=30, ge=1)
    lms_rate_window_seconds: float = Field(default=60.0, gt=0)
    lms_lock_seconds: float = Field(default=300.0, ge=0)
    # Calls kept back from background work (reminder sweeps) for interactive commands.
    lms_interactive_reserve: int = Field(default=5, ge=0)
    # memory: one process; redis or database: one budget shared by the web and worker processes.
    rate_limit_backend: Literal["memory", "redis", "database"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"

    # Logs: text (one readable line, the default) or json (one JSON object per line, for log pipelines).
    log_format: Literal["text", "json"] = "text"

    # Storage
    database_url: str = "sqlite:///lmsbot.db"
    # Fernet keys for secrets at rest, comma-separated, newest first (`lmsbot keys generate` makes one).
    lmsbot_encryption_keys: SecretStr | None = None
    # "development" lets a missing LMSBOT_ENCRYPTION_KEYS fall back to a local key file; production refuses.
    lmsbot_env: Literal["production", "development"] = "production"

    # Slack
    slack_signing_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None  # single-workspace mode: no install step needed
    slack_app_token: SecretStr | None = None  # Socket Mode
    slack_api_url: str = "https://slack.com/api/"
    slack_client_id: str | None = None  # multi-workspace: Bolt's OAuth install flow
    slack_client_secret: SecretStr | None = None
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    slack_scopes: str = "commands,chat:write,im:write,im:history,users:read,users:read.email,team:read,files:write"
    # Extra roles on top of Slack's own admins/owners: comma-separated Slack user ids.
    lmsbot_admins: str = ""
    lmsbot_managers: str = ""
    lmsbot_trainers: str = ""
    # Managers' iSpring departments where the LMS names no supervisor: "U123=dep1,dep2;U456=dep3".
    lmsbot_manager_departments: str = ""
    # Whether people may link themselves by learner id, and then only where the LMS confirms the id carries
    # their Slack e-mail (iSpring; Zoho cannot tell, so Zoho ids are linked by admins), or only by their e-mail.
    lmsbot_self_link_by_id: bool = False
    # Where this bot is reachable from browsers (OAuth redirects): https://lmsbot.example.com
    lmsbot_public_url: str = "http://localhost:3000"
    # Zoho OAuth scopes asked for when a workspace connects Zoho People.
    zoho_scopes: str = "ZOHOPEOPLE.training.ALL"
    # The LMS sends session dates and times without a zone: the zone they are in (an IANA name).
    lms_timezone: str = "UTC"
    # How long cached LMS answers count as fresh (seconds) for interactive commands.
    lms_cache_seconds: float = Field(default=300.0, ge=0)

    _reminders: ReminderConfig | None = PrivateAttr(default=None)  # given ones (tests, benchmarks): `reminders`

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("zoho_plan", mode="before")
    @classmethod
    def _plan_name(cls, value: object) -> object:
        # Zoho's pricing table says "ESSENTIAL HR"; people will type it that way too.
        if isinstance(value, str):
            value = value.strip().lower().removesuffix(" hr").removesuffix("_hr") or None
        return value

    @property
    def multi_workspace(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def zoho_daily_budget(self) -> int:
        """ZOHO_DAILY_CALL_BUDGET, else ZOHO_BUDGET_SHARE of the org's cap for ZOHO_PLAN and ZOHO_LICENSES,
        else ZOHO_DEFAULT_DAILY_BUDGET."""
        if self.zoho_daily_call_budget is not None:
            return self.zoho_daily_call_budget
        if self.zoho_plan is not None and self.zoho_licenses is not None:
            return max(1, int(zoho_org_daily_cap(self.zoho_plan, self.zoho_licenses) * ZOHO_BUDGET_SHARE))
        return ZOHO_DEFAULT_DAILY_BUDGET

    @staticmethod
    def user_list(value: str) -> frozenset[str]:
        return frozenset(v.strip() for v in value.split(",") if v.strip())

    def manager_departments(self) -> dict[str, frozenset[str]]:
        """LMSBOT_MANAGER_DEPARTMENTS as Slack user -> iSpring department ids."""
        mapping: dict[str, frozenset[str]] = {}
        for entry in self.lmsbot_manager_departments.split(";"):
            user, _, departments = entry.partition("=")
            if user.strip() and departments.strip():
                mapping[user.strip()] = mapping.get(user.strip(), frozenset()) | self.user_list(departments)
        return mapping

    @property
    def reminders(self) -> ReminderConfig:
        """The REMINDER_* settings, read from the environment (and `.env`) when asked for, as a process starting
        now reads them (`/lms status` says what the scheduler reads), unless given (`with_reminders`). Only what
        builds reminders needs them well-formed (bot.preflight checks them for those commands: one line, exit 2);
        a malformed one raises pydantic's ValidationError here."""
        return self._reminders if self._reminders is not None else ReminderConfig()

    def with_reminders(self, config: ReminderConfig) -> Settings:
        """These settings with the given reminder settings instead of the environment's (tests, benchmarks)."""
        copy = self.model_copy()
        copy._reminders = config
        return copy

    @model_validator(mode="after")
    def _apply_data_center(self) -> Settings:
        # The data center sets both Zoho URLs unless they were given explicitly.
        if self.zoho_data_center:
            self.zoho_data_center = normalize_data_center(self.zoho_data_center)
            people, accounts = ZOHO_DATA_CENTERS[self.zoho_data_center]
            if "zoho_people_url" not in self.model_fields_set:
                self.zoho_people_url = people
            if "zoho_accounts_url" not in self.model_fields_set:
                self.zoho_accounts_url = accounts
        self.zoho_people_url = self.zoho_people_url.rstrip("/")
        self.zoho_accounts_url = self.zoho_accounts_url.rstrip("/")
        self.ispring_api_url = self.ispring_api_url.rstrip("/")
        self.lmsbot_public_url = self.lmsbot_public_url.rstrip("/")
        if not self.slack_api_url.endswith("/"):
            self.slack_api_url += "/"
        try:
            ZoneInfo(self.lms_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"LMS_TIMEZONE: unknown time zone {self.lms_timezone!r}") from None
        if self.lms_interactive_reserve >= self.lms_rate_limit:
            raise ValueError("LMS_INTERACTIVE_RESERVE must be smaller than LMS_RATE_LIMIT")
        return self


# --- the reminder engine and scheduler: REMINDER_* -------------------------------------------------------------

# Storage's names for the days (storage.repositories.preferences.WEEKDAYS): not imported, as the LMS clients read
# this module and import nothing of storage.
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# The placeholders each template may use ({entity_id} is {item_id}'s older name in Zoho templates).
ZOHO_PLACEHOLDERS = ("course_id", "batch_id", "module_id", "item_id", "entity_id")
ISPRING_PLACEHOLDERS = ("course_id", "module_id", "item_id")


def check_template(template: str, allowed: tuple[str, ...]) -> str:
    """The template as given, or ValueError naming what is wrong (an unknown placeholder, not a web address)."""
    value = template.strip()
    if not value.lower().startswith(("https://", "http://")):
        raise ValueError("must be a web address starting with https://")
    try:
        names = [name for _, name, spec, conv in Formatter().parse(value) if name is not None]
    except ValueError as exc:
        raise ValueError(f"is not a valid template ({exc}); write placeholders as {{course_id}}") from None
    for name in names:
        if name not in allowed:
            known = ", ".join(f"{{{p}}}" for p in allowed)
            raise ValueError(f"has an unknown placeholder {{{name}}}; use {known}")
    return value


class ReminderConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REMINDER_", env_file=".env", extra="ignore")

    # --- who runs the sweeps: `apscheduler` (`lmsbot scheduler`: one active process, a hot standby; SQLite or
    # PostgreSQL) or `procrastinate` (`lmsbot worker`: jobs in PostgreSQL, one sweep job per workspace and period,
    # run by any number of workers; bot/worker.py)
    executor: Literal["apscheduler", "procrastinate"] = "apscheduler"
    # procrastinate workers say they are alive this often; one silent for `worker_stalled_seconds` is taken to
    # be dead and its jobs are run again by the others.
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0)
    worker_stalled_seconds: float = Field(default=30.0, gt=0)

    # --- the scheduler (`lmsbot scheduler`)
    sweep_minutes: float = Field(default=5.0, gt=0)  # how often a sweep looks for due reminders
    # A sweep that could not start on time (worker busy or restarting) still runs if at most this late.
    misfire_grace_seconds: int = Field(default=600, ge=1)
    lease_seconds: float = Field(default=30.0, gt=0)  # a dead scheduler's standby takes over after this
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)  # SIGTERM: let the running sweep finish this long
    prune_days: int = Field(default=90, ge=1)  # the sent log is kept this long

    # --- exactly once
    # An unconfirmed claim older than this is taken to belong to a dead worker and is retried.
    claim_stale_seconds: float = Field(default=600.0, gt=0)

    # --- planning LMS calls
    concurrency: int = Field(default=4, ge=1)  # learners worked on at once (per workspace)
    workspace_concurrency: int = Field(default=4, ge=1)  # workspaces swept at once
    # Learners a sweep works through at a time: their cached LMS answers and sent digests are read per batch,
    # so the scheduler's memory does not grow with the number of learners.
    sweep_batch: int = Field(default=200, ge=1)
    # A workspace's LMS reads in one sweep stop after this long (real seconds); learners whose data is still
    # missing wait for the next sweep. Under the sweep interval, so one LMS never delays the next sweep.
    workspace_lms_seconds: float = Field(default=240.0, gt=0)
    # LMS answers younger than this are used as they are for a digest (cache shared with /lms and App Home).
    fresh_seconds: float = Field(default=3600.0, ge=0)
    # The planner (bot/reminders/planner.py) re-reads each (learner, module) once within the `plan_hours` before
    # the learner's send time, as late as the LMS budget allows, and has it done `prefetch_minutes` before
    # (0: no refresh ahead; every digest reads at its send time).
    plan_hours: float = Field(default=24.0, gt=0)
    prefetch_minutes: float = Field(default=15.0, ge=0)
    # The share of the LMS's rate (per minute and per day) the planner counts on; the rest is slack for
    # people's commands, session reminders and module settings.
    plan_rate_share: float = Field(default=0.8, gt=0, le=1)
    # At its send time a digest waits at most this long (real or virtual seconds) for a fresher LMS answer;
    # past it, the digest is built from the cached copy and says "as of <date>".
    digest_wait_seconds: float = Field(default=10.0, ge=0)
    # A module known complete is not fetched again for this many days (sticky completion).
    complete_recheck_days: float = Field(default=14.0, ge=0)
    # Module settings (lock type and date) and course module order change rarely.
    settings_max_age_seconds: float = Field(default=6 * 3600.0, ge=0)
    # When the LMS is down, a cached copy this old is still good enough for a digest.
    max_stale_seconds: float = Field(default=86400.0, ge=0)
    # Sent digests still showing pending items are re-checked (to tick items off in place) with at most
    # this many LMS calls per sweep, oldest data first, once their data is older than `refresh_after_seconds`:
    # ten minutes, so finished work stops being nagged within a sweep or two (the per-sweep cap keeps the
    # LMS budget bounded however many digests are out).
    refresh_calls_per_sweep: int = Field(default=20, ge=0)
    refresh_after_seconds: float = Field(default=600.0, ge=0)
    # With bulk reads on (ZOHO_BULK_READS, verified), those re-checks re-read only the modules whose bulk record
    # changed since the cached read, from a bulk answer at most this many hours old (read again when older). The
    # answer costs a call per 25 learners of each tracked course, so the default leaves it to the planner's daily
    # read; lower it for changes to show sooner without a command (each read more: about 0.04 calls per
    # (learner, module) a day at 1,000 learners).
    refresh_bulk_hours: float = Field(default=24.0, gt=0)
    recent_days: int = Field(default=7, ge=1)  # digests this recent are updated in place

    # --- what is reminded
    session_day_before_hours: float = Field(default=24.0, ge=0)  # 0: no day-before session reminder
    session_soon_minutes: float = Field(default=60.0, ge=0)  # 0: no shortly-before reminder
    session_optional: bool = False  # also remind about sessions that are not mandatory
    # Gone: the LMS's zone is LMS_TIMEZONE alone, so commands, Home and digests show one session at one time. Kept
    # as a field only to refuse an operator's old REMINDER_LMS_TIMEZONE rather than ignore it.
    lms_timezone: str | None = None
    ispring_due_soon_days: int = Field(default=3, ge=0)
    manager_digest: bool = True  # the weekly "who is overdue on what" for managers and admins
    manager_digest_weekday: str = "mon"
    # "Open in LMS" (one button per module), REMINDER_ZOHO_ITEM_URL and REMINDER_ISPRING_ITEM_URL: placeholders
    # {course_id} {batch_id} {module_id} {item_id} (Zoho; {entity_id} is the same as {item_id}) and {course_id}
    # {module_id} {item_id} (iSpring: its courseItemId; used when iSpring gives no viewUrl for the module). No
    # vendor documents such an address, so there is no default: unset, Zoho digests offer the Zoho People home
    # page once and iSpring items without a viewUrl have no button.
    zoho_item_url: str | None = None
    ispring_item_url: str | None = None

    @field_validator("zoho_item_url", "ispring_item_url", mode="before")
    @classmethod
    def _template(cls, value: object, info: ValidationInfo) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value
        allowed = ZOHO_PLACEHOLDERS if info.field_name == "zoho_item_url" else ISPRING_PLACEHOLDERS
        return check_template(value, allowed)

    @property
    def complete_recheck_seconds(self) -> float:
        return self.complete_recheck_days * 86400.0

    @field_validator("lms_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        raise ValueError("is no longer read: set LMS_TIMEZONE (one zone for commands and reminders)")

    @field_validator("manager_digest_weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        day = value.strip().lower()[:3]
        if day not in _WEEKDAYS:
            raise ValueError(f"weekday must be one of {', '.join(_WEEKDAYS)}")
        return day
