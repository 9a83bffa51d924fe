"""What one sweep did: printed by `lmsbot remind --now`, logged by the scheduler, shown by `/lms status`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.reminders.types import Outgoing


@dataclass
class SweepReport:
    started_at: datetime
    dry_run: bool = False
    finished_at: datetime | None = None
    learners: int = 0  # linked people looked at
    due: int = 0  # whose digest was due (or forced)
    prefetched: int = 0  # due soon: data fetched ahead of their send time
    pairs: int = 0  # (learner, module) pairs a digest needed
    lms_calls: int = 0  # LMS requests made (cache misses)
    cache_hits: int = 0  # answers taken from the shared cache instead
    known_skips: int = 0  # pairs not fetched: module known complete, or locked until a later date
    lock_retries: int = 0  # calls retried after the LMS reported a lock (the endpoint paused meanwhile)
    slack_calls: int = 0
    nothing: int = 0  # due, nothing pending: no message
    already: int = 0  # sent earlier in the period, or being sent by another worker
    sent: list[Outgoing] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # found in Slack after a crash and confirmed, not re-sent
    updated: list[str] = field(default_factory=list)  # messages edited in place
    deferred: list[str] = field(default_factory=list)  # learners left for a later sweep (LMS unavailable)
    failed: list[str] = field(default_factory=list)  # Slack refused: retried by a later sweep
    errors: list[str] = field(default_factory=list)  # bugs or surprises, one learner each

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
        parts.append(f"{self.lms_calls} LMS calls")
        return ", ".join(parts)

    def lines(self) -> list[str]:
        verb = "would send" if self.dry_run else "sent"
        out = [f"{verb}: {o.summary}" for o in self.sent]
        out += [f"already in Slack: {line}" for line in self.recovered]
        out += [f"updated: {line}" for line in self.updated]
        out += [f"deferred: {line}" for line in self.deferred]
        out += [f"failed: {line}" for line in self.failed]
        out += [f"error: {line}" for line in self.errors]
        return out

    def __str__(self) -> str:
        return "\n".join([*self.lines(), ("dry run: " if self.dry_run else "") + self.summary()])
