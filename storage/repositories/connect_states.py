"""Single-use, expiring `state` values for the Zoho OAuth connect flow (the CSRF guard of the redirect)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update

from storage.models import ConnectStateRow
from storage.repositories._common import Provider, Repository, check_provider, rowcount


@dataclass(frozen=True, slots=True)
class ConnectState:
    state: str
    team_id: str
    slack_user_id: str
    provider: Provider
    data_center: str | None
    created_at: datetime
    expires_at: datetime


class ConnectStateRepository(Repository):
    async def issue(
        self, team_id: str, slack_user_id: str, provider: str, data_center: str | None, ttl: timedelta
    ) -> str:
        now = self.now()
        state = secrets.token_urlsafe(32)
        async with self.db.transaction() as session:
            session.add(
                ConnectStateRow(
                    state=state,
                    team_id=team_id,
                    slack_user_id=slack_user_id,
                    provider=check_provider(provider),
                    data_center=data_center,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return state

    async def consume(self, state: str) -> ConnectState | None:
        """The state's details, once: a second consume, an expired or an unknown state give None."""
        now = self.now()
        async with self.db.transaction() as session:
            # One conditional UPDATE: two redirects racing with the same state cannot both win.
            row = (
                await session.execute(
                    update(ConnectStateRow)
                    .where(
                        ConnectStateRow.state == state,
                        ConnectStateRow.consumed_at.is_(None),
                        ConnectStateRow.expires_at > now,
                    )
                    .values(consumed_at=now)
                    .returning(
                        ConnectStateRow.state,
                        ConnectStateRow.team_id,
                        ConnectStateRow.slack_user_id,
                        ConnectStateRow.provider,
                        ConnectStateRow.data_center,
                        ConnectStateRow.created_at,
                        ConnectStateRow.expires_at,
                    )
                )
            ).first()
        if row is None:
            return None
        return ConnectState(
            state=row.state,
            team_id=row.team_id,
            slack_user_id=row.slack_user_id,
            provider=check_provider(row.provider),
            data_center=row.data_center,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    async def purge(self, *, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete states that expired (or were used) more than `older_than` ago."""
        cutoff = self.now() - older_than
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(ConnectStateRow).where(
                    or_(ConnectStateRow.expires_at < cutoff, ConnectStateRow.consumed_at < cutoff)
                )
            )
            return rowcount(result)
