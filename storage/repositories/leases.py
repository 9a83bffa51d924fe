"""Leases: at most one holder per name at a time, kept by renewing before expiry and taken over after it.

The reminder scheduler holds one so that a second worker waits as a hot standby. Each operation is one
conditional statement, so two processes racing for a free or expired lease cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from storage.models import SchedulerLeaseRow
from storage.repositories._common import Repository, rowcount, upsert


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


class LeaseRepository(Repository):
    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take the lease if it is free, expired or already ours (then it is renewed). True when we hold it."""
        now = self.now()
        async with self.db.transaction() as session:
            inserted = await session.execute(
                upsert(self.db, SchedulerLeaseRow)
                .values(name=name, holder=holder, acquired_at=now, renewed_at=now, expires_at=now + ttl)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(SchedulerLeaseRow.name)
            )
            if inserted.scalar_one_or_none() is not None:
                return True
            taken = await session.execute(
                update(SchedulerLeaseRow)
                .where(
                    SchedulerLeaseRow.name == name,
                    or_(SchedulerLeaseRow.holder == holder, SchedulerLeaseRow.expires_at <= now),
                )
                .values(holder=holder, acquired_at=now, renewed_at=now, expires_at=now + ttl)
            )
            return rowcount(taken) > 0

    async def renew(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Extend our lease. False when it is no longer ours (it expired and someone took it over)."""
        now = self.now()
        async with self.db.transaction() as session:
            result = await session.execute(
                update(SchedulerLeaseRow)
                .where(SchedulerLeaseRow.name == name, SchedulerLeaseRow.holder == holder)
                .values(renewed_at=now, expires_at=now + ttl)
            )
            return rowcount(result) > 0

    async def release(self, name: str, holder: str) -> bool:
        """Give the lease up at shutdown, so the standby takes over at once instead of after the expiry."""
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(SchedulerLeaseRow).where(SchedulerLeaseRow.name == name, SchedulerLeaseRow.holder == holder)
            )
            return rowcount(result) > 0

    async def current(self, name: str) -> Lease | None:
        async with self.db.transaction(write=False) as session:
            row = (await session.scalars(select(SchedulerLeaseRow).where(SchedulerLeaseRow.name == name))).first()
            if row is None:
                return None
            return Lease(row.name, row.holder, row.acquired_at, row.renewed_at, row.expires_at)
