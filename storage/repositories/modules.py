"""Tracked modules: which LMS modules a workspace sends reminders about, optionally under a short alias."""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.batching import Coalescer
from storage.db import Database
from storage.errors import AliasConflict, AmbiguousReference
from storage.models import TrackedModuleRow
from storage.repositories._common import Now, Provider, Repository, check_provider

_ALIAS = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class TrackedModule:
    id: int
    team_id: str
    provider: Provider
    course_id: str
    batch_id: str | None  # None: the course is not batched (stored as '')
    module_id: str
    alias: str | None
    created_by: str
    created_at: datetime


def normalize_alias(alias: str | None) -> str | None:
    """Aliases are typed in slash commands: case-insensitive, one word, and never a bare number
    (a number refers to a tracked id or a module id)."""
    if alias is None or not alias.strip():
        return None
    value = alias.strip().lower()
    if not _ALIAS.match(value) or value.isdigit():
        raise ValueError(
            f"alias {alias!r} is not valid: use up to 64 letters, digits, '-', '_' or '.', not only digits"
        )
    return value


class TrackedModuleRepository(Repository):
    """Listings that arrive together share one transaction and one SELECT (storage.batching): a burst of
    `/lms progress` reads the workspace's tracked modules once."""

    def __init__(self, db: Database, *, clock: Now | None = None) -> None:
        super().__init__(db, clock=clock)
        self._list = Coalescer[str | None, tuple[TrackedModule, ...]](self._list_many)

    async def track(
        self,
        team_id: str,
        provider: str,
        course_id: str,
        batch_id: str | None,
        module_id: str,
        *,
        alias: str | None,
        created_by: str,
    ) -> tuple[TrackedModule, bool]:
        """Track a module (or give a tracked one a new alias). Returns it and whether anything changed.

        `alias=None` leaves an existing alias alone. Raises AliasConflict when the alias names another module.
        """
        provider = check_provider(provider)
        alias = normalize_alias(alias)
        course_id, module_id, batch = course_id.strip(), module_id.strip(), (batch_id or "").strip()
        if not course_id or not module_id:
            raise ValueError("course id and module id are required")
        # Both unique keys start with team_id: one lock per workspace serialises concurrent trackers.
        async with self.db.transaction(locks=[f"track:{team_id}"]) as session:
            existing = await self._one(
                session,
                TrackedModuleRow.team_id == team_id,
                TrackedModuleRow.provider == provider,
                TrackedModuleRow.course_id == course_id,
                TrackedModuleRow.batch_id == batch,
                TrackedModuleRow.module_id == module_id,
            )
            if alias is not None:
                holder = await self._one(session, TrackedModuleRow.team_id == team_id, TrackedModuleRow.alias == alias)
                if holder is not None and (existing is None or holder.id != existing.id):
                    raise AliasConflict(
                        f"the alias '{alias}' already names module {holder.module_id} (tracked #{holder.id})",
                        alias=alias,
                        tracked_module_id=holder.id,
                    )
            if existing is not None:
                if alias is None or existing.alias == alias:
                    return _record(existing), False
                existing.alias = alias
                await session.flush()
                return _record(existing), True
            row = TrackedModuleRow(
                team_id=team_id,
                provider=provider,
                course_id=course_id,
                batch_id=batch,
                module_id=module_id,
                alias=alias,
                created_by=created_by,
                created_at=self.now(),
            )
            session.add(row)
            await session.flush()
            return _record(row), True

    async def untrack(self, team_id: str, ref: str) -> TrackedModule | None:
        """Stop tracking (mutes of it go too). Returns what was removed; None if `ref` matched nothing."""
        async with self.db.transaction(locks=[f"track:{team_id}"]) as session:
            row = await self._find(session, team_id, ref)
            if row is None:
                return None
            removed = _record(row)
            await session.execute(delete(TrackedModuleRow).where(TrackedModuleRow.id == row.id))
            return removed

    async def find(self, team_id: str, ref: str) -> TrackedModule | None:
        """By alias, `#<tracked id>`, module id, or bare tracked id (in that order).

        Raises AmbiguousReference when a module id is tracked more than once (different courses/batches).
        """
        async with self.db.transaction(write=False) as session:
            row = await self._find(session, team_id, ref)
            return _record(row) if row else None

    async def get(self, team_id: str, tracked_module_id: int) -> TrackedModule | None:
        async with self.db.transaction(write=False) as session:
            row = await self._one(
                session, TrackedModuleRow.team_id == team_id, TrackedModuleRow.id == tracked_module_id
            )
            return _record(row) if row else None

    async def list(self, team_id: str | None = None) -> builtins.list[TrackedModule]:
        return builtins.list(await self._list(team_id))

    async def _list_many(self, teams: Sequence[str | None]) -> builtins.list[tuple[TrackedModule, ...]]:
        """Each caller's list from one SELECT: every module (when one asked for all) or the teams asked for."""
        query = select(TrackedModuleRow).order_by(TrackedModuleRow.team_id, TrackedModuleRow.id)
        if None not in teams:
            query = query.where(TrackedModuleRow.team_id.in_(set(teams)))
        async with self.db.transaction(write=False) as session:
            modules = tuple(_record(row) for row in (await session.scalars(query)).all())
        by_team: dict[str, builtins.list[TrackedModule]] = {}
        for module in modules:
            by_team.setdefault(module.team_id, []).append(module)
        return [modules if team is None else tuple(by_team.get(team, ())) for team in teams]

    async def _find(self, session: AsyncSession, team_id: str, ref: str) -> TrackedModuleRow | None:
        ref = ref.strip()
        if not ref:
            return None
        in_team = TrackedModuleRow.team_id == team_id
        row = await self._one(session, in_team, TrackedModuleRow.alias == ref.lower())
        if row is not None:
            return row
        if ref.startswith("#"):
            return await self._by_id(session, team_id, ref[1:])
        rows = (
            await session.scalars(
                select(TrackedModuleRow).where(in_team, TrackedModuleRow.module_id == ref).order_by(TrackedModuleRow.id)
            )
        ).all()
        if len(rows) > 1:
            ids = tuple(r.id for r in rows)
            listed = ", ".join(f"#{i}" for i in ids)
            raise AmbiguousReference(
                f"module {ref} is tracked {len(rows)} times ({listed}); use the alias or the #id", candidates=ids
            )
        if rows:
            return rows[0]
        return await self._by_id(session, team_id, ref)

    async def _by_id(self, session: AsyncSession, team_id: str, text: str) -> TrackedModuleRow | None:
        if not text.isdigit() or int(text) >= 2**31:  # an INTEGER column: larger numbers cannot be ours
            return None
        return await self._one(session, TrackedModuleRow.team_id == team_id, TrackedModuleRow.id == int(text))

    @staticmethod
    async def _one(session: AsyncSession, *conditions: ColumnElement[bool]) -> TrackedModuleRow | None:
        row: TrackedModuleRow | None = (
            await session.scalars(select(TrackedModuleRow).where(*conditions))
        ).one_or_none()
        return row


def _record(row: TrackedModuleRow) -> TrackedModule:
    return TrackedModule(
        id=row.id,
        team_id=row.team_id,
        provider=check_provider(row.provider),
        course_id=row.course_id,
        batch_id=row.batch_id or None,
        module_id=row.module_id,
        alias=row.alias,
        created_by=row.created_by,
        created_at=row.created_at,
    )
