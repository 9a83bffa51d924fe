"""Cached LMS answers by key (JSON), so the bot can still answer while the LMS is rate-limited.

Reads and writes that arrive together share a transaction (storage.batching): a burst of commands reads its
entries with one SELECT … WHERE key IN (…) and stores its answers with one executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from storage.batching import Coalescer
from storage.db import Database
from storage.models import LmsCacheRow
from storage.repositories._common import Now, Repository, rowcount, upsert
from storage.versions import bumped, fresh_version

Entry = tuple[Any, datetime]
_Put = tuple[str, Any, datetime]


class LmsCacheRepository(Repository):
    def __init__(self, db: Database, *, clock: Now | None = None) -> None:
        super().__init__(db, clock=clock)
        self._get = Coalescer[str, Entry | None](self._get_many)
        self._put = Coalescer[_Put, None](self._put_many)
        upserted = upsert(db, LmsCacheRow)
        self._upsert = upserted.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "payload": upserted.excluded.payload,
                "fetched_at": upserted.excluded.fetched_at,
                "version": bumped(LmsCacheRow.version),
            },
        )

    async def get(self, key: str) -> Entry | None:
        return await self._get(key)

    async def put(self, key: str, payload: Any, *, fetched_at: datetime | None = None) -> None:
        """Store (or replace) the answer for `key`; `fetched_at` defaults to now."""
        await self._put((key, payload, fetched_at or self.now()))

    async def head(self, key: str) -> tuple[datetime, int] | None:
        """When `key`'s answer was fetched and its version (storage/versions.py), without the answer."""
        query = select(LmsCacheRow.fetched_at, LmsCacheRow.version).where(LmsCacheRow.key == key)
        async with self.db.transaction(write=False) as session:
            row = (await session.execute(query)).first()
        return (row[0], row[1]) if row is not None else None

    async def get_versioned(self, key: str) -> tuple[Any, datetime, int] | None:
        """`get`, with the answer's version."""
        query = select(LmsCacheRow.payload, LmsCacheRow.fetched_at, LmsCacheRow.version).where(LmsCacheRow.key == key)
        async with self.db.transaction(write=False) as session:
            row = (await session.execute(query)).first()
        return (row[0], row[1], row[2]) if row is not None else None

    async def delete(self, key: str) -> bool:
        async with self.db.transaction() as session:
            return rowcount(await session.execute(delete(LmsCacheRow).where(LmsCacheRow.key == key))) > 0

    async def _get_many(self, keys: Sequence[str]) -> list[Entry | None]:
        query = select(LmsCacheRow.key, LmsCacheRow.payload, LmsCacheRow.fetched_at)
        async with self.db.transaction(write=False) as session:
            rows = await session.execute(query.where(LmsCacheRow.key.in_(set(keys))))
            found: dict[str, Entry] = {key: (payload, fetched_at) for key, payload, fetched_at in rows}
        return [found.get(key) for key in keys]

    async def _put_many(self, puts: Sequence[_Put]) -> list[None]:
        last = {key: (payload, when) for key, payload, when in puts}  # in order: a later put of a key wins
        rows = [
            {"key": key, "payload": payload, "fetched_at": when, "version": fresh_version()}
            for key, (payload, when) in last.items()
        ]
        async with self.db.transaction() as session:
            await session.execute(self._upsert, rows)
        return [None] * len(puts)
