"""The LMS as a sweep reads it: through the shared cache, at background priority, each answer fetched once.

- Every call is `Priority.BACKGROUND` with no wait limit, so sweeps wait for budget and leave the limiter's
  interactive reserve to people.
- Answers go through the same cache keys as `/lms progress` and App Home, so whichever surface asked last
  saves the others a call.
- When the LMS reports a lock, the limiter pauses that endpoint; the call is tried once more, which waits for
  the lock to end, so the sweep resumes instead of failing. A spent daily budget is not waited for (it frees
  up over hours): the learner is left for a later sweep.
- When the LMS is down, a cached copy up to `max_stale_seconds` old is used; beyond that the caller learns
  the data is unavailable and leaves the learner for a later sweep.
- A call that used up its whole deadline (a stalling or trickling server) is not tried again this sweep on
  that endpoint (on any endpoint, when it was the token request): later learners fall back to the cache or
  wait for the next sweep at once, instead of each waiting out the deadline again.
- All of a workspace's LMS reads in one sweep end after `workspace_lms_seconds`: what is left waits for the
  next sweep, which is then not held up either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from bot.lms import ispring as ispring_api
from bot.lms import zoho as zoho_api
from bot.lms.errors import DailyBudgetExhaustedError, DeadlineExceededError, LMSError, NotFoundError, RateLimitedError
from bot.lms.factory import LmsClients
from bot.lms.ispring_models import CourseModule, ModuleResult, ResultsFilter
from bot.lms.ratelimit import Priority
from bot.lms.tokens import TOKEN_ENDPOINT
from bot.lms.zoho_models import LockType, Module, ModuleProgress, Session
from bot.reminders.facts import MISSING, UNKNOWN_VERSION, FactsMemo, ProgressFacts, facts_of
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.services.bulk_reads import BulkReads, CachedRead, Prefilter, Skip
from bot.services.cache import CacheStore, Codec, LmsCache, decode, plain_reason
from bot.services.cached_answers import CachedAnswer
from bot.services.lms_queries import (
    ABSENT_MAX_AGE,
    FLAG,
    MODULE,
    PROGRESS,
    RESULTS,
    SESSIONS,
    absent_key,
    module_key,
    progress_key,
    sessions_key,
)
from bot.services.types import TrackedModuleRef

T = TypeVar("T")
log = logging.getLogger(__name__)
ABSENT = ":absent"  # what `absent_key` adds to the module's `progress_key`
MODULES = Codec[list[Module]](list[Module])
COURSE_MODULES = Codec[list[CourseModule]](list[CourseModule])


class SnapshotStore:
    """A workspace's cached answers for the learners in hand, read a batch at a time (`load`: one query for a
    batch's keys), so a sweep over 10,000 learners holds one batch's answers, never the whole workspace's.

    With a `FactsMemo`, `load(keys, answers=False)` reads only the keys' versions; `derived` serves the facts of
    an answer the memo has seen at that version, so an unchanged answer is neither read nor decoded again. The
    answers the memo has no facts of are read when first asked for (all of the batch's at once), not at `load`:
    a sweep phase looks at only some of them. Versions are read once a sweep (the first `load` that holds a
    key): the phases of one sweep hold the same learners several times, and what the sweep writes itself is
    marked (`put`), so a later phase derives it afresh; what another process writes meanwhile is seen by the
    next sweep. A "not enrolled" flag (`absent_key`) is asked for only when its module has no answer, so its
    version is read only for those.

    A key outside the loaded batch (a workspace-wide answer: module settings, sessions) is read from the store
    on its own. Writes go through to the shared store, so `/lms progress` and App Home see them at once.
    """

    def __init__(
        self,
        store: CacheStore,
        read_many: Callable[[Sequence[str]], Awaitable[Mapping[str, CachedAnswer]]],
        clock: Callable[[], datetime],
        *,
        versions: Callable[[Sequence[str]], Awaitable[Mapping[str, int]]] | None = None,
        memo: FactsMemo | None = None,
    ) -> None:
        self.store = store
        self.read_many = read_many
        self.versions = versions
        self.memo = memo
        self.clock = clock
        self.rows: dict[str, tuple[Any, datetime]] = {}
        self.versions_of: dict[str, int] = {}  # every loaded key that has an answer: its version
        self._loaded: frozenset[str] = frozenset()
        self._unread: set[str] = set()  # loaded keys whose answers the memo has no facts of, not read yet
        self._seen: dict[str, int | None] = {}  # this sweep: each key's version as first read (None: no answer)
        # This sweep's batches as held (keys -> what they held), until the sweep writes: phases hold the same ones.
        self._batches: dict[tuple[str, ...], tuple[frozenset[str], dict[str, int]]] = {}

    async def load(self, keys: Sequence[str], *, answers: bool = True) -> None:
        """Hold these keys' answers (and forget the previous batch's). `answers=False`: the versions only; the
        answers the memo has no facts of are read when first asked for."""
        self.rows, self.versions_of, self._loaded, self._unread = {}, {}, frozenset(), set()  # the last batch goes
        if answers or self.memo is None or self.versions is None:
            found = await self.read_many(keys)
            for key in keys:
                if key not in found and (before := self._seen.get(key, MISSING)) is not None:
                    self._seen[key] = None
                    if before is not MISSING:  # gone since a batch held it
                        self._batches.clear()
            self._hold(found)
            self._loaded = frozenset(keys)
            return
        memo = self.memo
        batch = tuple(keys)
        again = self._batches.get(batch)
        if again is not None:  # held before in this sweep, nothing written since: as then
            self._loaded, versions = again
            self.versions_of = dict(versions)
            self._unread = {key for key, version in versions.items() if not memo.has(key, version)}
            return
        held = [key for key in keys if not key.endswith(ABSENT)]
        await self._versions([key for key in held if key not in self._seen])
        flags = [key for key in keys if key.endswith(ABSENT) and self._seen.get(key[: -len(ABSENT)]) is None]
        await self._versions([key for key in flags if key not in self._seen])
        held += flags
        seen = self._seen
        self.versions_of = {key: version for key in held if (version := seen[key]) is not None}
        self._unread = {key for key, version in self.versions_of.items() if not memo.has(key, version)}
        self._loaded = frozenset(held)
        self._batches[batch] = (self._loaded, dict(self.versions_of))

    async def _versions(self, keys: Sequence[str]) -> None:
        assert self.versions is not None
        if keys:
            found = await self.versions(keys)
            self._seen.update((key, found.get(key)) for key in keys)

    def _hold(self, found: Mapping[str, CachedAnswer]) -> None:
        for key, answer in found.items():
            self.rows[key] = (answer.payload, answer.fetched_at)
            self.versions_of[key] = answer.version
            if self._seen.get(key) != answer.version:  # newer than the batch held: held differently from now on
                self._seen[key] = answer.version
                self._batches.clear()

    async def get(self, key: str) -> tuple[Any, datetime] | None:
        if key in self._unread:  # the first answer asked for that the memo had no facts of: all of them, now
            unread, self._unread = sorted(self._unread), set()
            self._hold(await self.read_many(unread))
        if key in self.rows:
            return self.rows[key]
        if key in self._loaded:
            if key not in self.versions_of:
                return None  # read with the batch: nothing cached
            entry = await self.store.get(key)  # its facts were known: the answer itself was not read
            if entry is not None:
                self.rows[key] = entry
            return entry
        return await self.store.get(key)

    def version_of(self, key: str) -> int | None:
        """The version of `key`'s answer in the batch (None: no answer; UNKNOWN_VERSION for a key outside the
        batch or written in this sweep)."""
        if key not in self._loaded:
            return UNKNOWN_VERSION
        return self.versions_of.get(key)

    async def derived(self, key: str, derive: Callable[[tuple[Any, datetime] | None], T]) -> T:
        """`derive(get(key))`, from the memo when this version of the answer was seen before."""
        version = self.versions_of.get(key)
        if self.memo is None or key not in self._loaded or version is None:
            return derive(await self.get(key))
        known = self.memo.get(key, version)
        if known is not MISSING:
            return known  # type: ignore[no-any-return]
        entry = await self.get(key)
        value = derive(entry)
        self.memo.put(key, self.versions_of.get(key, version), value)  # the version read, if it was read now
        return value

    async def put(self, key: str, payload: Any) -> None:
        await self.store.put(key, payload)
        self._seen[key] = UNKNOWN_VERSION  # not read back: facts are derived afresh, in this batch and later ones
        self._unread.discard(key)
        self._batches.clear()
        if key in self._loaded:
            self.rows[key] = (payload, self.clock())
            self.versions_of[key] = UNKNOWN_VERSION


def _course_modules_key(team_id: str, tracked: TrackedModuleRef) -> str:
    return f"{team_id}:zoho:modules:{tracked.course_id}:{tracked.batch_id or '-'}"


def _progress_facts(entry: tuple[Any, datetime] | None) -> ProgressFacts | None:
    decoded = decode(entry, PROGRESS)
    return facts_of(decoded[0], decoded[1].fetched_at) if decoded else None


def _flag_time(entry: tuple[Any, datetime] | None) -> datetime | None:
    """When a flag (e.g. "not enrolled") was stored; None: none (or an unreadable one)."""
    decoded = decode(entry, FLAG)
    return decoded[1].fetched_at if decoded else None


class Unavailable(Exception):
    """The LMS could not answer and no usable cached copy exists; the message says why in plain words."""


@dataclass(frozen=True, slots=True)
class Progress:
    value: ModuleProgress
    fetched_at: datetime

    @property
    def complete(self) -> bool:
        return not self.value.is_locked and not self.value.pending_mandatory

    @property
    def is_locked(self) -> bool:
        return self.value.is_locked

    @property
    def facts(self) -> ProgressFacts:
        return facts_of(self.value, self.fetched_at)


class LmsReader:
    """One workspace's LMS data for one sweep."""

    def __init__(
        self,
        team_id: str,
        lms: LmsClients,
        cache: LmsCache,
        config: ReminderConfig,
        report: SweepReport,
        now: Callable[[], datetime],
    ) -> None:
        self.team_id = team_id
        self.lms = lms
        self.cache = cache
        self.config = config
        self.report = report
        self.now = now
        self._shared: dict[str, asyncio.Task[Any]] = {}  # per-sweep: one fetch per key however many ask
        # (provider, endpoint) -> the deadline failure that closed it for the rest of this sweep;
        # endpoint "token": the whole provider.
        self._stalled: dict[tuple[str, str], DeadlineExceededError] = {}
        # LMS reads for this workspace end by then (loop time), so no LMS — not even one paging without end
        # within the page cap — keeps the sweep, and every sweep after it, waiting.
        self._reads_end = asyncio.get_running_loop().time() + config.workspace_lms_seconds
        self._bulk: tuple[BulkReads, dict[str, frozenset[int]], list[TrackedModuleRef]] | None = None
        self._prefilter: asyncio.Task[Prefilter | None] | None = None
        self._prefilter_age: float | None = None  # the bulk age the prefilter in hand was read for
        self._at_hand: asyncio.Task[Prefilter | None] | None = None  # digests at send time: no check, no read
        self._known: dict[str, list[Module] | None] = {}  # course orders as cached, peeked once a sweep
        self._known_settings: dict[str, Module | None] = {}  # module settings likewise

    # --- bulk reads (ZOHO_BULK_READS): skip module-progress calls a verified bulk answer settles -------------

    def use_bulk(
        self, service: BulkReads, learners: Mapping[str, frozenset[int]], tracked: Sequence[TrackedModuleRef]
    ) -> None:
        """Allow `bulk_skip` (learners: Zoho learner id -> muted tracked ids, never read for the check);
        nothing is read until a learner actually needs a module-progress call."""
        self._bulk = (service, dict(learners), list(tracked))

    async def bulk_skip(
        self,
        tracked: TrackedModuleRef,
        learner_id: str,
        cached: Progress | ProgressFacts | None,
        *,
        max_age: float | None = None,
        bulk_age: float | None = None,
        locked_ok: bool = False,
        at_send: bool = False,
    ) -> Skip | None:
        """Why the module-progress call for this learner and module is not needed; None: make it.

        `max_age`: a cached copy this young is used as it is (default `fresh_seconds`), exactly as the
        module-by-module path would, so no bulk answer is consulted for it. `bulk_age`: how old the bulk
        answer may be (default `max_age`); an older one is read again, at most once per sweep and caller need.
        `locked_ok`: the module has no date lock (see `Prefilter.decision`); a module whose settings say it is
        locked until the one before it is done counts as such without it. `at_send`: a digest at its send time,
        which does not wait for the LMS: no check and no bulk read then (the check's module-progress calls would
        hold the endpoint the digest's own reads need), only a current verdict and a bulk answer already at hand."""
        if self._bulk is None:
            return None
        fresh = self.config.fresh_seconds if max_age is None else max_age
        if cached is not None and self._age(cached.fetched_at) <= fresh:
            return None  # a fresh copy costs no call, and is exactly what the module-by-module path would use
        wanted = fresh if bulk_age is None else bulk_age
        prefilter = await (self._at_hand_for(wanted) if at_send else self._prefilter_for(wanted))
        if prefilter is None:
            return None
        if cached is not None and cached.is_locked and not locked_ok:
            locked_ok = await self._unlocks_with_previous(tracked)
        # Only a record that shows the module complete asks about sessions (a list read at most hourly).
        soon = prefilter.says_complete(tracked, learner_id) and await self._sessions_soon(tracked)
        return prefilter.decision(
            tracked,
            learner_id,
            cached=CachedRead(cached.is_locked, cached.fetched_at) if cached is not None else None,
            sessions_soon=soon,
            locked_ok=locked_ok,
        )

    async def _unlocks_with_previous(self, tracked: TrackedModuleRef) -> bool:
        """The module is locked only until the one before it is done (its settings as last read): its lock opens
        only by a change the learner's bulk record shows, so a locked copy under an unchanged record is current."""
        settings = await self.known_module(tracked)
        return settings is not None and settings.lock_type is LockType.UNTIL_PREVIOUS_COMPLETED

    @property
    def bulk_on(self) -> bool:
        """Bulk reads may settle pairs in this sweep (allowed, and not found off or unavailable yet)."""
        if self._bulk is None:
            return False
        return not (self._prefilter is not None and self._prefilter.done() and self._prefilter.result() is None)

    async def bulk_ready(self, bulk_age: float) -> bool:
        """Have this sweep's bulk answers at most `bulk_age` old (read now if need be); False: bulk reads are off
        or unavailable, read module by module."""
        return self.bulk_on and await self._prefilter_for(bulk_age) is not None

    def bulk_as_of(self, tracked: TrackedModuleRef) -> datetime | None:
        """When the bulk answer this sweep's decisions for the module rest on was read (None: none in use)."""
        for task in (self._prefilter, self._at_hand):
            prefilter = task.result() if task is not None and task.done() else None
            if prefilter is not None and prefilter.as_of(tracked) is not None:
                return prefilter.as_of(tracked)
        return None

    async def _prefilter_for(self, bulk_age: float) -> Prefilter | None:
        """This sweep's prefilter, its answers at most `bulk_age` old: read again when the one in hand is older
        (an unavailable or refused one is not asked for again this sweep)."""
        if self._prefilter is not None:
            prefilter = await asyncio.shield(self._prefilter)
            oldest = prefilter.oldest if prefilter is not None else None
            if prefilter is None or oldest is None or self._age(oldest) <= bulk_age:
                return prefilter
            if self._prefilter_age is not None and self._prefilter_age <= bulk_age:
                return prefilter  # read for a need at least this strict already
        if self._prefilter is None or self._prefilter.done():
            self._prefilter_age = bulk_age
            self._prefilter = asyncio.ensure_future(self._load_prefilter(bulk_age))
        return await asyncio.shield(self._prefilter)

    async def _at_hand_for(self, bulk_age: float) -> Prefilter | None:
        if self._prefilter is not None and self._prefilter.done():
            prefilter = self._prefilter.result()
            oldest = prefilter.oldest if prefilter is not None else None
            if prefilter is None or (oldest is not None and self._age(oldest) <= bulk_age):
                return prefilter
        if self._at_hand is None:
            self._at_hand = asyncio.ensure_future(self._load_at_hand(bulk_age))
        return await asyncio.shield(self._at_hand)

    async def _load_at_hand(self, bulk_age: float) -> Prefilter | None:
        assert self._bulk is not None
        service, _, tracked = self._bulk
        try:
            verdict = await service.verdict(self.team_id)
            if verdict is None or not verdict.on or service.expired(verdict):
                return None
            return await service.prefilter(self.team_id, self.lms.zoho, tracked, max_age=bulk_age, cached_only=True)
        except Exception as exc:  # noqa: BLE001 - bulk reads are an optimisation: module by module instead
            log.warning("bulk reads unavailable for %s this sweep: %s", self.team_id, exc)
            return None

    def bulk_covers(self, max_age: float) -> bool:
        """This sweep's bulk answers in hand were all read at most `max_age` ago (False: none in hand)."""
        prefilter = self._prefilter.result() if self._prefilter is not None and self._prefilter.done() else None
        oldest = prefilter.oldest if prefilter is not None else None
        return oldest is not None and self._age(oldest) <= max_age

    def bulk_complete(self, tracked: TrackedModuleRef, learner_id: str) -> bool | None:
        """Whether this sweep's bulk answer in hand shows the module complete for the learner (None: it does not
        say, or none is in hand)."""
        prefilter = self._prefilter.result() if self._prefilter is not None and self._prefilter.done() else None
        record = prefilter.record(tracked, learner_id) if prefilter is not None else None
        return record.module_complete(tracked.module_id) if record is not None else None

    def bulk_module_name(self, tracked: TrackedModuleRef, learner_id: str) -> str | None:
        record = None
        for task in (self._prefilter, self._at_hand):
            prefilter = task.result() if task is not None and task.done() else None
            record = record or (prefilter.record(tracked, learner_id) if prefilter is not None else None)
        status = record.module(tracked.module_id) if record is not None else None
        return status.name if status is not None else None

    async def _load_prefilter(self, bulk_age: float) -> Prefilter | None:
        assert self._bulk is not None
        service, learners, tracked = self._bulk
        try:
            verdict = await service.ensure(
                self.team_id,
                self.lms.zoho,
                tracked,
                sorted(learners),
                read_module=self._verification_read,
                muted=learners,
                fresh_for=bulk_age,
            )
            if verdict is None or not verdict.on:
                return None
            return await service.prefilter(self.team_id, self.lms.zoho, tracked, max_age=bulk_age)
        except Exception as exc:  # noqa: BLE001 - bulk reads are an optimisation: module by module instead
            log.warning("bulk reads unavailable for %s this sweep: %s", self.team_id, exc)
            return None

    async def _verification_read(self, tracked: TrackedModuleRef, learner_id: str) -> ModuleProgress | None:
        # Through the cache: the sample's answers serve this sweep too instead of costing calls twice.
        try:
            got = await self.progress(tracked, learner_id, max_age=self.config.fresh_seconds)
        except Unavailable as exc:
            raise LMSError(str(exc)) from exc
        return got.value if got is not None else None

    async def _sessions_soon(self, tracked: TrackedModuleRef) -> bool:
        """Sessions of this module in the coming week (a day of slack either side: the zone is not known here)."""
        if not tracked.batch_id:
            return False
        sessions = await self.sessions(tracked)
        if sessions is None:
            return True
        today = self.now().date()
        return any(
            s.start_date is None or today - timedelta(days=1) <= s.start_date <= today + timedelta(days=8)
            for s in sessions
        )

    # --- per learner ----------------------------------------------------------------------------------------

    async def peek_progress(self, tracked: TrackedModuleRef, learner_id: str) -> Progress | None:
        cached = await self.cache.peek(progress_key(self.team_id, tracked, learner_id), PROGRESS)
        return Progress(cached[0], cached[1].fetched_at) if cached else None

    async def peek_facts(self, tracked: TrackedModuleRef, learner_id: str) -> ProgressFacts | None:
        """What `peek_progress` would show, as far as the sweep's decisions go; decoded only when changed."""
        return await self._derived(progress_key(self.team_id, tracked, learner_id), _progress_facts)

    async def not_enrolled(self, tracked: TrackedModuleRef, learner_id: str) -> bool:
        """The LMS said (recently) this learner is not in the module's course or batch."""
        said = await self._derived(absent_key(self.team_id, tracked, learner_id), _flag_time)
        return said is not None and self._age(said) < ABSENT_MAX_AGE

    async def _derived(self, key: str, derive: Callable[[tuple[Any, datetime] | None], T]) -> T:
        store = self.cache.store
        if isinstance(store, SnapshotStore):
            return await store.derived(key, derive)
        return derive(await store.get(key))

    async def progress(
        self,
        tracked: TrackedModuleRef,
        learner_id: str,
        *,
        max_age: float,
        max_wait: float | None = None,
        max_stale: float | None = None,
    ) -> Progress | None:
        """The learner's progress; None when they are not enrolled. Raises Unavailable. `max_wait`: how long to
        wait for the rate limiter (None: as long as it takes); `max_stale`: how old a cached copy may be when no
        fresh answer can be had (default `max_stale_seconds`)."""
        zoho = self.lms.zoho
        loader = partial(
            zoho.module_progress,
            tracked.course_id,
            tracked.module_id,
            learner_id,
            batch_id=tracked.batch_id,
            priority=Priority.BACKGROUND,
            max_wait=max_wait,
        )
        try:
            value, fetched_at = await self._load(
                progress_key(self.team_id, tracked, learner_id),
                self._guarded("Zoho", zoho_api.Endpoint.MODULE_PROGRESS, loader),
                PROGRESS,
                max_age,
                max_stale=max_stale,
            )
        except NotFoundError:
            await self.cache.put(absent_key(self.team_id, tracked, learner_id), True, FLAG)
            return None
        return Progress(value, fetched_at)

    # --- shared by every learner of the workspace -----------------------------------------------------------

    async def module(self, tracked: TrackedModuleRef) -> Module | None:
        """The module's settings (lock type and date); None when unavailable (the digest then says less)."""
        zoho = self.lms.zoho

        async def load() -> Module:
            # ZohoClient.module takes no priority: it is one call per module per few hours, not per learner.
            return await zoho.module(tracked.course_id, tracked.module_id, batch_id=tracked.batch_id)

        return await self._optional(
            module_key(self.team_id, tracked),
            self._guarded("Zoho", zoho_api.Endpoint.SINGLE_MODULE, load),
            MODULE,
            self.config.settings_max_age_seconds,
        )

    async def known_module(self, tracked: TrackedModuleRef) -> Module | None:
        """`module` as last read, however old, read now only when it never was (None: unavailable); decoded once a
        sweep. For planning: the digest itself reads the settings again when they are older than it allows."""
        key = module_key(self.team_id, tracked)
        if key not in self._known_settings:
            cached = await self.cache.peek(key, MODULE)
            self._known_settings[key] = cached[0] if cached is not None else await self.module(tracked)
        return self._known_settings[key]

    async def known_course_modules(self, tracked: TrackedModuleRef) -> list[Module] | None:
        """`course_modules` as last read, however old, read now only when it never was (None: unavailable);
        decoded once a sweep. For planning: the digest itself reads the order again when it is due."""
        key = _course_modules_key(self.team_id, tracked)
        if key not in self._known:
            cached = await self.cache.peek(key, MODULES)
            self._known[key] = cached[0] if cached is not None else await self.course_modules(tracked)
        return self._known[key]

    async def course_modules(self, tracked: TrackedModuleRef) -> list[Module] | None:
        """The course's modules in course order (to name the module a locked one waits for)."""
        zoho = self.lms.zoho
        key = _course_modules_key(self.team_id, tracked)

        async def load() -> list[Module]:
            return await zoho.course_modules(tracked.course_id, batch_id=tracked.batch_id)

        return await self._optional(
            key,
            self._guarded("Zoho", zoho_api.Endpoint.COURSE_MODULES, load),
            MODULES,
            self.config.settings_max_age_seconds,
        )

    async def sessions(self, tracked: TrackedModuleRef) -> list[Session] | None:
        if not tracked.batch_id:
            return []
        zoho = self.lms.zoho
        loader = partial(
            zoho.module_sessions,
            tracked.course_id,
            tracked.batch_id,
            tracked.module_id,
            priority=Priority.BACKGROUND,
            max_wait=None,
        )
        return await self._optional(
            sessions_key(self.team_id, tracked),
            self._guarded("Zoho", zoho_api.Endpoint.MODULE_SESSIONS, loader),
            SESSIONS,
            self.config.fresh_seconds,
        )

    async def ispring_course_modules(self, course_id: str) -> list[CourseModule] | None:
        """One iSpring course's modules (for the `viewUrl` iSpring gives each), cached like module settings;
        None when iSpring could not say (the digest then falls back to REMINDER_ISPRING_ITEM_URL)."""
        ispring = self.lms.ispring
        key = f"{self.team_id}:ispring:course-modules:{course_id}"

        async def load() -> list[CourseModule]:
            return await ispring.course_modules(course_id, priority=Priority.BACKGROUND, max_wait=None)

        return await self._optional(
            key,
            self._guarded("iSpring", ispring_api.Endpoint.COURSE_MODULES, load),
            COURSE_MODULES,
            self.config.settings_max_age_seconds,
        )

    async def ispring_results(self) -> list[ModuleResult]:
        """Every learner's module results in one paged request (the key `/lms results` uses unfiltered)."""
        ispring = self.lms.ispring
        flt = ResultsFilter()
        key = f"{self.team_id}:ispring:results:" + "&".join(f"{k}={v}" for k, v in sorted(flt.to_params()))

        async def load() -> list[ModuleResult]:
            return await ispring.module_results(flt, priority=Priority.BACKGROUND, max_wait=None)

        return await self._shared_load(
            key, self._guarded("iSpring", ispring_api.Endpoint.RESULTS, load), RESULTS, self.config.fresh_seconds
        )

    # --- plumbing -------------------------------------------------------------------------------------------

    def _guarded(self, provider: str, endpoint: str, loader: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
        """The loader, unless this endpoint (or the provider's token request) stalled earlier in this sweep."""

        async def guarded() -> T:
            stalled = self._stalled.get((provider, endpoint)) or self._stalled.get((provider, TOKEN_ENDPOINT))
            if stalled is not None:
                raise DeadlineExceededError(
                    f"{stalled.message} earlier in this sweep; not asked again until the next one",
                    provider=provider,
                    endpoint=endpoint,
                )
            try:
                async with asyncio.timeout_at(self._reads_end):
                    return await loader()
            except TimeoutError:  # the transport turns its own into DeadlineExceededError: this one is ours
                exc = DeadlineExceededError(
                    f"this workspace's LMS reads used up their {self.config.workspace_lms_seconds:g} s"
                    " for this sweep (REMINDER_WORKSPACE_LMS_SECONDS)",
                    provider=provider,
                    endpoint=endpoint,
                )
                self._stalled[(provider, endpoint)] = exc
                raise exc from None
            except DeadlineExceededError as exc:
                self._stalled[(provider, exc.endpoint or endpoint)] = exc
                raise

        return guarded

    async def _optional(
        self, key: str, loader: Callable[[], Awaitable[T]], codec: Codec[T], max_age: float
    ) -> T | None:
        try:
            return await self._shared_load(key, loader, codec, max_age)
        except (Unavailable, LMSError):
            return None

    async def _shared_load(self, key: str, loader: Callable[[], Awaitable[T]], codec: Codec[T], max_age: float) -> T:
        task = self._shared.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key, loader, codec, max_age))
            self._shared[key] = task
        value, _ = await asyncio.shield(task)
        return value  # type: ignore[no-any-return]

    async def _load(
        self,
        key: str,
        loader: Callable[[], Awaitable[T]],
        codec: Codec[T],
        max_age: float,
        *,
        max_stale: float | None = None,
    ) -> tuple[T, datetime]:
        called = False

        async def counted() -> T:
            nonlocal called
            called = True
            self.report.lms_calls += 1
            return await loader()

        for attempt in (1, 2):
            try:
                value, freshness = await self.cache.fetch(key, counted, codec, max_age=max_age)
            except RateLimitedError as exc:
                if attempt == 1 and not isinstance(exc, DailyBudgetExhaustedError):
                    # The LMS locked the endpoint and the limiter now holds it closed: the second try waits
                    # for the lock to end (every other caller of that endpoint waits too), then resumes.
                    self.report.lock_retries += 1
                    continue
                raise Unavailable(plain_reason(exc)) from exc
            except NotFoundError:
                raise
            except LMSError as exc:
                raise Unavailable(exc.message if exc.provider is None else f"{exc.provider}: {exc.message}") from exc
            stale_limit = self.config.max_stale_seconds if max_stale is None else max_stale
            if freshness.stale and self._age(freshness.fetched_at) > stale_limit:
                raise Unavailable(freshness.reason or "the LMS did not answer")
            if not called:
                self.report.cache_hits += 1
            return value, freshness.fetched_at
        raise AssertionError("unreachable")  # pragma: no cover

    def _age(self, fetched_at: datetime) -> float:
        return (self.now() - fetched_at.astimezone(UTC)).total_seconds()
