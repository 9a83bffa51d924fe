"""What the in-place pass (bot/reminders/updates.py, the sweep's phase 2) keeps of each sent digest across sweeps.

Every sweep looks at every digest of the last `recent_days` (a week of them per learner). Decoding each one, and
the answers its items rest on, on every 5-minute sweep was most of the scheduler's CPU. So the engine keeps,
per sent-log row and row version (storage/versions.py), the little the pass needs (`SentSummary`), and whether
it found nothing to tick off with the answers as they then were (`Seen.checked`). A later sweep decodes the
digest again only when the row changed (an edit, a button) or one of those answers did (or the learner's day),
and re-renders and edits it only when something in it got done or opened.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from bot.reminders.types import Digest, EntryKind
from bot.services.sent_log import SentHead, SentReminder
from bot.services.types import TrackedModuleRef

T = TypeVar("T")
SentRow = SentHead | SentReminder  # a sent digest's row, without its payload (a sweep) or with it (a tick-off)
# Sent digests, a batch of learners' at a time (each learner's rows in one batch).
Batches = Callable[[], AsyncIterator[Sequence[SentRow]]]

# A hash of (the learner's local date, Zoho learner id, the versions of the answers the digest's items rest on);
# None where a version is not known (an answer written in this sweep): such a digest is looked at every time.
# Row versions start at random 62-bit numbers (storage/versions.py), so equal hashes mean equal inputs.
CheckKey = int | None


@dataclass(frozen=True, slots=True)
class SentSummary:
    """One version of a sent-log row of a digest, as far as the in-place pass goes."""

    version: int
    digest: bool  # the payload is a digest (not the record of a day with nothing pending)
    stopped: bool = False
    period: str = ""
    claimed_at: datetime | None = None  # the row's (where its items stand in the re-read order)
    # For re-reads: (index in [*pending, *locked], module, lock date) of entries whose module is not unlocked.
    refresh: tuple[tuple[int, TrackedModuleRef, date | None], ...] = ()
    # The modules whose answers can tick its Zoho items off or open its locks, in the order they are looked at.
    deps: tuple[TrackedModuleRef, ...] = ()
    ispring: tuple[str, ...] = ()  # keys of its iSpring entries not done yet
    unlocked: bool = False  # it tells of modules opened since it was sent ("now unlocked" notices)


class Shared:
    """Equal values shared: thousands of learners' digests name the same few modules, in the same few orders."""

    def __init__(self) -> None:
        self._values: dict[object, object] = {}

    def __len__(self) -> int:
        return len(self._values)

    def __call__(self, value: T) -> T:
        return self._values.setdefault(value, value)  # type: ignore[return-value]


def summarize(version: int, claimed_at: datetime, digest: Digest | None, shared: Shared | None = None) -> SentSummary:
    if digest is None:
        return SentSummary(version, digest=False)
    ref = shared if shared is not None else Shared()
    refresh = tuple(
        (index, ref(entry.tracked), entry.lock_until)
        for index, entry in enumerate([*digest.pending, *digest.locked])
        if entry.tracked is not None and entry.tracked.id not in digest.unlocked
    )
    deps: dict[int, TrackedModuleRef] = {}
    ispring: list[str] = []
    for entry in digest.entries:
        if entry.key in digest.done:
            continue
        if entry.kind is EntryKind.ISPRING:
            ispring.append(entry.key)
        elif entry.tracked is not None and entry.tracked.id not in digest.unlocked:
            deps.setdefault(entry.tracked.id, ref(entry.tracked))
    return SentSummary(
        version,
        digest=True,
        stopped=digest.stopped,
        period=sys.intern(digest.period),
        claimed_at=claimed_at,
        refresh=ref(refresh),
        deps=ref(tuple(deps.values())),
        ispring=ref(tuple(ispring)),
        unlocked=bool(digest.unlocked),
    )


@dataclass(slots=True)
class Seen:
    summary: SentSummary
    checked: CheckKey | None = None  # nothing to tick off or open, with these answers on this day


class SentMemo:
    """Per workspace: sent-log row id -> what the pass last saw of it. Rows that fell out of the recent window
    (or were deleted) are let go after each full sweep (`keep_only`)."""

    def __init__(self) -> None:
        self._teams: dict[str, dict[int, Seen]] = {}
        self.shared = Shared()

    def team(self, team_id: str) -> dict[int, Seen]:
        return self._teams.setdefault(team_id, {})

    def keep_only(self, team_id: str, ids: set[int]) -> None:
        rows = self._teams.get(team_id)
        if rows is not None:
            self._teams[team_id] = {i: seen for i, seen in rows.items() if i in ids}
        if len(self.shared) > 100_000:  # modules come and go over months: start the sharing afresh
            self.shared = Shared()

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._teams.values())
