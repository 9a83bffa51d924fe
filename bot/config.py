"""Configuration from the environment (and `.env`), validated once at start-up."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
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

    def lms_now(self) -> datetime:
        """Now, in the LMS's zone: its wall-clock reading compares with the (zone-less) session times it sends."""
        return datetime.now(ZoneInfo(self.lms_timezone))

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
