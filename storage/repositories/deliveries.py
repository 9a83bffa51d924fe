"""Slack deliveries already taken in, shared by every web (and Socket Mode) process through the database.

A key is claimed by inserting it; a second insert of the same key does nothing, so of two processes racing
with the same request exactly one wins, and a replay or redelivery finds the key taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete

from storage.models import SlackDeliveryRow
from storage.repositories._common import Repository, rowcount, upsert


class DeliveryRepository(Repository):
    async def claim(self, keys: Sequence[str]) -> bool:
        """Record every key, in one short transaction. True when none of them had been recorded before."""
        now = self.now()
        fresh = True
        async with self.db.transaction() as session:
            for key in keys:
                inserted = await session.execute(
                    upsert(self.db, SlackDeliveryRow)
                    .values(key=key, seen_at=now)
                    .on_conflict_do_nothing(index_elements=["key"])
                    .returning(SlackDeliveryRow.key)  # rowcount is not reliable here on psycopg
                )
                fresh = inserted.scalar_one_or_none() is not None and fresh
        return fresh

    async def purge(self, *, older_than: timedelta) -> int:
        """Forget deliveries seen more than `older_than` ago (Slack rejects requests older than 5 minutes)."""
        cutoff = self.now() - older_than
        async with self.db.transaction() as session:
            result = await session.execute(delete(SlackDeliveryRow).where(SlackDeliveryRow.seen_at < cutoff))
            return rowcount(result)
