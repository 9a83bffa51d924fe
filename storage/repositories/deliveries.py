"""Slack deliveries already taken in, shared by every web (and Socket Mode) process through the database.

A key is claimed by inserting it; a second insert of the same key does nothing, so of two processes racing
with the same request exactly one wins, and a replay or redelivery finds the key taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete

from storage.batching import Coalescer
from storage.db import Database
from storage.models import SlackDeliveryRow
from storage.repositories._common import Now, Repository, rowcount, upsert


class DeliveryRepository(Repository):
    """Claims that arrive together share one transaction and one INSERT (storage.batching): the delivery check
    sits before the ack, and a burst of requests must not queue for the write lock one by one."""

    def __init__(self, db: Database, *, clock: Now | None = None) -> None:
        super().__init__(db, clock=clock)
        self._claim = Coalescer[tuple[str, ...], bool](self._claim_many)

    async def claim(self, keys: Sequence[str]) -> bool:
        """Record every key, in one short transaction. True when none of them had been recorded before."""
        return await self._claim(tuple(keys))

    async def _claim_many(self, claims: Sequence[tuple[str, ...]]) -> list[bool]:
        now = self.now()
        wanted = list(dict.fromkeys(key for keys in claims for key in keys))
        if not wanted:
            return [True] * len(claims)
        statement = (
            upsert(self.db, SlackDeliveryRow)
            .values([{"key": key, "seen_at": now} for key in wanted])
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(SlackDeliveryRow.key)  # rowcount is not reliable here on psycopg
        )
        async with self.db.transaction() as session:
            inserted = set((await session.scalars(statement)).all())
        results: list[bool] = []
        taken: set[str] = set()  # of two claims of one key in a batch, the first wins
        for keys in claims:
            results.append(all(key in inserted and key not in taken for key in keys))
            taken.update(keys)
        return results

    async def purge(self, *, older_than: timedelta) -> int:
        """Forget deliveries seen more than `older_than` ago (Slack rejects requests older than 5 minutes)."""
        cutoff = self.now() - older_than
        async with self.db.transaction() as session:
            result = await session.execute(delete(SlackDeliveryRow).where(SlackDeliveryRow.seen_at < cutoff))
            return rowcount(result)
