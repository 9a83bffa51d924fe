"""Phase 2 of the sweep, and the whole of a tick-off: recent digests re-checked from the cache and edited in
place (chat.update) when items in them got done; a "now unlocked" note when a module they told was locked opens.

First, within a small budget, the modules sent digests still show pending are re-read (bot/reminders/rereads.py).
A digest whose row and answers are as an earlier sweep found them, with nothing to tick off then, is not decoded
again (bot/reminders/inplace.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.lms.ispring_models import ModuleResult
from bot.lms.zoho_models import LockType
from bot.reminders import schedule
from bot.reminders.collect import Learner
from bot.reminders.delivery import Delivery
from bot.reminders.entries import ispring_key
from bot.reminders.facts import UNKNOWN_VERSION, ProgressFacts
from bot.reminders.inplace import Batches, CheckKey, Seen, SentMemo, SentRow, SentSummary, Shared, summarize
from bot.reminders.report import SweepReport
from bot.reminders.rereads import Rereads
from bot.reminders.team import Team
from bot.reminders.types import Digest, DigestEntry, EntryKind, Outgoing, Renderer, UnlockedNotice
from bot.services.lms_queries import progress_key
from bot.services.sent_log import SentLog, SentReminder


class UpdatePhase:
    def __init__(
        self, renderer: Renderer, delivery: Delivery, sent_log: SentLog, memo: SentMemo, rereads: Rereads
    ) -> None:
        self.renderer = renderer
        self.delivery = delivery
        self.sent_log = sent_log
        self.memo = memo  # its `shared` values are started afresh now and then: read it each time
        self.rereads = rereads

    async def run(
        self,
        team: Team,
        batches: Batches,
        report: SweepReport,
        *,
        dry_run: bool,
        now: datetime,
        refresh: bool = True,
    ) -> None:
        """Tick done items off the sent digests in place and tell about unlocked modules, a batch of learners at a
        time (`batches` gives each learner's rows in one batch). `refresh`: re-read what they show pending first."""
        if refresh and not dry_run:
            await self.rereads.run(team, batches, self._listed, now)
        async for rows in batches():
            sent = await self._sent_digests(team, rows)
            if not sent.rows:
                continue
            await team.focus(team.learners[row.slack_user_id] for row, _ in sent.rows)
            ispring = await team.ispring() if any(seen.summary.ispring for _, seen in sent.rows) else None
            results: dict[str, dict[str, ModuleResult]] = defaultdict(dict)
            for result in ispring or []:
                results[result.user_id][ispring_key(result)] = result
            # Which digests must be looked at again: those never checked, or whose answers (or day) moved since,
            # or with an iSpring item now done; and each learner's latest, when it tells of unlocked modules.
            checks: dict[int, CheckKey] = {}
            stale: list[int] = []
            latest: dict[str, tuple[SentRow, Seen]] = {}
            for row, seen in sent.rows:
                learner = team.learners[row.slack_user_id]
                checks[row.id] = key = _check_key(team, learner, seen.summary, now)
                mine = results.get(learner.ispring_id or "", {})
                ispring_done = any(k in mine and mine[k].is_done for k in seen.summary.ispring)
                if key is None or seen.checked != key or ispring_done:
                    stale.append(row.id)
                if (
                    row.slack_user_id not in latest
                    or latest[row.slack_user_id][1].summary.period <= seen.summary.period
                ):
                    latest[row.slack_user_id] = (row, seen)
            told = [row.id for row, seen in latest.values() if seen.summary.unlocked]
            await sent.decode([*stale, *told])
            updated: dict[int, Digest] = {}
            for row_id in stale:
                found = sent.digests.get(row_id)
                if found is None:
                    continue  # gone since the sweep began
                record, digest = found
                if not sent.seen[row_id].summary.digest or sent.seen[row_id].summary.stopped:
                    continue  # changed since it was listed (e.g. stopped from its button): as the listing says now
                learner = team.learners[record.slack_user_id]
                done, unlocked = await _progress_since(team, learner, digest, record, ispring, now)
                if not done and not unlocked:
                    sent.seen[row_id].checked = checks[row_id]
                    continue
                digest = digest.with_done(done, unlocked)
                updated[row_id] = digest
                line = f"{learner.user_id} digest of {digest.period}: {len(done)} done, {len(unlocked)} unlocked"
                message = self.renderer.digest(digest)
                if dry_run or await self.delivery.update(record, message, digest.to_payload(), report):
                    report.updated.append(line)
            for row, seen in latest.values():
                digest_now = updated.get(row.id)
                if digest_now is None and (row.id not in sent.digests or not seen.summary.unlocked):
                    continue  # it tells of no unlocked module: no notice to send
                if digest_now is None:
                    digest_now = sent.digests[row.id][1]
                await self._unlocked_notices(
                    team, team.learners[row.slack_user_id], digest_now, report, dry_run=dry_run, now=now
                )

    async def _listed(self, team: Team, rows: Sequence[SentRow]) -> list[tuple[SentRow, Seen]]:
        return (await self._sent_digests(team, rows)).rows

    async def _sent_digests(self, team: Team, rows: Sequence[SentRow]) -> _SentBatch:
        """The digests among these rows that went out to learners of this sweep whose reminders are on. Rows seen
        before at the same version are not read again; the others are read (one query) and decoded once."""
        memo = team.sent if team.sent is not None else {}
        wanted: list[SentRow] = []
        for row in rows:
            learner = team.learners.get(row.slack_user_id)
            if learner is None or not team.pref(learner.user_id).enabled:  # rows listed are sent ones only
                continue
            wanted.append(row)
        records = {r.id: r for r in wanted if isinstance(r, SentReminder)}
        batch = _SentBatch(self.sent_log, memo, self.memo.shared, records)
        await batch.decode([r.id for r in wanted if r.id not in memo or memo[r.id].summary.version != r.version])
        for row in wanted:
            seen = batch.seen.get(row.id)
            if seen is None or not seen.summary.digest or seen.summary.stopped:
                continue
            batch.rows.append((row, seen))
        return batch

    async def _unlocked_notices(
        self, team: Team, learner: Learner, digest: Digest, report: SweepReport, *, dry_run: bool, now: datetime
    ) -> None:
        if not digest.unlocked or not schedule.may_message(team.pref(learner.user_id), learner.tz, now):
            return
        for entry in digest.locked:
            if entry.tracked is None or entry.tracked.id not in digest.unlocked or entry.tracked.id in learner.muted:
                continue
            pending = 0
            if learner.zoho_id:
                cached = await team.reader.peek_facts(entry.tracked, learner.zoho_id)
                if cached is not None and not cached.is_locked:
                    pending = cached.pending_count
            notice = UnlockedNotice(entry.tracked, entry.module_name, pending)
            out = Outgoing(
                team.team_id,
                learner.user_id,
                f"unlocked:{entry.tracked.id}",
                digest.period,
                f"now unlocked → {learner.user_id}: {entry.module_name or entry.tracked.label}",
                self.renderer.unlocked(notice),
                {"kind": "unlocked", "tracked_id": entry.tracked.id},
            )
            await self.delivery.send(out, report, dry_run=dry_run)


@dataclass
class _SentBatch:
    """A batch's sent digests: the rows to look at (with what earlier sweeps saw of them), and the digests
    decoded so far (`decode`: read and decode these rows, one query)."""

    sent_log: SentLog
    seen: dict[int, Seen]  # the workspace's memo (a tick-off's own, thrown away after it)
    shared: Shared  # equal parts of summaries shared
    records: dict[int, SentReminder]  # rows already read with their payloads
    rows: list[tuple[SentRow, Seen]] = field(default_factory=list)
    digests: dict[int, tuple[SentReminder, Digest]] = field(default_factory=dict)

    async def decode(self, ids: Sequence[int]) -> None:
        todo = [i for i in dict.fromkeys(ids) if i not in self.digests]
        missing = [i for i in todo if i not in self.records]
        if missing:
            self.records.update(await self.sent_log.by_ids(missing))
        for row_id in todo:
            record = self.records.get(row_id)
            if record is None or record.status != "sent":
                continue  # gone, or no longer sent, since the batch's rows were listed
            digest = Digest.from_payload(record.payload)
            known = self.seen.get(row_id)
            if known is None or known.summary.version != record.version:
                self.seen[row_id] = Seen(summarize(record.version, record.claimed_at, digest, self.shared))
            if digest is not None:
                self.digests[row_id] = (record, digest)


def _check_key(team: Team, learner: Learner, summary: SentSummary, now: datetime) -> CheckKey:
    """What a digest's tick-offs depend on besides itself: the learner's day and the versions of its answers."""
    today = schedule.local(now, learner.tz).date()
    zoho = learner.zoho_id
    if not zoho or not summary.deps:
        return hash((today, zoho))
    if team.snapshot is None:
        return None  # nothing to compare with: looked at every time
    versions = [team.snapshot.version_of(progress_key(team.team_id, t, zoho)) for t in summary.deps]
    if UNKNOWN_VERSION in versions:
        return None
    return hash((today, zoho, *versions))


async def _progress_since(
    team: Team,
    learner: Learner,
    digest: Digest,
    row: SentReminder,
    ispring: list[ModuleResult] | None,
    now: datetime,
) -> tuple[frozenset[str], frozenset[int]]:
    """Entry keys now done and locked modules now open, judged from the cache (no LMS call here)."""
    done: set[str] = set()
    unlocked: set[int] = set()
    today = schedule.local(now, learner.tz).date()
    results = {ispring_key(r): r for r in ispring or [] if r.user_id == learner.ispring_id}
    progress_cache: dict[int, ProgressFacts | None] = {}
    for entry in digest.entries:
        if entry.key in digest.done:
            continue
        if entry.kind is EntryKind.ISPRING:
            result = results.get(entry.key)
            if result is not None and result.is_done:
                done.add(entry.key)
            continue
        if entry.tracked is None or not learner.zoho_id or entry.tracked.id in digest.unlocked:
            continue
        if entry.tracked.id not in progress_cache:
            progress_cache[entry.tracked.id] = await team.reader.peek_facts(entry.tracked, learner.zoho_id)
        progress = progress_cache[entry.tracked.id]
        if entry.kind is EntryKind.TASK:
            entity_id = entry.key.rsplit(":", 1)[-1]
            if progress is not None and not progress.is_locked and entity_id not in progress.pending:
                done.add(entry.key)
        elif entry.kind is EntryKind.LOCKED and _opened(entry, today, progress, row.sent_at):
            unlocked.add(entry.tracked.id)
    return frozenset(done), frozenset(unlocked)


def _opened(entry: DigestEntry, today: date, progress: ProgressFacts | None, sent_at: datetime | None) -> bool:
    """A lock the digest told about has ended: its date has come, or the LMS says so since the digest went out."""
    if entry.lock_type == LockType.UNTIL_DATE and entry.lock_until is not None and entry.lock_until <= today:
        return True
    return progress is not None and not progress.is_locked and (sent_at is None or progress.fetched_at >= sent_at)
