"""What a sweep's judgements need of a cached module-progress answer, derived once per stored version.

Most of a sweep looks at answers it has seen before: whether a sent digest's items are done, whether a module can
have changed, what the planner must re-read. Decoding each answer (JSON, then the typed model) on every 5-minute
sweep was most of the scheduler's CPU. `ProgressFacts` is the little the sweep asks of an answer; `FactsMemo`
keeps it per cache key and row version (storage/versions.py) for as long as the engine lives, so an answer is
read and decoded again only when a write changed it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from bot.lms.zoho_models import ModuleProgress, SessionEntity

UNKNOWN_VERSION = -1  # an answer written in this sweep, not read back (stored versions are never negative)
KEEP_SWEEPS = 100  # facts not looked at for this many sweeps are let go (a learner gone, a module untracked)


@dataclass(frozen=True, slots=True)
class ProgressFacts:
    """A cached module-progress answer, as far as the sweep's decisions go (digests are built from the answer)."""

    fetched_at: datetime
    is_locked: bool
    pending: frozenset[str]  # entity ids of the pending mandatory items
    pending_count: int  # how many pending mandatory items (as the LMS lists them)
    # Every pending mandatory item is a session with a date: the first one's day (UTC midnight); else None.
    first_session: datetime | None
    started: bool  # some item is complete
    due: date  # the soonest date of a pending mandatory session (date.max: none dated)
    sessions: Mapping[str, tuple[bool, bool]]  # session entity id -> (complete, mandatory), first listing
    module_name: str

    @property
    def complete(self) -> bool:
        return not self.is_locked and not self.pending_count

    def future_only(self, now: datetime) -> datetime | None:
        """As `collect.future_only`: when every pending item is a session not yet started (a day of slack), the
        first one's start; else None."""
        first = self.first_session
        return first if first is not None and first - timedelta(days=1) > now else None


def facts_of(value: ModuleProgress, fetched_at: datetime) -> ProgressFacts:
    pending = value.pending_mandatory
    starts: list[datetime] | None = []
    for entity in pending:
        if not isinstance(entity, SessionEntity) or entity.start_date is None:
            starts = None
            break
        assert starts is not None
        starts.append(datetime.combine(entity.start_date, datetime.min.time(), tzinfo=UTC))
    dated = [e.start_date for e in pending if isinstance(e, SessionEntity) and e.start_date]
    sessions: dict[str, tuple[bool, bool]] = {}
    for entity in value.entities:
        if isinstance(entity, SessionEntity) and entity.entity_id not in sessions:
            sessions[sys.intern(entity.entity_id)] = (entity.is_complete, entity.is_mandatory)
    # Kept for every answer of a workspace: strings shared, empty collections the shared ones.
    return ProgressFacts(
        fetched_at=fetched_at,
        is_locked=value.is_locked,
        pending=frozenset(sys.intern(e.entity_id) for e in pending) if pending else NOTHING,
        pending_count=len(pending),
        first_session=min(starts) if starts else None,
        started=any(e.is_complete for e in value.entities),
        due=min(dated, default=date.max),
        sessions=sessions or NO_SESSIONS,
        module_name=sys.intern(value.module_name),
    )


NOTHING: frozenset[str] = frozenset()
NO_SESSIONS: Mapping[str, tuple[bool, bool]] = MappingProxyType({})


class _Missing:
    pass


MISSING: Final = _Missing()


class FactsMemo:
    """Facts derived from cached answers, per cache key and the row's (fetched_at, version), across sweeps.

    Small per answer (a few hundred bytes), so it holds a whole workspace's, where the answers themselves are
    read a batch at a time. `tick()` after each sweep lets go of what no sweep looked at for `KEEP_SWEEPS`."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[int, Any, int]] = {}  # key -> (version, derived, the sweep that last used it)
        self._sweep = 0

    def __len__(self) -> int:
        return len(self._memo)

    def has(self, key: str, version: int) -> bool:
        return self.get(key, version) is not MISSING

    def get(self, key: str, version: int) -> Any:
        """What was derived from this version of the answer (MISSING: not known, or written since)."""
        hit = self._memo.get(key) if version != UNKNOWN_VERSION else None
        if hit is None or hit[0] != version:
            return MISSING
        if hit[2] != self._sweep:
            self._memo[key] = (hit[0], hit[1], self._sweep)
        return hit[1]

    def put(self, key: str, version: int, value: Any) -> None:
        if version != UNKNOWN_VERSION:  # an answer written in this sweep: derived each time it is asked for
            self._memo[key] = (version, value, self._sweep)

    def tick(self) -> None:
        self._sweep += 1
        if self._sweep % KEEP_SWEEPS == 0:
            oldest = self._sweep - KEEP_SWEEPS
            self._memo = {k: v for k, v in self._memo.items() if v[2] >= oldest}
