"""What one sweep did: printed by `lmsbot remind --now`, logged by the scheduler, shown by `/lms status`.

A sweep at 10,000 learners sends thousands of messages: the report keeps counts, and of the messages themselves
only a short sample (their one-line summaries, never the rendered payloads), so the scheduler's memory does not
grow with the number of learners. `on_line` lets `lmsbot remind --now` print every line as it happens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from bot.reminders.types import Outgoing

T = TypeVar("T")
SAMPLE = 50  # lines of each kind kept for printing; the rest are counted


class Capped(Generic[T]):
    """A list that counts every item but keeps only the first `keep` (len() is the full count); `tell` hears
    of every item as it is added (so a caller can stream them all)."""

    __slots__ = ("count", "items", "keep", "tell")

    def __init__(self, keep: int = SAMPLE) -> None:
        self.keep = keep
        self.items: list[T] = []
        self.count = 0
        self.tell: Callable[[T], None] | None = None

    def append(self, item: T) -> None:
        self.count += 1
        if len(self.items) < self.keep:
            self.items.append(item)
        if self.tell is not None:
            self.tell(item)

    @property
    def dropped(self) -> int:
        return self.count - len(self.items)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            return self.dropped == 0 and self.items == other
        if isinstance(other, Capped):
            return self.count == other.count and self.items == other.items
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        more = f" +{self.dropped} more" if self.dropped else ""
        return f"Capped({self.items!r}{more})"


@dataclass(frozen=True, slots=True)
class Sent:
    """What the report remembers of a message that went out (its payload is in the sent log, not here)."""

    team_id: str
    user_id: str
    item_key: str
    period: str
    summary: str

    @classmethod
    def of(cls, out: Outgoing) -> Sent:
        return cls(out.team_id, out.user_id, out.item_key, out.period, out.summary)


class SentLog(Capped[Sent]):
    """`report.sent`: takes the Outgoing message, keeps only its summary line."""

    __slots__ = ()

    def append(self, item: Sent | Outgoing) -> None:
        super().append(item if isinstance(item, Sent) else Sent.of(item))


@dataclass
class SweepReport:
    started_at: datetime
    dry_run: bool = False
    finished_at: datetime | None = None
    learners: int = 0  # linked people looked at
    due: int = 0  # whose digest was due (or forced)
    prefetched: int = 0  # due later: their data refreshed ahead of their send time by the planner
    planned: int = 0  # (learner, module) pairs the planner found needing a refresh before their send time
    refreshed: int = 0  # of those, re-read (or settled by a bulk answer) this sweep
    as_of: int = 0  # digests built from data older than the planning window ("as of <date>")
    # Age in whole hours of the oldest answer (with something still to do) each digest was built from: a
    # histogram, so its size does not grow with the number of learners.
    data_age_hours: Counter[int] = field(default_factory=Counter)
    pairs: int = 0  # (learner, module) pairs a digest needed
    lms_calls: int = 0  # LMS requests made (cache misses)
    cache_hits: int = 0  # answers taken from the shared cache instead
    known_skips: int = 0  # pairs not fetched: module known complete, or locked until a later date
    lock_retries: int = 0  # calls retried after the LMS reported a lock (the endpoint paused meanwhile)
    slack_calls: int = 0
    nothing: int = 0  # due, nothing pending: no message
    already: int = 0  # sent earlier in the period, or being sent by another worker
    sent: SentLog = field(default_factory=SentLog)
    recovered: Capped[str] = field(default_factory=Capped)  # found in Slack after a crash and confirmed, not re-sent
    updated: Capped[str] = field(default_factory=Capped)  # messages edited in place
    deferred: Capped[str] = field(default_factory=Capped)  # learners left for a later sweep (LMS unavailable)
    failed: Capped[str] = field(default_factory=Capped)  # Slack refused: retried by a later sweep
    errors: Capped[str] = field(default_factory=Capped)  # bugs or surprises, one learner each

    def stream(self, on_line: Callable[[str], None]) -> None:
        """Hear every line as it happens (all of them, not just the kept sample)."""
        verb = "would send" if self.dry_run else "sent"
        self.sent.tell = lambda s: on_line(f"{verb}: {s.summary}")
        for kind, label in _LABELS.items():
            capped: Capped[str] = getattr(self, kind)
            capped.tell = lambda line, label=label: on_line(f"{label}: {line}")

    def summary(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        parts = [f"{verb} {len(self.sent)}", f"updated {len(self.updated)}"]
        if self.recovered:
            parts.append(f"{len(self.recovered)} already in Slack (confirmed)")
        if self.deferred:
            parts.append(f"{len(self.deferred)} deferred (LMS unavailable)")
        if self.failed:
            parts.append(f"{len(self.failed)} failed (retried later)")
        if self.errors:
            parts.append(f"{len(self.errors)} errors")
        if self.as_of:
            parts.append(f"{self.as_of} from older data (as of)")
        parts.append(f"{self.lms_calls} LMS calls")
        return ", ".join(parts)

    def lines(self) -> list[str]:
        verb = "would send" if self.dry_run else "sent"
        out = [f"{verb}: {o.summary}" for o in self.sent]
        out += _more(self.sent, verb)
        for kind in ("recovered", "updated", "deferred", "failed", "errors"):
            capped: Capped[str] = getattr(self, kind)
            out += [f"{_LABELS[kind]}: {line}" for line in capped]
            out += _more(capped, _LABELS[kind])
        return out

    def __str__(self) -> str:
        return "\n".join([*self.lines(), ("dry run: " if self.dry_run else "") + self.summary()])


_LABELS = {
    "recovered": "already in Slack",
    "updated": "updated",
    "deferred": "deferred",
    "failed": "failed",
    "errors": "error",
}


def _more(capped: Capped[Any], label: str) -> list[str]:
    return [f"{label}: … and {capped.dropped} more"] if capped.dropped else []
