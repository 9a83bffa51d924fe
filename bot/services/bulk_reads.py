"""Bulk progress reads, trusted only while they agree with module-progress.

Zoho's "Single Course - All Learner Progress" answers for every learner of a course in a few calls, where
module-progress costs one call per (learner, module). Its body is undocumented, so before the sweep relies on
it for an account it is cross-checked: for a sample of learners, module-progress is read and both must agree
on complete / not complete per module, on who is enrolled, and on what is pending (where the bulk answer
lists pending items). The verdict is kept per Zoho account (the workspace's connection), re-checked every
`ZOHO_BULK_RECHECK_HOURS`, and `/lms status` shows it. While it is off, callers read module by module.

How a planner uses it (one workspace, one sweep):

    verdict = await bulk.ensure(team_id, zoho, tracked, learner_ids, read_module=...)   # verifies when due
    pre = await bulk.prefilter(team_id, zoho, tracked)                                  # None while off
    for each (tracked module, learner):
        if pre is not None and pre.decision(tracked, learner_id, cached=..., sessions_soon=...) is not None:
            skip the module-progress call (complete, not enrolled, or unchanged since the cached read)
        else:
            read module-progress as today

`read_module` lets the verification go through the caller's cache, so the sample's module-progress answers
also serve the sweep instead of costing calls twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from bot import metrics
from bot.lms.errors import LMSError, NotFoundError, ProtocolError
from bot.lms.ratelimit import Priority
from bot.lms.zoho import ZohoClient
from bot.lms.zoho_bulk import BulkProgress, LearnerBulkProgress
from bot.lms.zoho_models import ModuleProgress
from bot.services.cache import Codec, LmsCache, decode
from bot.services.types import TrackedModuleRef
from storage.repositories.cache import LmsCacheRepository

log = logging.getLogger(__name__)
T = TypeVar("T")

Group = tuple[str, str | None]  # (course id, batch id)
ModuleReader = Callable[[TrackedModuleRef, str], Awaitable[ModuleProgress | None]]  # None: not enrolled
ANSWER = Codec[BulkProgress](BulkProgress)
UNAVAILABLE_RETRY = timedelta(hours=1)  # an LMS that could not answer the check is asked again sooner


class BulkMode(StrEnum):
    AUTO = "auto"  # use bulk reads for an account once verified, while they keep agreeing
    OFF = "off"  # never: module-progress only


VerdictKind = Literal["agreed", "disagreed", "unreadable", "unavailable", "no-sample", "disabled"]


class BulkVerdict(BaseModel):
    """Whether an account's bulk answers may be relied on, and why (stored as JSON in the LMS cache table)."""

    on: bool
    kind: VerdictKind
    reason: str  # plain words for `/lms status`
    checked_at: datetime
    learners: int = 0  # learners in the sample
    pairs: int = 0  # (learner, module) pairs compared
    learner_id: str | None = None  # where it disagreed
    module_id: str | None = None
    sample: tuple[str, ...] = ()

    def line(self) -> str:
        """ "on (verified 2026-12-01 09:00 on 5 learners)" / "off: disagreed with module-progress on …" """
        if self.on:
            when = self.checked_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
            return f"on (verified {when} UTC on {self.learners} learner{'s' if self.learners != 1 else ''})"
        return f"off: {self.reason}"


def _decode_answer(entry: tuple[Any, datetime] | None) -> tuple[BulkProgress, datetime] | None:
    decoded = decode(entry, ANSWER)
    return (decoded[0], decoded[1].fetched_at.astimezone(UTC)) if decoded is not None else None


def _decode_seen(stored: tuple[Any, datetime] | None) -> dict[str, tuple[str, datetime]]:
    out: dict[str, tuple[str, datetime]] = {}
    if stored is not None and isinstance(stored[0], dict):
        for learner_id, value in stored[0].items():
            try:
                out[str(learner_id)] = (str(value[0]), datetime.fromisoformat(value[1]).astimezone(UTC))
            except (TypeError, ValueError, IndexError, KeyError):
                continue  # an entry in an older form: that learner is read as usual
    return out


def verdict_key(team_id: str) -> str:
    return f"{team_id}:zoho:bulk-reads:verdict"


def _answer_key(team_id: str, group: Group) -> str:
    return f"{team_id}:zoho:bulk-reads:answer:{group[0]}:{group[1] or '-'}"


def _reads_key(team_id: str, group: Group) -> str:
    return f"{team_id}:zoho:bulk-reads:last:{group[0]}:{group[1] or '-'}"


class Skip(StrEnum):
    """Why a (learner, module) needs no module-progress call."""

    COMPLETE = "complete"
    NOT_ENROLLED = "not-enrolled"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class CachedRead:
    """The caller's cached module-progress for a (learner, module): what `UNCHANGED` may reuse."""

    locked: bool  # the cached answer says the module is locked
    fetched_at: datetime


@dataclass
class Prefilter:
    """One sweep's bulk answers for a workspace, as decisions per (learner, tracked module)."""

    verdict: BulkVerdict
    bulk: dict[Group, BulkProgress]
    # Per learner: the record's fingerprint and since when the bulk answers have shown it unchanged.
    unchanged_since: dict[Group, dict[str, tuple[str, datetime]]] = field(default_factory=dict)
    # When each group's answer was read from the LMS: what an UNCHANGED decision vouches for.
    read_at: dict[Group, datetime] = field(default_factory=dict)

    def as_of(self, tracked: TrackedModuleRef) -> datetime | None:
        """When the answer this module's decisions rest on was read (None: not known)."""
        return self.read_at.get((tracked.course_id, tracked.batch_id))

    @property
    def oldest(self) -> datetime | None:
        """The read time of the oldest answer in it (None: no read time known)."""
        return min(self.read_at.values()) if self.read_at and len(self.read_at) == len(self.bulk) else None

    def record(self, tracked: TrackedModuleRef, learner_id: str) -> LearnerBulkProgress | None:
        answer = self.bulk.get((tracked.course_id, tracked.batch_id))
        return answer.learner(learner_id) if answer is not None else None

    def says_complete(self, tracked: TrackedModuleRef, learner_id: str) -> bool:
        """The learner's record shows the module complete (what `decision`'s `sessions_soon` matters for)."""
        record = self.record(tracked, learner_id)
        return record is not None and record.module_complete(tracked.module_id) is True

    def decision(
        self,
        tracked: TrackedModuleRef,
        learner_id: str,
        *,
        cached: CachedRead | None = None,
        sessions_soon: bool = False,
        locked_ok: bool = False,
    ) -> Skip | None:
        """Skip the module-progress call, and why; None: read it.

        `sessions_soon`: the module has sessions in the coming days in this batch. A complete module can still
        hold optional sessions the digest lists, which only module-progress shows, so it is then read.
        `cached`: a cached module-progress; reused when the bulk record has not changed since it was read
        (never a locked one: a date lock opens without any progress changing; `locked_ok`: the caller knows the
        module has no date lock, so a locked copy under an unchanged record is still current).
        """
        group = (tracked.course_id, tracked.batch_id)
        answer = self.bulk.get(group)
        if answer is None:
            return None
        record = answer.learner(learner_id)
        if record is None:
            return Skip.NOT_ENROLLED if answer.whole else None
        if record.module_complete(tracked.module_id) and not sessions_soon:
            return Skip.COMPLETE
        seen = self.unchanged_since.get(group, {}).get(learner_id)
        if cached is not None and (locked_ok or not cached.locked) and seen is not None:
            fingerprint, since = seen
            if fingerprint == record.fingerprint and cached.fetched_at.astimezone(UTC) >= since:
                return Skip.UNCHANGED
        return None


@dataclass
class _Disagreement:
    learner_id: str
    module_id: str | None
    what: str


class BulkReads:
    def __init__(
        self,
        cache: LmsCache,
        *,
        mode: BulkMode = BulkMode.AUTO,
        recheck_hours: float = 24.0,
        sample_size: int = 5,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.cache = cache
        self.mode = mode
        self.recheck = timedelta(hours=recheck_hours)
        self.sample_size = sample_size
        self._clock = clock
        # Per cache key: (row version, what was decoded from it), for the answers every sweep reads again.
        self._kept: dict[str, tuple[int, Any]] = {}

    def now(self) -> datetime:
        if self._clock is not None:
            return self._clock()
        return datetime.fromtimestamp(self.cache.clock(), UTC)

    # --- the verdict -----------------------------------------------------------------------------------------

    async def verdict(self, team_id: str) -> BulkVerdict | None:
        """The stored verdict (None: never checked); with ZOHO_BULK_READS=off, always off."""
        if self.mode is BulkMode.OFF:
            return BulkVerdict(
                on=False, kind="disabled", reason="turned off (ZOHO_BULK_READS=off)", checked_at=self.now()
            )
        stored = await self.cache.store.get(verdict_key(team_id))
        if stored is None:
            return None
        try:
            return BulkVerdict.model_validate(stored[0])
        except ValidationError:
            return None

    def due(self, verdict: BulkVerdict | None) -> bool:
        if self.mode is BulkMode.OFF:
            return False
        if verdict is None:
            return True
        wait = UNAVAILABLE_RETRY if verdict.kind in ("unavailable", "no-sample") else self.recheck
        return self.now() - verdict.checked_at.astimezone(UTC) >= min(wait, self.recheck)

    def expired(self, verdict: BulkVerdict | None) -> bool:
        """Due for its check, and by more than a second re-check period: no longer relied on until checked (a
        verdict that is only due still stands until the next bulk read, which the check then shares)."""
        if not self.due(verdict):
            return False
        if verdict is None or not verdict.on:
            return True
        return self.now() - verdict.checked_at.astimezone(UTC) >= 2 * self.recheck

    async def ensure(
        self,
        team_id: str,
        zoho: ZohoClient,
        tracked: Sequence[TrackedModuleRef],
        learner_ids: Sequence[str],
        *,
        read_module: ModuleReader | None = None,
        muted: Mapping[str, Collection[int]] | None = None,
        fresh_for: float | None = None,
    ) -> BulkVerdict | None:
        """The verdict, verified first when none is stored or the last check is older than the re-check period.

        `fresh_for`: the caller can do with bulk answers this old. A verdict in favour that is due but not
        `expired` is then checked only once the answers in hand are older than that: the check reads every
        page afresh, so it waits for the read the caller would make anyway instead of adding one."""
        current = await self.verdict(team_id)
        if not self.due(current):
            return current
        if fresh_for is not None and current is not None and current.on and not self.expired(current):
            groups = _groups([t for t in tracked if t.module_id])
            if all([await self._at_hand(team_id, group, fresh_for) is not None for group in groups]):
                return current
        return await self.verify(team_id, zoho, tracked, learner_ids, read_module=read_module, muted=muted)

    async def verify(
        self,
        team_id: str,
        zoho: ZohoClient,
        tracked: Sequence[TrackedModuleRef],
        learner_ids: Sequence[str],
        *,
        read_module: ModuleReader | None = None,
        muted: Mapping[str, Collection[int]] | None = None,
    ) -> BulkVerdict:
        """Read the bulk answer for every tracked course, compare a sample of learners with module-progress,
        store and return the verdict. `muted`: tracked module ids per learner that are never read for them."""
        now = self.now()
        modules = [t for t in tracked if t.module_id]
        groups = _groups(modules)
        try:
            bulk = {group: (await self._read(team_id, zoho, group))[0] for group in groups}
        except ProtocolError as exc:  # a bulk shape we cannot read, or an answer refused at the edge (HTML, …)
            return await self._store(team_id, _off("unreadable", f"answer could not be read ({exc.message})", now))
        except LMSError as exc:
            return await self._store(team_id, _off("unavailable", f"could not be checked ({exc.message})", now))
        sample = self._sample(learner_ids, modules, bulk, now)
        if not sample or not modules:
            return await self._store(team_id, _off("no-sample", "no linked learners to check it against yet", now))
        reader = read_module or _direct_reader(zoho)
        pairs = claims = 0
        for learner_id in sample:
            for module in modules:
                if muted is not None and module.id in muted.get(learner_id, ()):
                    continue
                try:
                    truth = await reader(module, learner_id)
                except LMSError as exc:
                    return await self._store(team_id, _off("unavailable", f"could not be checked ({exc.message})", now))
                record = bulk[(module.course_id, module.batch_id)]
                pairs += 1
                found, claimed = _compare(record, module, learner_id, truth)
                claims += claimed
                if found is not None:
                    where = f"learner {found.learner_id}" + (f" module {found.module_id}" if found.module_id else "")
                    verdict = BulkVerdict(
                        on=False,
                        kind="disagreed",
                        reason=f"disagreed with module-progress on {where} ({found.what})",
                        checked_at=now,
                        learners=len(sample),
                        pairs=pairs,
                        learner_id=found.learner_id,
                        module_id=found.module_id,
                        sample=tuple(sample),
                    )
                    return await self._store(team_id, verdict)
        if claims == 0:
            return await self._store(
                team_id, _off("no-sample", "the answer said nothing that could be checked", now, len(sample), pairs)
            )
        verdict = BulkVerdict(
            on=True,
            kind="agreed",
            reason=f"agreed with module-progress on {len(sample)} learners",
            checked_at=now,
            learners=len(sample),
            pairs=pairs,
            sample=tuple(sample),
        )
        return await self._store(team_id, verdict)

    async def disagreed(self, team_id: str, kind: VerdictKind, reason: str) -> BulkVerdict:
        """Turn bulk reads off for the account now (e.g. a later answer could not be read)."""
        return await self._store(team_id, _off(kind, reason, self.now()))

    # --- the prefilter ---------------------------------------------------------------------------------------

    async def prefilter(
        self,
        team_id: str,
        zoho: ZohoClient,
        tracked: Sequence[TrackedModuleRef],
        *,
        max_age: float = 0.0,
        cached_only: bool = False,
    ) -> Prefilter | None:
        """This sweep's bulk answers as skip decisions, or None while bulk reads are off for the account.

        `max_age`: a bulk answer read this recently (by the check, or an earlier sweep) is used as it is, like
        any cached LMS answer, so frequent sweeps do not re-read every page. An answer that cannot be read turns
        bulk reads off (status says why) and returns None: read module by module. `cached_only`: no LMS call;
        None unless every answer is at hand, at most `max_age` old.
        """
        verdict = await self.verdict(team_id)
        if verdict is None or not verdict.on:
            return None
        groups = _groups([t for t in tracked if t.module_id])
        if cached_only:
            at_hand = {group: await self._at_hand(team_id, group, max_age) for group in groups}
            if any(v is None for v in at_hand.values()):
                return None
            read = {group: v for group, v in at_hand.items() if v is not None}
        else:
            try:
                read = {group: await self._read(team_id, zoho, group, max_age) for group in groups}
            except ProtocolError as exc:  # a bulk shape we cannot read, or an answer refused at the edge (HTML, …)
                await self.disagreed(team_id, "unreadable", f"answer could not be read ({exc.message})")
                return None
            except LMSError as exc:
                log.info("bulk progress unavailable for %s: %s", team_id, exc)
                return None  # this sweep reads module by module; the verdict stands
        bulk = {group: answer for group, (answer, _) in read.items()}
        seen = {group: await self._seen(team_id, group) for group in groups}
        return Prefilter(verdict, bulk, seen, {group: at for group, (_, at) in read.items()})

    # --- plumbing --------------------------------------------------------------------------------------------

    async def _read(
        self, team_id: str, zoho: ZohoClient, group: Group, max_age: float = 0.0
    ) -> tuple[BulkProgress, datetime]:
        loaded = False
        unreadable: ProtocolError | None = None

        async def load() -> BulkProgress:
            nonlocal loaded, unreadable
            loaded = True
            try:
                return await zoho.course_progress(
                    group[0], batch_id=group[1], priority=Priority.BACKGROUND, max_wait=None
                )
            except ProtocolError as exc:
                unreadable = exc  # the cache may answer with an old copy; the verdict must still hear of it
                raise

        # max_age 0 means read now, even within the same second as the copy in the cache.
        fresh_enough = max_age if max_age > 0 else -1.0
        key = _answer_key(team_id, group)
        store = self.cache.store
        if isinstance(store, LmsCacheRepository):  # the copy decoded before, unless it changed (storage/versions.py)
            head = await store.head(key)
            known = self._kept.get(key)
            now = datetime.fromtimestamp(self.cache.clock(), UTC)
            fresh = head is not None and (now - head[0]).total_seconds() <= fresh_enough
            if head is not None and fresh and known is not None and known[0] == head[1]:
                metrics.cache_lookup("hit")  # as LmsCache.fetch counts a fresh copy
                kept_answer: tuple[BulkProgress, datetime] = known[1]  # as `_decode_answer` gives it
                return kept_answer
            entry = await store.get_versioned(key)
            cached = (entry[0], entry[1]) if entry is not None else None
            answer, freshness = await self.cache.fetch_read(key, cached, load, ANSWER, max_age=fresh_enough)
            if entry is not None and not loaded and not freshness.stale:
                self._kept[key] = (entry[2], (answer, freshness.fetched_at.astimezone(UTC)))
        else:
            answer, freshness = await self.cache.fetch(key, load, ANSWER, max_age=fresh_enough)
        if freshness.stale:
            if unreadable is not None:
                raise unreadable
            raise LMSError(freshness.reason or "the LMS did not answer")  # an old copy proves nothing
        if loaded:  # what "unchanged since the last read" compares with next time
            before = await self._seen(team_id, group)
            now = self.now()
            seen = {}
            for learner_id, record in answer.learners.items():
                fingerprint = record.fingerprint
                kept = before.get(learner_id)
                seen[learner_id] = [fingerprint, (kept[1] if kept and kept[0] == fingerprint else now).isoformat()]
            await self.cache.store.put(_reads_key(team_id, group), seen)
        return answer, freshness.fetched_at.astimezone(UTC)

    async def _at_hand(self, team_id: str, group: Group, max_age: float) -> tuple[BulkProgress, datetime] | None:
        cached = await self._decoded(_answer_key(team_id, group), _decode_answer)
        if cached is None:
            return None
        answer, fetched_at = cached
        return (answer, fetched_at) if (self.now() - fetched_at).total_seconds() <= max_age else None

    async def _seen(self, team_id: str, group: Group) -> dict[str, tuple[str, datetime]]:
        return await self._decoded(_reads_key(team_id, group), _decode_seen)

    async def _decoded(self, key: str, decode: Callable[[tuple[Any, datetime] | None], T]) -> T:
        """`decode(store.get(key))`, kept per row version: a whole course's answer is decoded once per change,
        not once per sweep. Callers treat what it returns as read-only."""
        store = self.cache.store
        if not isinstance(store, LmsCacheRepository):
            return decode(await store.get(key))
        head = await store.head(key)
        kept = self._kept.get(key)
        if head is not None and kept is not None and kept[0] == head[1]:
            return kept[1]  # type: ignore[no-any-return]
        entry = await store.get_versioned(key)
        value = decode((entry[0], entry[1]) if entry is not None else None)
        if entry is not None:
            self._kept[key] = (entry[2], value)
        return value

    async def _store(self, team_id: str, verdict: BulkVerdict) -> BulkVerdict:
        await self.cache.store.put(verdict_key(team_id), verdict.model_dump(mode="json"))
        log.info("Zoho bulk reads for %s: %s", team_id, verdict.line())
        return verdict

    def _sample(
        self,
        learner_ids: Sequence[str],
        modules: Sequence[TrackedModuleRef],
        bulk: dict[Group, BulkProgress],
        now: datetime,
    ) -> list[str]:
        """Up to `sample_size` learners, mixing those the prefilter would skip as complete, as not enrolled,
        and the rest; the order changes every day so re-checks look at other people."""
        salt = now.date().isoformat()
        ordered = sorted(set(learner_ids), key=lambda lid: hashlib.sha256(f"{salt}:{lid}".encode()).hexdigest())
        buckets: dict[str, list[str]] = {"complete": [], "absent": [], "other": []}
        for learner_id in ordered:
            records = [bulk[(m.course_id, m.batch_id)].learner(learner_id) for m in modules]
            if any(r is not None and r.module_complete(m.module_id) for r, m in zip(records, modules, strict=True)):
                buckets["complete"].append(learner_id)
            elif any(r is None for r in records):
                buckets["absent"].append(learner_id)
            else:
                buckets["other"].append(learner_id)
        picked: list[str] = []
        while len(picked) < self.sample_size and any(buckets.values()):
            for bucket in buckets.values():
                if bucket and len(picked) < self.sample_size:
                    picked.append(bucket.pop(0))
        return picked


def _groups(modules: Sequence[TrackedModuleRef]) -> list[Group]:
    return sorted({(m.course_id, m.batch_id) for m in modules}, key=lambda g: (g[0], g[1] or ""))


def _off(kind: VerdictKind, reason: str, now: datetime, learners: int = 0, pairs: int = 0) -> BulkVerdict:
    return BulkVerdict(on=False, kind=kind, reason=reason, checked_at=now, learners=learners, pairs=pairs)


def _direct_reader(zoho: ZohoClient) -> ModuleReader:
    async def read(tracked: TrackedModuleRef, learner_id: str) -> ModuleProgress | None:
        try:
            return await zoho.module_progress(
                tracked.course_id,
                tracked.module_id,
                learner_id,
                batch_id=tracked.batch_id,
                priority=Priority.BACKGROUND,
                max_wait=None,
            )
        except NotFoundError:
            return None

    return read


def _compare(
    answer: BulkProgress, tracked: TrackedModuleRef, learner_id: str, truth: ModuleProgress | None
) -> tuple[_Disagreement | None, int]:
    """Whether the bulk answer agrees with module-progress for one (learner, module); and how many claims it
    made there that were checked (0 when it said nothing about them)."""
    module_id = tracked.module_id
    record = answer.learner(learner_id)
    if truth is None:
        if record is not None:
            return _Disagreement(learner_id, module_id, "listed, but module-progress says not enrolled"), 1
        return None, 1 if answer.whole else 0
    if record is None:
        if answer.whole:
            return _Disagreement(learner_id, module_id, "not listed, but module-progress shows them enrolled"), 1
        return None, 0
    claims = 1 if answer.whole else 0  # "enrolled" agrees: what NOT_ENROLLED decisions rest on
    done = not truth.is_locked and not truth.pending_mandatory
    said = record.module_complete(module_id)
    if said is not None:
        claims += 1
        if said != done:
            words = "complete" if said else "not complete"
            return _Disagreement(learner_id, module_id, f"it said {words}, module-progress says otherwise"), claims
    status = record.module(module_id)
    if status is not None and status.pending is not None and not truth.is_locked:
        claims += 1
        pending = {e.entity_id for e in truth.pending_mandatory}
        if set(status.pending) != pending:
            return _Disagreement(learner_id, module_id, "the pending items differ"), claims
    return None, claims
