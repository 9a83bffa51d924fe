"""Which reminders went out: a claim row per (user, item, period), made unique by the database.

Sending is claim → post to Slack → confirm (or mark failed when Slack refused). The claim is an INSERT
relying on the unique key, so two workers can never both send the same reminder. A claim that was never
confirmed (the worker died between claiming and confirming, or Slack's answer was lost) goes stale and may be
claimed again; the new claim says since when the message may already be in Slack (`Claim.unsure_since`), and
the caller checks the conversation's history before posting it again (bot/reminders/delivery.py).
"""

from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from storage.models import SentReminderRow
from storage.repositories._common import Repository, rowcount, upsert
from storage.versions import bumped


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    team_id: str
    slack_user_id: str
    item_key: str
    period: str
    token: str  # proves this worker still owns the claim when it confirms or releases it
    claimed_at: datetime
    # Set when this claim took over a stale one: an earlier worker may have posted it since then (Slack
    # stored it, the worker died before confirming), so Slack must be asked before posting again.
    unsure_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class SentReminder:
    id: int
    team_id: str
    slack_user_id: str
    item_key: str
    period: str
    status: str  # claimed | sent | failed
    claimed_at: datetime
    sent_at: datetime | None
    channel_id: str | None
    message_ts: str | None
    payload: Any
    version: int = 0  # changes with every write of the row (storage/versions.py)


class SentReminderRepository(Repository):
    async def claim(
        self, team_id: str, slack_user_id: str, item_key: str, period: str, *, stale_after: timedelta
    ) -> Claim | None:
        """Claim the right to send this reminder; None when it was sent or someone else holds a fresh claim.

        Taking over a stale claim sets `Claim.unsure_since`: its worker may have reached Slack before dying,
        so the caller must look for the message before posting it again."""
        now = self.now()
        token = uuid.uuid4().hex
        key = (
            SentReminderRow.team_id == team_id,
            SentReminderRow.slack_user_id == slack_user_id,
            SentReminderRow.item_key == item_key,
            SentReminderRow.period == period,
        )
        async with self.db.transaction() as session:
            inserted = await session.execute(
                upsert(self.db, SentReminderRow)
                .values(
                    team_id=team_id,
                    slack_user_id=slack_user_id,
                    item_key=item_key,
                    period=period,
                    status="claimed",
                    claim_token=token,
                    claimed_at=now,
                    sending_since=now,
                )
                .on_conflict_do_nothing(index_elements=["team_id", "slack_user_id", "item_key", "period"])
                .returning(SentReminderRow.id)
            )
            row_id = inserted.scalar_one_or_none()
            if row_id is not None:
                return Claim(row_id, team_id, slack_user_id, item_key, period, token, now)
            row = (await session.execute(select(SentReminderRow).where(*key))).scalar_one_or_none()
            if row is None:
                return None  # pruned in between: the next sweep claims it afresh
            if row.status == "failed":
                # Slack refused the last attempt: nothing of this reminder is in Slack, send it afresh.
                values: dict[str, Any] = {"sending_since": now}
                unsure_since = None
            elif row.status == "claimed" and row.claimed_at <= now - stale_after:
                values = {}  # keep sending_since: the dead worker's post, if any, is that old
                unsure_since = row.sending_since or row.claimed_at
            else:
                return None
            # A conditional UPDATE on the token read above is atomic: of two workers taking over at once, the
            # second finds the first's token and matches nothing.
            taken = await session.execute(
                update(SentReminderRow)
                .where(SentReminderRow.id == row.id, SentReminderRow.claim_token == row.claim_token)
                .values(
                    status="claimed",
                    claim_token=token,
                    claimed_at=now,
                    sent_at=None,
                    version=bumped(SentReminderRow.version),
                    **values,
                )
                .returning(SentReminderRow.id)
            )
            if taken.scalar_one_or_none() is None:
                return None
            return Claim(row.id, team_id, slack_user_id, item_key, period, token, now, unsure_since)

    async def confirm(self, claim: Claim, channel_id: str | None, message_ts: str | None, payload: Any = None) -> bool:
        """The message went out. False when the claim was lost meanwhile (it went stale and was re-claimed)."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(SentReminderRow)
                .where(SentReminderRow.id == claim.id, SentReminderRow.claim_token == claim.token)
                .values(
                    status="sent",
                    sent_at=self.now(),
                    channel_id=channel_id,
                    message_ts=message_ts,
                    payload=payload,
                    version=bumped(SentReminderRow.version),
                )
            )
            return rowcount(result) > 0

    async def release(self, claim: Claim) -> bool:
        """Sending failed: forget the claim so a later sweep retries."""
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(SentReminderRow).where(
                    SentReminderRow.id == claim.id,
                    SentReminderRow.claim_token == claim.token,
                    SentReminderRow.status == "claimed",
                )
            )
            return rowcount(result) > 0

    async def mark_failed(self, claim: Claim, payload: Any = None) -> bool:
        """Like release, but keeps a row (status 'failed', e.g. with the error) that the next claim takes over."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(SentReminderRow)
                .where(
                    SentReminderRow.id == claim.id,
                    SentReminderRow.claim_token == claim.token,
                    SentReminderRow.status == "claimed",
                )
                .values(status="failed", payload=payload, version=bumped(SentReminderRow.version))
            )
            return rowcount(result) > 0

    async def find(self, team_id: str, slack_user_id: str, item_key: str, period: str) -> SentReminder | None:
        query = select(SentReminderRow).where(
            SentReminderRow.team_id == team_id,
            SentReminderRow.slack_user_id == slack_user_id,
            SentReminderRow.item_key == item_key,
            SentReminderRow.period == period,
        )
        async with self.db.transaction(write=False) as session:
            row = (await session.scalars(query)).one_or_none()
            return sent_record(row) if row else None

    async def sent_in_period(self, team_id: str, slack_user_id: str, period: str) -> builtins.list[SentReminder]:
        query = (
            select(SentReminderRow)
            .where(
                SentReminderRow.team_id == team_id,
                SentReminderRow.slack_user_id == slack_user_id,
                SentReminderRow.period == period,
                SentReminderRow.status == "sent",
            )
            .order_by(SentReminderRow.id)
        )
        async with self.db.transaction(write=False) as session:
            return [sent_record(row) for row in (await session.scalars(query)).all()]

    async def prune(self, before: datetime) -> int:
        """Delete rows claimed before `before` (housekeeping; keep more than the longest period)."""
        async with self.db.transaction() as session:
            return rowcount(await session.execute(delete(SentReminderRow).where(SentReminderRow.claimed_at < before)))


def sent_record(row: SentReminderRow) -> SentReminder:
    """The plain record of a sent-log row (shared with the reminder-state queries)."""
    return SentReminder(
        id=row.id,
        team_id=row.team_id,
        slack_user_id=row.slack_user_id,
        item_key=row.item_key,
        period=row.period,
        status=row.status,
        claimed_at=row.claimed_at,
        sent_at=row.sent_at,
        channel_id=row.channel_id,
        message_ts=row.message_ts,
        payload=row.payload,
        version=row.version,
    )
