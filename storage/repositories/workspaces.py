"""One workspace's place in the database: its uninstall mark, its Slack tokens, and everything it owns (for
`lmsbot workspace purge`).

What a workspace owns is found, not listed: every table with a `team_id` column, plus the tables whose key
starts with the team id (`KEY_PREFIXED`). Every other table must say in `NOT_WORKSPACE_DATA` why it holds
nothing of a workspace's, so a new table cannot be forgotten (tests/storage/test_workspaces.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, ColumnElement, Table, delete, func, select, update

from storage.models import (
    LmsCacheRow,
    SchedulerLeaseRow,
    WorkspaceUninstallRow,
    metadata,
    slack_bots,
    slack_installations,
)
from storage.repositories._common import Repository, rowcount, upsert

# Tables keyed by a string that starts with the team id: (table, key column, the prefix before the team id).
KEY_PREFIXED: dict[str, tuple[str, str]] = {
    LmsCacheRow.__tablename__: ("key", ""),  # "<team>:zoho:progress:…", "<team>:sweep:last", …
    SchedulerLeaseRow.__tablename__: ("name", "link-request:"),  # "link-request:<team>:<user>" (once a day)
}
# Tables that hold nothing that belongs to one workspace, and why.
NOT_WORKSPACE_DATA: dict[str, str] = {
    "rate_limit_calls": "counts calls per LMS account (not per workspace); rows age out within a minute",
    "rate_limit_locks": "locks per LMS account; they expire by themselves",
    "rate_limit_daily": "per LMS account and minute, no workspace; rows older than 24 hours are pruned",
    "slack_deliveries": "request signatures and event ids, no workspace; pruned after an hour",
    "slack_oauth_states": "install attempts not yet tied to a workspace; expire after 10 minutes",
    "apscheduler_jobs": "the scheduler's own periodic jobs, for every workspace",
}


def team_tables() -> list[Table]:
    """Every table with a team_id column, dependents first (reminder_mutes before tracked_modules)."""
    return [table for table in reversed(metadata.sorted_tables) if "team_id" in table.c]


@dataclass(frozen=True, slots=True)
class UninstallMark:
    team_id: str
    reason: str
    token_fingerprint: str | None
    uninstalled_at: datetime


class WorkspaceRepository(Repository):
    async def mark_uninstalled(
        self, team_id: str, *, enterprise_id: str | None, reason: str, token_fingerprint: str | None
    ) -> None:
        values = {
            "team_id": team_id,
            "enterprise_id": enterprise_id,
            "reason": reason,
            "token_fingerprint": token_fingerprint,
            "uninstalled_at": self.now(),
        }
        statement = upsert(self.db, WorkspaceUninstallRow).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["team_id"], set_={k: v for k, v in values.items() if k != "team_id"}
        )
        async with self.db.transaction() as session:
            await session.execute(statement)

    async def uninstall_mark(self, team_id: str) -> UninstallMark | None:
        async with self.db.transaction(write=False) as session:
            row = await session.get(WorkspaceUninstallRow, team_id)
            if row is None:
                return None
            return UninstallMark(row.team_id, row.reason, row.token_fingerprint, row.uninstalled_at)

    async def clear_uninstall_mark(self, team_id: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(WorkspaceUninstallRow).where(WorkspaceUninstallRow.team_id == team_id)
            )
            return rowcount(result) > 0

    async def delete_slack_tokens(self, team_id: str) -> int:
        """Every installation and bot row of the workspace (what slack_sdk's `delete_all` removes): rows deleted."""
        async with self.db.transaction() as session:
            deleted = 0
            for table in (slack_installations, slack_bots):
                deleted += rowcount(await session.execute(delete(table).where(table.c.team_id == team_id)))
            return deleted

    async def delete_user_tokens(self, team_id: str, user_ids: list[str]) -> int:
        """Forget these people's user tokens (the installation and the bot token stay): rows changed."""
        if not user_ids:
            return 0
        c = slack_installations.c
        statement = (
            update(slack_installations)
            .where(c.team_id == team_id, c.user_id.in_(user_ids), c.user_token.is_not(None))
            .values(user_token=None, user_refresh_token=None, user_token_expires_at=None, user_scopes=None)
        )
        async with self.db.transaction() as session:
            return rowcount(await session.execute(statement))

    async def installed_teams(self) -> list[str]:
        """Workspaces with a bot token stored (multi-workspace installs)."""
        async with self.db.transaction(write=False) as session:
            found = await session.execute(
                select(slack_bots.c.team_id).where(slack_bots.c.bot_token.is_not(None)).distinct()
            )
            return sorted(str(team) for team in found.scalars() if team)

    async def inventory(self, team_id: str) -> dict[str, int]:
        """Rows the workspace has in each table that holds any (what a purge would delete)."""
        counts: dict[str, int] = {}
        async with self.db.transaction(write=False) as session:
            for table, condition in _owned(team_id):
                found = (await session.execute(select(func.count()).select_from(table).where(condition))).scalar_one()
                if found:
                    counts[table.name] = int(found)
        return counts

    async def purge(self, team_id: str) -> dict[str, int]:
        """Delete everything of the workspace, in one transaction: rows deleted per table (tables with none left
        out)."""
        counts: dict[str, int] = {}
        async with self.db.transaction(locks=[f"purge:{team_id}"]) as session:
            for table, condition in _owned(team_id):
                deleted = rowcount(await session.execute(delete(table).where(condition)))
                if deleted:
                    counts[table.name] = deleted
        return counts


def _owned(team_id: str) -> list[tuple[Table, ColumnElement[bool]]]:
    owned: list[tuple[Table, ColumnElement[bool]]] = [(table, table.c.team_id == team_id) for table in team_tables()]
    for name, (column, prefix) in KEY_PREFIXED.items():
        table = metadata.tables[name]
        key: Column[str] = table.c[column]
        owned.append((table, key.startswith(f"{prefix}{team_id}:", autoescape=True)))
    return owned
