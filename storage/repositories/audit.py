"""Audit log: who changed what, when. Append-only by design (recording twice means it happened twice)."""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from storage.models import AuditLogRow
from storage.repositories._common import Repository

REDACTED = "[redacted]"
# Keys whose values are secrets whatever the caller meant to log.
_SECRET_KEY = re.compile(r"secret|token|password|passwd|credential|authorization|api_?key|private_?key|_enc$", re.I)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    team_id: str | None
    actor: str  # a Slack user id, or 'cli'
    action: str
    target: str | None
    old_values: Any
    new_values: Any
    created_at: datetime


def scrub(value: Any) -> Any:
    """A JSON-safe copy of `value` with secret-looking fields redacted."""
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _SECRET_KEY.search(str(k)) and v is not None else scrub(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return scrub(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class AuditRepository(Repository):
    async def record(
        self,
        team_id: str | None,
        actor: str,
        action: str,
        target: str | None = None,
        old: Any = None,
        new: Any = None,
    ) -> AuditEntry:
        row = AuditLogRow(
            team_id=team_id,
            actor=actor,
            action=action,
            target=target,
            old_values=scrub(old),
            new_values=scrub(new),
            created_at=self.now(),
        )
        async with self.db.transaction() as session:
            session.add(row)
            await session.flush()
            return _record(row)

    async def list(self, team_id: str | None, limit: int = 50) -> builtins.list[AuditEntry]:
        """Newest first; `team_id=None` lists every workspace."""
        query = select(AuditLogRow).order_by(AuditLogRow.created_at.desc(), AuditLogRow.id.desc()).limit(limit)
        if team_id is not None:
            query = query.where(AuditLogRow.team_id == team_id)
        async with self.db.transaction(write=False) as session:
            return [_record(row) for row in (await session.scalars(query)).all()]

    async def latest(self, team_id: str, actor: str, action: str, *, within: timedelta) -> AuditEntry | None:
        """The newest entry of `actor` doing `action` in the last `within` (rate limits: "once a day")."""
        since = self.now() - within
        query = (
            select(AuditLogRow)
            .where(
                AuditLogRow.team_id == team_id,
                AuditLogRow.actor == actor,
                AuditLogRow.action == action,
                AuditLogRow.created_at >= since,
            )
            .order_by(AuditLogRow.created_at.desc(), AuditLogRow.id.desc())
            .limit(1)
        )
        async with self.db.transaction(write=False) as session:
            row = (await session.scalars(query)).first()
            return _record(row) if row is not None else None


def _record(row: AuditLogRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        team_id=row.team_id,
        actor=row.actor,
        action=row.action,
        target=row.target,
        old_values=row.old_values,
        new_values=row.new_values,
        created_at=row.created_at,
    )
