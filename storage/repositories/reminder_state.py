"""Reads and edits of sent reminders that the reminder engine and its buttons need beyond claim/confirm.

- the digests sent to a workspace recently (to update them in place when items get done),
- the sent reminder behind a Slack message (for its buttons),
- the stored content of a sent reminder (what it says now),
- every learner's muted modules in one query (instead of one per learner per sweep),
- cached LMS answers by key, a batch of learners' at a time (a sweep reads thousands of them), and their
  versions alone (what changed since the last sweep), and the same for sent digests (`recent_heads`, `by_ids`).
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select, update

from storage.models import LmsCacheRow, ReminderMuteRow, SentReminderRow
from storage.repositories._common import Repository, rowcount
from storage.repositories.reminders import SentReminder, sent_record
from storage.versions import bumped

KEYS_PER_QUERY = 500  # bound parameters per IN (...) list, well inside every backend's limit


@dataclass(frozen=True, slots=True)
class ClaimState:
    """A sent-log row without its payload: who, which period, and how far sending got."""

    slack_user_id: str
    period: str
    status: str
    claimed_at: datetime


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    payload: Any
    fetched_at: datetime
    version: int  # changes with every write (storage/versions.py)


class SentHead(NamedTuple):
    """A sent row without its payload: who it went to and its version, enough to tell whether it changed since
    it was last read (no dates either: parsing them was much of the cost of listing a week of digests). A plain
    tuple: a sweep lists every learner's week of digests twice, and looks at each row a few times."""

    id: int
    slack_user_id: str
    version: int


# Core tables, not ORM entities, for the queries a sweep makes over every learner: plain rows, no ORM loading.
_CACHE = LmsCacheRow.__table__
_SENT = SentReminderRow.__table__


class ReminderStateRepository(Repository):
    async def recent(
        self,
        team_id: str,
        item_keys: Collection[str],
        since: datetime,
        *,
        statuses: Collection[str] = ("sent",),
        slack_user_id: str | None = None,
        slack_user_ids: Collection[str] | None = None,
        up_to_id: int | None = None,
    ) -> builtins.list[SentReminder]:
        """Reminders of these kinds claimed since `since` (to one person, or to these people, if given; rows no
        newer than `up_to_id`, if given), oldest first."""
        query = (
            select(SentReminderRow)
            .where(
                SentReminderRow.team_id == team_id,
                SentReminderRow.item_key.in_(list(item_keys)),
                SentReminderRow.claimed_at >= since,
                SentReminderRow.status.in_(list(statuses)),
            )
            .order_by(SentReminderRow.claimed_at, SentReminderRow.id)
        )
        if slack_user_id is not None:
            query = query.where(SentReminderRow.slack_user_id == slack_user_id)
        if slack_user_ids is not None:
            query = query.where(SentReminderRow.slack_user_id.in_(sorted(slack_user_ids)))
        if up_to_id is not None:
            query = query.where(SentReminderRow.id <= up_to_id)
        async with self.db.transaction(write=False) as session:
            return [sent_record(row) for row in (await session.scalars(query)).all()]

    async def last_id(self, team_id: str) -> int:
        """The newest sent-log row of the workspace (0: none): rows claimed later have higher ids."""
        query = select(func.max(SentReminderRow.id)).where(SentReminderRow.team_id == team_id)
        async with self.db.transaction(write=False) as session:
            return (await session.scalar(query)) or 0

    async def claim_states(
        self,
        team_id: str,
        item_key: str,
        periods: Collection[str],
        since: datetime,
        *,
        statuses: Collection[str],
    ) -> builtins.list[ClaimState]:
        """The claims of this kind for these periods since `since`, without their payloads (a sweep looks at
        every learner's, and needs only whether the period's reminder is taken)."""
        query = select(
            SentReminderRow.slack_user_id, SentReminderRow.period, SentReminderRow.status, SentReminderRow.claimed_at
        ).where(
            SentReminderRow.team_id == team_id,
            SentReminderRow.item_key == item_key,
            SentReminderRow.period.in_(sorted(periods)),
            SentReminderRow.claimed_at >= since,
            SentReminderRow.status.in_(list(statuses)),
        )
        query = query.order_by(SentReminderRow.claimed_at, SentReminderRow.id)
        async with self.db.transaction(write=False) as session:
            return [ClaimState(*row) for row in (await session.execute(query)).all()]

    async def by_message(
        self, team_id: str, slack_user_id: str, channel_id: str, message_ts: str
    ) -> SentReminder | None:
        query = select(SentReminderRow).where(
            SentReminderRow.team_id == team_id,
            SentReminderRow.slack_user_id == slack_user_id,
            SentReminderRow.channel_id == channel_id,
            SentReminderRow.message_ts == message_ts,
        )
        async with self.db.transaction(write=False) as session:
            row = (await session.scalars(query)).first()
            return sent_record(row) if row else None

    async def set_payload(self, reminder_id: int, payload: Any) -> bool:
        """Store what a sent message says now (after an in-place update or a button click)."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(SentReminderRow)
                .where(SentReminderRow.id == reminder_id, SentReminderRow.status == "sent")
                .values(payload=payload, version=bumped(SentReminderRow.version))
            )
            return rowcount(result) > 0

    async def mutes_for_team(self, team_id: str) -> dict[str, set[int]]:
        """Muted tracked-module ids by Slack user (users with none are missing)."""
        query = select(ReminderMuteRow.slack_user_id, ReminderMuteRow.tracked_module_id).where(
            ReminderMuteRow.team_id == team_id
        )
        muted: dict[str, set[int]] = defaultdict(set)
        async with self.db.transaction(write=False) as session:
            for user_id, tracked_id in (await session.execute(query)).all():
                muted[user_id].add(tracked_id)
        return dict(muted)

    async def cached_answers(self, keys: Sequence[str]) -> dict[str, CachedAnswer]:
        """The cached LMS answers stored under these keys (missing keys are left out)."""
        found: dict[str, CachedAnswer] = {}
        columns = (_CACHE.c.key, _CACHE.c.payload, _CACHE.c.fetched_at, _CACHE.c.version)
        async with self.db.transaction(write=False) as session:
            for start in range(0, len(keys), KEYS_PER_QUERY):
                query = select(*columns).where(_CACHE.c.key.in_(keys[start : start + KEYS_PER_QUERY]))
                for key, payload, fetched_at, version in (await session.execute(query)).all():
                    found[key] = CachedAnswer(payload, fetched_at, version)
        return found

    async def cached_versions(self, keys: Sequence[str]) -> dict[str, int]:
        """The versions of the answers under these keys, without the answers (missing keys are left out): a sweep
        decodes only the answers that changed since it last looked."""
        found: dict[str, int] = {}
        async with self.db.transaction(write=False) as session:
            for start in range(0, len(keys), KEYS_PER_QUERY):
                query = select(_CACHE.c.key, _CACHE.c.version).where(
                    _CACHE.c.key.in_(keys[start : start + KEYS_PER_QUERY])
                )
                found.update((key, version) for key, version in await session.execute(query))
        return found

    async def recent_heads(
        self,
        team_id: str,
        item_key: str,
        since: datetime,
        *,
        slack_user_ids: Collection[str],
        up_to_id: int | None = None,
    ) -> builtins.list[SentHead]:
        """`recent` without the payloads: sent rows of this kind claimed since `since` to these people (no newer
        than `up_to_id`, if given), oldest first."""
        sent = _SENT.c
        query = (
            select(sent.id, sent.slack_user_id, sent.version)
            .where(
                sent.team_id == team_id,
                sent.item_key == item_key,
                sent.claimed_at >= since,
                sent.status == "sent",
                sent.slack_user_id.in_(sorted(slack_user_ids)),
            )
            .order_by(sent.claimed_at, sent.id)
        )
        if up_to_id is not None:
            query = query.where(sent.id <= up_to_id)
        async with self.db.transaction(write=False) as session:
            return list(map(SentHead._make, await session.execute(query)))

    async def by_ids(self, ids: Collection[int]) -> dict[int, SentReminder]:
        """These sent-log rows, payloads included (rows gone since are left out)."""
        found: dict[int, SentReminder] = {}
        wanted = sorted(ids)
        async with self.db.transaction(write=False) as session:
            for start in range(0, len(wanted), KEYS_PER_QUERY):
                query = select(SentReminderRow).where(SentReminderRow.id.in_(wanted[start : start + KEYS_PER_QUERY]))
                for row in (await session.scalars(query)).all():
                    found[row.id] = sent_record(row)
        return found
