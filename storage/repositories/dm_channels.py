"""The bot's DM channel id per person, shared by every process (posting to a user id answers with it)."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import SlackDmChannelRow
from storage.repositories._common import Repository, upsert


class DmChannelRepository(Repository):
    async def get(self, team_id: str, user_id: str) -> str | None:
        async with self.db.transaction(write=False) as session:
            found = await session.execute(
                select(SlackDmChannelRow.channel_id).where(
                    SlackDmChannelRow.team_id == team_id, SlackDmChannelRow.slack_user_id == user_id
                )
            )
            return found.scalar_one_or_none()

    async def put(self, team_id: str, user_id: str, channel_id: str) -> None:
        statement = upsert(self.db, SlackDmChannelRow).values(
            team_id=team_id, slack_user_id=user_id, channel_id=channel_id, updated_at=self.now()
        )
        statement = statement.on_conflict_do_update(
            index_elements=["team_id", "slack_user_id"],
            set_={"channel_id": statement.excluded.channel_id, "updated_at": statement.excluded.updated_at},
        )
        async with self.db.transaction() as session:
            await session.execute(statement)
