"""What services hand to the Slack layer: plain typed data, never Block Kit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from bot.lms.ispring_models import ModuleResult
from bot.lms.zoho_models import LearningPlanProgress, Module, ModuleProgress, Session, SessionEntity

# A person is waiting: wait at most this long (s) for rate-limit budget, then answer from the cache or say so.
INTERACTIVE_MAX_WAIT = 8.0


class Provider(StrEnum):
    ZOHO = "zoho"
    ISPRING = "ispring"


@dataclass(frozen=True, slots=True)
class Freshness:
    """When the data was fetched, and whether it is a cached copy served because the LMS could not answer."""

    fetched_at: datetime
    stale: bool = False
    reason: str | None = None  # e.g. "Zoho is rate-limited for 4 more minutes"


@dataclass(frozen=True, slots=True)
class TrackedModuleRef:
    """A module the workspace follows."""

    id: int
    provider: Provider
    course_id: str
    batch_id: str | None
    module_id: str
    alias: str | None = None

    @property
    def label(self) -> str:
        return self.alias or self.module_id


@dataclass(frozen=True, slots=True)
class ModuleStatus:
    """One tracked module as one learner sees it. `error` is set (the LMS's words) when it could not be fetched;
    `not_enrolled` when the LMS says the learner is not in its course or batch (the views word both)."""

    tracked: TrackedModuleRef
    progress: ModuleProgress | None = None
    module: Module | None = None  # module settings: lock type and lock-until date, for "why locked"
    error: str | None = None
    not_enrolled: bool = False
    freshness: Freshness | None = None
    now: datetime | None = None  # aware, in the LMS's zone: when it was judged (a session that has ended is no to-do)


@dataclass(frozen=True, slots=True)
class ProgressPage:
    """Some of the tracked modules (a reply reads a capped number): `start` is the first one's position among
    all `total` tracked modules."""

    statuses: list[ModuleStatus]
    start: int
    total: int

    @property
    def end(self) -> int:
        return self.start + len(self.statuses)

    @property
    def next_start(self) -> int | None:
        return self.end if self.end < self.total else None


@dataclass(frozen=True, slots=True)
class SessionItem:
    tracked: TrackedModuleRef
    session: Session
    # The asker's own entry for this session in their module progress (attended or not), when it is known.
    attendance: SessionEntity | None = None


@dataclass(frozen=True, slots=True)
class SessionsReport:
    sessions: list[SessionItem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    freshness: Freshness | None = None


@dataclass(frozen=True, slots=True)
class PlansReport:
    plans: list[LearningPlanProgress] = field(default_factory=list)
    freshness: Freshness | None = None


@dataclass(frozen=True, slots=True)
class ResultsReport:
    """iSpring module results, with Slack-user names resolved where a link exists."""

    results: list[ModuleResult] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # iSpring user id -> Slack user id (for <@U…>)
    freshness: Freshness | None = None
    people: dict[str, str] = field(default_factory=dict)  # iSpring user id -> the LMS's name (no Slack user)
    scope: str = ""  # whose results: "your team", "everyone" ("" when not said)

    @property
    def overdue(self) -> list[ModuleResult]:
        return [r for r in self.results if r.is_overdue and not r.is_done]


@dataclass(frozen=True, slots=True)
class IspringProgress:
    """One learner's own iSpring modules (every module iSpring lists for them), or why they could not be read."""

    learner_id: str
    results: list[ModuleResult] = field(default_factory=list)
    error: str | None = None
    freshness: Freshness | None = None
    now: datetime | None = None  # aware: when "overdue" and "due soon" were judged


@dataclass(frozen=True, slots=True)
class BudgetLine:
    endpoint: str
    remaining: int
    limit: int
    locked_for: float


@dataclass(frozen=True, slots=True)
class DailyBudgetLine:
    """A Zoho account's daily API budget (admins): calls in the last 24 h, the budget, today's projection."""

    used: int
    limit: int
    used_today: int
    projected_today: int
    zone: str  # the time zone "today" is counted in (LMS_TIMEZONE)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class AccountBudget:
    """One Zoho account's daily budget and who uses it (`lmsbot status`)."""

    account: str  # the budget's non-secret key, e.g. "zoho:1a2b3c4d5e6f"
    used_by: tuple[str, ...]  # workspace ids, or "environment" for the ZOHO_* settings' account
    daily: DailyBudgetLine


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """How one LMS is connected in a workspace: by an admin (stored credentials, `since` when), through the bot's
    own configuration (the ZOHO_* / ISPRING_* settings), or not at all."""

    via: Literal["admin", "configuration"] | None  # None: not connected
    data_center: str | None = None
    connected_by: str | None = None  # Slack user id
    since: datetime | None = None

    @property
    def connected(self) -> bool:
        return self.via is not None


@dataclass(frozen=True, slots=True)
class StatusReport:
    connections: dict[Provider, ConnectionState]
    linked_as: dict[Provider, str]  # provider -> learner id of the caller
    tracked: list[TrackedModuleRef]
    budgets: list[BudgetLine]
    last_sweep: datetime | None = None
    last_sweep_summary: str | None = None
    zoho_bulk_reads: str | None = None  # "on (verified …)" / "off: …" for the workspace's Zoho account
    daily: DailyBudgetLine | None = None  # admins only
    # Admins only: per connected LMS, whether its "Open in LMS" URL template is set (None: the settings
    # could not be read, `item_links_error` says why).
    item_links: dict[Provider, bool] | None = None
    item_links_error: str | None = None


@dataclass(frozen=True, slots=True)
class ReminderSettings:
    enabled: bool = True
    send_time: str = "09:00"
    weekdays: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    digest: bool = True
    quiet_start: str | None = None
    quiet_end: str | None = None
    snoozed_until: datetime | None = None
    timezone: str | None = None
    muted: tuple[TrackedModuleRef, ...] = ()


@dataclass(frozen=True, slots=True)
class ModuleEditForm:
    """What the module-edit modal shows, prefilled from the LMS."""

    tracked: TrackedModuleRef
    name: str
    duration_minutes: float | None
    description: str | None
    lock_type: int
    lock_until: date | None
