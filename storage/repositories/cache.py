"""Cached LMS answers by key (JSON), so the bot can still answer while the LMS is rate-limited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete

from storage.models import LmsCacheRow
from storage.repositories._common import Repository, rowcount, upsert


class LmsCacheRepository(Repository):
    async def get(self, key: str) -> tuple[Any, datetime] | None:
        async with self.db.transaction(write=False) as session:
            row = await session.get(LmsCacheRow, key)
            return (row.payload, row.fetched_at) if row else None

    async def put(self, key: str, payload: Any, *, fetched_at: datetime | None = None) -> None:
        """Store (or replace) the answer for `key`; `fetched_at` defaults to now."""
        when = fetched_at or self.now()
        statement = upsert(self.db, LmsCacheRow).values(key=key, payload=payload, fetched_at=when)
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={"payload": statement.excluded.payload, "fetched_at": when}
        )
        async with self.db.transaction() as session:
            await session.execute(statement)

    async def delete(self, key: str) -> bool:
        async with self.db.transaction() as session:
            return rowcount(await session.execute(delete(LmsCacheRow).where(LmsCacheRow.key == key))) > 0
