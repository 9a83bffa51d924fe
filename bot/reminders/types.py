"""What the reminder engine hands to the Slack layer (plain typed data, never Block Kit), and how a sent
digest's content is stored in the sent log so that a later sweep or a button can re-render it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from bot.services.types import Provider, TrackedModuleRef

DIGEST_KEY = "digest"  # the sent log's item key of the daily digest (period: the learner's local date)
MANAGER_DIGEST_KEY = "manager-digest"  # period: the ISO week, e.g. 2026-W14
PAYLOAD_VERSION = 1

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
    starts_at: datetime  # aware, in the LMS's zone
    ends_at: datetime | None = None
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
    done: frozenset[str] = frozenset()  # entry keys finished since it was sent
    unlocked: frozenset[int] = frozenset()  # tracked ids that were locked when it was sent and are open now
    muted: frozenset[int] = frozenset()  # tracked ids muted from this message
    snoozed_until: datetime | None = None
    stopped: bool = False
    missed: tuple[MissedSession, ...] = ()  # never pending: ended sessions are told apart, once
    lms_zone: str = "UTC"  # the zone session times are written in (LMS_TIMEZONE)
    made_at: datetime | None = None  # when it was put together ("today at …" is relative to it)

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
        return {
            "v": PAYLOAD_VERSION,
            "kind": "digest",
            "period": self.period,
            "learner_name": self.learner_name,
            "entries": [_entry_json(e) for e in self.entries],
            "sessions": [_session_json(s) for s in self.sessions],
            "done": sorted(self.done),
            "unlocked": sorted(self.unlocked),
            "muted": sorted(self.muted),
            "snoozed_until": self.snoozed_until.isoformat() if self.snoozed_until else None,
            "stopped": self.stopped,
            "missed": [_missed_json(m) for m in self.missed],
            "lms_zone": self.lms_zone,
            "made_at": self.made_at.isoformat() if self.made_at else None,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> Digest | None:
        """The digest a sent-log payload describes; None for anything else (or an unreadable payload)."""
        if not isinstance(payload, dict) or payload.get("kind") != "digest":
            return None
        try:
            return cls(
                period=str(payload["period"]),
                entries=tuple(_entry(e) for e in payload.get("entries") or []),
                learner_name=payload.get("learner_name"),
                sessions=tuple(_session(s) for s in payload.get("sessions") or []),
                done=frozenset(str(k) for k in payload.get("done") or []),
                unlocked=frozenset(int(i) for i in payload.get("unlocked") or []),
                muted=frozenset(int(i) for i in payload.get("muted") or []),
                snoozed_until=_datetime(payload.get("snoozed_until")),
                stopped=bool(payload.get("stopped")),
                missed=tuple(_missed(m) for m in payload.get("missed") or []),
                lms_zone=str(payload.get("lms_zone") or "UTC"),
                made_at=_datetime(payload.get("made_at")),
            )
        except (KeyError, TypeError, ValueError):
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


def tracked_json(t: TrackedModuleRef) -> dict[str, Any]:
    return {
        "id": t.id,
        "provider": str(t.provider),
        "course_id": t.course_id,
        "batch_id": t.batch_id,
        "module_id": t.module_id,
        "alias": t.alias,
    }


def tracked_from(raw: dict[str, Any]) -> TrackedModuleRef:
    return TrackedModuleRef(
        id=int(raw["id"]),
        provider=Provider(raw["provider"]),
        course_id=str(raw["course_id"]),
        batch_id=raw.get("batch_id") or None,
        module_id=str(raw["module_id"]),
        alias=raw.get("alias"),
    )


def _entry_json(e: DigestEntry) -> dict[str, Any]:
    return {
        "key": e.key,
        "kind": str(e.kind),
        "title": e.title,
        "tracked": tracked_json(e.tracked) if e.tracked else None,
        "module_name": e.module_name,
        "entity_type": e.entity_type,
        "entity": e.entity,
        "url": e.url,
        "due": e.due.isoformat() if e.due else None,
        "overdue": e.overdue,
        "lock_type": e.lock_type,
        "lock_until": e.lock_until.isoformat() if e.lock_until else None,
        "unlock_after": e.unlock_after,
        "unlock_todo": list(e.unlock_todo),
    }


def _entry(raw: dict[str, Any]) -> DigestEntry:
    return DigestEntry(
        key=str(raw["key"]),
        kind=EntryKind(raw["kind"]),
        title=str(raw.get("title") or ""),
        tracked=tracked_from(raw["tracked"]) if raw.get("tracked") else None,
        module_name=raw.get("module_name"),
        entity_type=raw.get("entity_type"),
        entity=raw.get("entity"),
        url=raw.get("url"),
        due=date.fromisoformat(raw["due"]) if raw.get("due") else None,
        overdue=bool(raw.get("overdue")),
        lock_type=raw.get("lock_type"),
        lock_until=date.fromisoformat(raw["lock_until"]) if raw.get("lock_until") else None,
        unlock_after=raw.get("unlock_after"),
        unlock_todo=tuple(raw.get("unlock_todo") or ()),
    )


def _session_json(s: SessionInfo) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "name": s.name,
        "tracked": tracked_json(s.tracked),
        "starts_at": s.starts_at.isoformat(),
        "ends_at": s.ends_at.isoformat() if s.ends_at else None,
        "module_name": s.module_name,
        "room": s.room,
        "trainer": s.trainer,
        "session_type": s.session_type,
    }


def _session(raw: dict[str, Any]) -> SessionInfo:
    starts_at = _datetime(raw["starts_at"])
    if starts_at is None:
        raise ValueError("a session needs its start")
    return SessionInfo(
        session_id=str(raw["session_id"]),
        name=str(raw.get("name") or ""),
        tracked=tracked_from(raw["tracked"]),
        starts_at=starts_at,
        ends_at=_datetime(raw.get("ends_at")),
        module_name=raw.get("module_name"),
        room=raw.get("room"),
        trainer=raw.get("trainer"),
        session_type=raw.get("session_type"),
    )


def _missed_json(m: MissedSession) -> dict[str, Any]:
    return {"session": _session_json(m.session), "next": _session_json(m.next) if m.next else None}


def _missed(raw: dict[str, Any]) -> MissedSession:
    return MissedSession(_session(raw["session"]), _session(raw["next"]) if raw.get("next") else None)


def _datetime(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None
