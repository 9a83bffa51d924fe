"""The sandbox's world: courses, learners, progress, iSpring results, tokens, rate windows, the call log.

Everything lives in one `SandboxState` guarded by a re-entrant lock, because uvicorn serves from its own
thread while tests read and mutate the state from the main thread.

Size (~400 lines): one world under one lock — splitting it would split the lock's scope across modules.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any, Literal

EntityType = Literal["onlineTest", "offlineTest", "assignment", "session", "embedLink"]
Api = Literal["zoho", "ispring"]

# iSpring statuses that count as "done": such results are never overdue.
ISPRING_DONE = frozenset({"complete", "passed", "accepted"})
ISPRING_STATUSES = frozenset(
    {
        "not_started",
        "in_progress",
        "pending",
        "complete",
        "passed",
        "accepted",
        "incomplete",
        "failed",
        "declined",
    }
)


class RealClock:
    """Wall-clock time, optionally running faster (clock_speed) so lock periods pass quickly in demos."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._origin = time.time()

    def __call__(self) -> float:
        return self._origin + (time.time() - self._origin) * self.speed


class ManualClock:
    """A clock tests move by hand, so expiry and lock periods need no sleeping."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ---- Zoho People LMS -------------------------------------------------------------------------------------


@dataclass
class Learner:
    learner_id: int
    name: str
    email: str
    user_id: int  # the "userId" Zoho shows inside learning-plan userInfo (differs from learnerId in the sample)


@dataclass
class Entity:
    entity_id: int
    name: str
    type: EntityType
    mandatory: bool = True
    duration: int = 0  # minutes; tests only (sessions derive theirs from start/end)
    test_mark: int = 0  # maximum mark of an online/offline test
    max_attempts: int = 1
    assign_mark: int = 0
    submission_type: str = "No Submission"
    batch_id: int | None = None  # session entities belong to one batch of a blended course


@dataclass
class Module:
    module_id: int
    name: str
    order: int
    duration: float = 0  # minutes
    description: str = ""
    lock_type: int = 0  # 0 unlocked, 1 locked until lock_until, 2 locked until previous module completed
    lock_until: date | None = None
    entities: list[Entity] = field(default_factory=list)


@dataclass
class Batch:
    batch_id: int
    name: str
    start: date
    end: date
    learner_ids: set[int] = field(default_factory=set)


@dataclass
class Course:
    course_id: int
    name: str
    type: int  # 1 self-paced, 2 blended
    description: str = ""
    modules: list[Module] = field(default_factory=list)
    batches: dict[int, Batch] = field(default_factory=dict)
    learner_ids: set[int] = field(default_factory=set)  # self-paced enrolment

    @property
    def blended(self) -> bool:
        return self.type == 2


@dataclass
class Attempt:
    number: int
    mark: float
    on: date


@dataclass
class EntityProgress:
    completed: bool = False
    user_mark: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    attendance: str = ""  # sessions: "", "Present", "Absent"
    submitted_on: date | None = None


@dataclass
class Session:
    session_id: int  # equals the entityId of the session entity in module progress
    batch_id: int
    module_id: int
    name: str
    description: str
    day: date
    start: dtime
    end: dtime
    session_type: str
    room: str
    room_id: int
    trainer: str
    trainer_erecno: int

    @property
    def minutes(self) -> int:
        return (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)


@dataclass
class LearningPlan:
    plan_id: int
    name: str
    duration: int
    created_ms: int
    active_course_count: int
    mandatory_course_count: int
    image: str = "23"
    publish_state: str = "1"
    duration_type: str = "0"
    disabled: bool = False


@dataclass
class PlanMembership:
    plan_id: int
    learner_id: int
    plan_user_id: int
    joined: bool = True
    completed: bool = False
    enrolled_ms: int | None = None


# ---- iSpring Learn ---------------------------------------------------------------------------------------


@dataclass
class ISpringUser:
    user_id: str
    name: str
    email: str
    department_id: str
    status: int = 1  # 1 active, 3 blocked
    learner_id: int | None = None  # the same person in Zoho, if any


@dataclass
class ISpringDepartment:
    department_id: str
    name: str
    code: str
    parent_id: str | None = None
    subordination_type: str = "no_supervisor"  # manual | inherit | no_supervisor
    supervisor_id: str | None = None  # an iSpring user id, when manual


@dataclass
class ISpringResult:
    result_id: str  # internal; page tokens point at it
    user_id: str
    course_id: str
    module_id: str
    module_title: str
    course_item_id: str
    enrollment_id: str
    access_date: datetime
    time_spent: int
    completion_status: str
    due_date: datetime | None = None
    expiration_date: datetime | None = None
    completion_date: datetime | None = None
    progress: float | None = None

    def is_overdue(self, now: datetime) -> bool:
        return self.due_date is not None and self.due_date < now and self.completion_status not in ISPRING_DONE


# ---- auth, limits, log, faults ---------------------------------------------------------------------------


@dataclass
class AccessToken:
    token: str
    api: Api
    account: str  # the client id it was issued to; rate limits are kept per account
    scope: str
    expires_at: float
    refresh_token: str | None = None


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    expires_at: float


@dataclass
class CallRecord:
    at: float
    method: str
    path: str
    endpoint: str
    account: str | None
    status: int
    query: dict[str, list[str]]
    body: Any
    module_data: dict[str, Any] | None = None
    transport: str | None = None  # update-module: "query", "form", "json" or "json-wrapped"


@dataclass
class Fault:
    endpoint: str | None
    status: int
    remaining: int
    delay: float


class SandboxState:
    """The whole emulated world. Mutate only while holding `lock` (handlers do)."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = clock or RealClock()
        self.latency = 0.0
        self.courses: dict[int, Course] = {}
        self.learners: dict[int, Learner] = {}
        self.progress: dict[tuple[int, int], EntityProgress] = {}  # (learner_id, entity_id)
        self.sessions: dict[int, Session] = {}
        self.plans: dict[int, LearningPlan] = {}
        self.memberships: list[PlanMembership] = []
        self.ispring_users: dict[str, ISpringUser] = {}
        self.ispring_departments: dict[str, ISpringDepartment] = {}
        self.ispring_results: list[ISpringResult] = []
        self.webhooks: dict[str, str] = {}  # iSpring webhook callback URL -> its secret (bot.devkit.sandbox.admin)
        self.tokens: dict[str, AccessToken] = {}
        self.auth_codes: dict[str, AuthCode] = {}
        self.minted_refresh: dict[str, tuple[str, str]] = {}  # refresh token -> (client_id, scope)
        # Extra Zoho organisations (`add_zoho_account`): refresh token -> account name. Their access tokens count
        # against that account's own rate limit, as separate Zoho organisations' do.
        self.zoho_accounts: dict[str, str] = {}
        self.revoked: set[str] = set()
        self.windows: dict[tuple[str, str], deque[float]] = {}
        self.locked_until: dict[tuple[str, str], float] = {}
        self._calls: list[CallRecord] = []
        self._faults: list[Fault] = []
        # How the undocumented bulk progress endpoints answer: "default" (the sandbox's plausible shape), "alt"
        # (another plausible shape: wrapped, keyed by numeric ids), "unparseable" (an HTML page with 200), or
        # "disagree" (the default shape claiming every module complete). Tests flip it; the docs show no body.
        self.bulk_shape: Literal["default", "alt", "unparseable", "disagree"] = "default"

    # -- time
    def now(self) -> float:
        return self.clock()

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def today(self) -> date:
        return self.now_dt().date()

    # -- call log
    @property
    def calls(self) -> list[CallRecord]:
        with self.lock:
            return [replace(c) for c in self._calls]

    def calls_for(self, endpoint: str) -> list[CallRecord]:
        return [c for c in self.calls if c.endpoint == endpoint]

    def clear_calls(self) -> None:
        with self.lock:
            self._calls.clear()

    def record(self, call: CallRecord) -> None:
        with self.lock:
            self._calls.append(call)

    # -- faults
    def add_zoho_account(self, name: str, scope: str = "ZOHOPEOPLE.training.ALL") -> str:
        """Another Zoho organisation (same data, its own rate limit): a refresh token that connects to it, as
        the OAuth flow would have minted for its admin."""
        with self.lock:
            refresh = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
            self.minted_refresh[refresh] = ("", scope)
            self.zoho_accounts[refresh] = name
            return refresh

    def inject_fault(self, endpoint: str | None, status: int = 500, count: int = 1, delay: float = 0.0) -> None:
        """Make the next `count` calls to `endpoint` (None: any LMS endpoint) answer `status` after `delay` s.

        status 0 means "no error, just slow". Token endpoints are only affected when named explicitly.
        """
        with self.lock:
            self._faults.append(Fault(endpoint, status, count, delay))

    def take_fault(self, endpoint: str, lms: bool) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.endpoint == endpoint or (fault.endpoint is None and lms):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- lookups for assertions and handlers
    def course(self, course_id: int) -> Course:
        return self.courses[course_id]

    def module(self, course_id: int, module_id: int) -> Module:
        for module in self.courses[course_id].modules:
            if module.module_id == module_id:
                return module
        raise KeyError(module_id)

    def learner(self, learner_id: int) -> Learner:
        return self.learners[learner_id]

    def entity_progress(self, learner_id: int, entity_id: int) -> EntityProgress:
        return self.progress.get((learner_id, entity_id)) or EntityProgress()

    def module_sessions(self, batch_id: int, module_id: int) -> list[Session]:
        found = [s for s in self.sessions.values() if s.batch_id == batch_id and s.module_id == module_id]
        return sorted(found, key=lambda s: (s.day, s.start, s.session_id))

    def visible_entities(self, module: Module, batch_id: int | None) -> list[Entity]:
        """Session entities belong to one batch; everything else is shared by all batches."""
        return [e for e in module.entities if e.type != "session" or e.batch_id == batch_id]

    def module_complete(self, learner_id: int, module: Module, batch_id: int | None) -> bool:
        mandatory = [e for e in self.visible_entities(module, batch_id) if e.mandatory]
        return all(self.entity_progress(learner_id, e.entity_id).completed for e in mandatory)

    def module_locked_now(self, module: Module) -> bool:
        """Learner-independent lock flag (update/single-module responses)."""
        if module.lock_type == 1:
            return module.lock_until is not None and self.today() < module.lock_until
        return module.lock_type == 2

    def locked_for(self, learner_id: int, course: Course, module: Module, batch_id: int | None) -> bool:
        if module.lock_type == 1:
            return module.lock_until is not None and self.today() < module.lock_until
        if module.lock_type == 2:
            previous = [m for m in course.modules if m.order < module.order]
            if not previous:
                return False
            prior = max(previous, key=lambda m: m.order)
            return not self.module_complete(learner_id, prior, batch_id)
        return False

    def ispring_user(self, user_id: str) -> ISpringUser:
        return self.ispring_users[user_id]
