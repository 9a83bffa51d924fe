"""What the reminder engine hands to the Slack layer (plain typed data, never Block Kit), and how a sent
digest's content is stored in the sent log so that a later sweep or a button can re-render it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, Protocol

from pydantic import PlainSerializer, PlainValidator, TypeAdapter, ValidationError

from bot.services.types import TrackedModuleRef

DIGEST_KEY = "digest"  # the sent log's item key of the daily digest (period: the learner's local date)
MANAGER_DIGEST_KEY = "manager-digest"  # period: the ISO week, e.g. 2026-W14
PAYLOAD_VERSION = 1


def _read_datetime(value: Any) -> datetime | None:
    """As written (`datetime.isoformat`), with the offset it was written with: session times keep the LMS's
    offset, which the views show them in (pydantic's own parser would give them a tzinfo of its own)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _required_datetime(value: Any) -> datetime:
    moment = _read_datetime(value)
    if moment is None:
        raise ValueError("a date and time is needed")
    return moment


# How the stored payload writes its times and sets (since its first version): ISO 8601 with "+00:00" rather
# than pydantic's "Z", and sets as sorted lists.
Moment = Annotated[datetime, PlainValidator(_required_datetime), PlainSerializer(datetime.isoformat)]
MaybeMoment = Annotated[
    datetime | None,
    PlainValidator(_read_datetime),
    PlainSerializer(lambda d: d.isoformat() if d is not None else None),
]
KeySet = Annotated[frozenset[str], PlainSerializer(sorted)]
IdSet = Annotated[frozenset[int], PlainSerializer(sorted)]

Rendered = Mapping[str, Any]  # {"text": fallback, "blocks": [...]}: what chat.postMessage/chat.update take
SessionLead = Literal["day-before", "soon"]


class EntryKind(StrEnum):
    TASK = "task"  # a pending mandatory item of a Zoho module
    LOCKED = "locked"  # a Zoho module the learner cannot start yet
    ISPRING = "ispring"  # an iSpring module due soon or overdue


@dataclass(frozen=True, slots=True)
class DigestEntry:
    key: str  # stable within the learner's reminders: "zoho:<tracked>:<entity>", "lock:<tracked>", "ispring:<id>"
    kind: EntryKind
    title: str
    tracked: TrackedModuleRef | None = None
    module_name: str | None = None
    entity_type: str | None = None  # TASK: "onlineTest", "session", …
    entity: dict[str, Any] | None = None  # TASK: the entity as Zoho sent it; the view derives its details
    url: str | None = None
    due: date | None = None  # ISPRING
    overdue: bool = False  # ISPRING
    lock_type: int | None = None  # LOCKED: 1 until a date, 2 until the previous module is completed
    lock_until: date | None = None  # LOCKED
    unlock_after: str | None = None  # LOCKED: the module to finish first
    unlock_todo: tuple[str, ...] = ()  # LOCKED: what is still pending in it

    @property
    def actionable(self) -> bool:
        return self.kind is not EntryKind.LOCKED


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    name: str
    tracked: TrackedModuleRef
    starts_at: Moment  # aware, in the LMS's zone
    ends_at: MaybeMoment = None
    module_name: str | None = None
    room: str | None = None
    trainer: str | None = None
    session_type: str | None = None


@dataclass(frozen=True, slots=True)
class MissedSession:
    """A mandatory session that ended without the learner: told once, with what to do next."""

    session: SessionInfo
    next: SessionInfo | None = None  # the module's next session, when the LMS lists one

    @property
    def key(self) -> str:
        """The sent log's item key that remembers it was told (period: MISSED_PERIOD)."""
        return missed_key(self.session.tracked.id, self.session.session_id)


MISSED_PERIOD = "told"


def missed_key(tracked_id: int, session_id: str) -> str:
    return f"missed:{tracked_id}:{session_id}"


@dataclass(frozen=True, slots=True)
class Digest:
    """One learner's daily DM: pending items by module, locked modules, iSpring deadlines, upcoming sessions."""

    period: str
    entries: tuple[DigestEntry, ...]
    learner_name: str | None = None
    sessions: tuple[SessionInfo, ...] = ()
    done: KeySet = frozenset()  # entry keys finished since it was sent
    unlocked: IdSet = frozenset()  # tracked ids that were locked when it was sent and are open now
    muted: IdSet = frozenset()  # tracked ids muted from this message
    snoozed_until: MaybeMoment = None
    stopped: bool = False
    missed: tuple[MissedSession, ...] = ()  # never pending: ended sessions are told apart, once
    lms_zone: str = "UTC"  # the zone session times are written in (LMS_TIMEZONE)
    made_at: MaybeMoment = None  # when it was put together ("today at …" is relative to it)
    # Session reminders due when it was sent, told in it instead of a DM of their own: (session id, lead).
    reminders: tuple[tuple[str, SessionLead], ...] = ()
    # Zoho People's home page, offered once when items have no address of their own (no REMINDER_ZOHO_ITEM_URL).
    lms_home: str | None = None

    @property
    def reminded(self) -> list[tuple[SessionInfo, SessionLead]]:
        """The sessions this digest reminds about (tomorrow, starting soon), soonest first."""
        leads = dict(self.reminders)
        return [(s, leads[s.session_id]) for s in self.sessions if s.session_id in leads]

    as_of: MaybeMoment = None  # built from LMS data this old (the planner could not refresh it in time)
    unchecked: tuple[str, ...] = ()  # modules the LMS could not be asked about in time (no copy either)

    @property
    def pending(self) -> list[DigestEntry]:
        return [e for e in self.entries if e.actionable and e.key not in self.done and not self._muted(e)]

    @property
    def locked(self) -> list[DigestEntry]:
        return [e for e in self.entries if e.kind is EntryKind.LOCKED]

    def _muted(self, entry: DigestEntry) -> bool:
        return entry.tracked is not None and entry.tracked.id in self.muted

    def with_done(self, keys: frozenset[str], unlocked: frozenset[int] = frozenset()) -> Digest:
        return replace(self, done=self.done | keys, unlocked=self.unlocked | unlocked)

    def to_payload(self) -> dict[str, Any]:
        """The sent log's JSON of this digest (what `from_payload` reads back)."""
        return {"v": PAYLOAD_VERSION, "kind": "digest", **_digest_codec().dump_python(self, mode="json")}

    @classmethod
    def from_payload(cls, payload: Any) -> Digest | None:
        """The digest a sent-log payload describes; None for anything else (or an unreadable payload). Keys a
        payload lacks (rows written before the field existed) take the field's default."""
        if not isinstance(payload, dict) or payload.get("kind") != "digest":
            return None
        try:
            return _digest_codec().validate_python(payload)
        except (ValidationError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class SessionReminder:
    """Its own DM: a session tomorrow (or within the hour), for a learner or for the trainer running it."""

    session: SessionInfo
    lead: SessionLead
    as_trainer: bool = False
    recipient_name: str | None = None


@dataclass(frozen=True, slots=True)
class UnlockedNotice:
    """A short DM when a module the learner was told is locked opens up."""

    tracked: TrackedModuleRef
    module_name: str | None
    pending: int = 0  # mandatory items now waiting in it (0: unknown yet)


@dataclass(frozen=True, slots=True)
class LearnerBacklog:
    slack_user_id: str
    pending: int


@dataclass(frozen=True, slots=True)
class ModuleBacklog:
    tracked: TrackedModuleRef
    module_name: str | None
    learners: tuple[LearnerBacklog, ...]


@dataclass(frozen=True, slots=True)
class OverdueResult:
    slack_user_id: str | None
    learner: str  # the iSpring user id (never shown: `name` is, when no Slack user is known)
    title: str
    due: date | None
    name: str | None = None  # the LMS's own name for the learner
    department_id: str | None = None


@dataclass(frozen=True, slots=True)
class ManagerDigest:
    """The weekly "who is still behind on what" for managers and admins."""

    week: str
    modules: tuple[ModuleBacklog, ...] = ()
    ispring_overdue: tuple[OverdueResult, ...] = ()
    recipient_name: str | None = None

    @property
    def empty(self) -> bool:
        return not self.modules and not self.ispring_overdue


class Renderer(Protocol):
    """Turns the engine's data into Slack messages (handlers.views.digest provides the real one)."""

    def digest(self, digest: Digest) -> Rendered: ...

    def session(self, reminder: SessionReminder) -> Rendered: ...

    def unlocked(self, notice: UnlockedNotice) -> Rendered: ...

    def manager_digest(self, digest: ManagerDigest) -> Rendered: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message the sweep sends (or, in a dry run, would send)."""

    team_id: str
    user_id: str
    item_key: str
    period: str
    summary: str  # one line for the CLI and the logs
    message: Rendered = field(default_factory=dict)
    payload: Any = None


# --- payload JSON ---------------------------------------------------------------------------------------------


@cache
def _digest_codec() -> TypeAdapter[Digest]:
    """Digest <-> the sent log's JSON, field by field (built on first use: most processes never store one)."""
    return TypeAdapter(Digest)
