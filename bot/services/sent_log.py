"""The sent log as the reminder engine and the digest's buttons use it: the claim → post → confirm protocol that
sends each reminder exactly once (storage/repositories/reminders.py), and reads of what went out — whether a
period's digest is taken, the recent digests (with or without their payloads), the one behind a Slack message —
and the edit that stores what a sent message says now.

The reminder engine reaches storage only through services like this one (an import-linter contract in
pyproject.toml): the composition root (bot/reminders_root.py) builds it from the process's repositories.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from storage.repositories.reminder_state import ClaimState as ClaimState  # re-exported: the engine's types
from storage.repositories.reminder_state import ReminderStateRepository
from storage.repositories.reminder_state import SentHead as SentHead
from storage.repositories.reminders import Claim as Claim
from storage.repositories.reminders import SentReminder as SentReminder
from storage.repositories.reminders import SentReminderRepository


class SentLog:
    def __init__(self, sent: SentReminderRepository, state: ReminderStateRepository) -> None:
        self._sent = sent
        self._state = state

    # --- sending, exactly once --------------------------------------------------------------------------------

    async def claim(
        self, team_id: str, slack_user_id: str, item_key: str, period: str, *, stale_after: timedelta
    ) -> Claim | None:
        """The right to send this reminder; None when it was sent or someone else holds a fresh claim."""
        return await self._sent.claim(team_id, slack_user_id, item_key, period, stale_after=stale_after)

    async def confirm(self, claim: Claim, channel_id: str | None, message_ts: str | None, payload: Any = None) -> bool:
        return await self._sent.confirm(claim, channel_id, message_ts, payload)

    async def mark_failed(self, claim: Claim, payload: Any = None) -> bool:
        return await self._sent.mark_failed(claim, payload)

    async def set_payload(self, reminder_id: int, payload: Any) -> bool:
        """Store what a sent message says now (after an in-place update or a button click)."""
        return await self._state.set_payload(reminder_id, payload)

    # --- what went out ------------------------------------------------------------------------------------------

    async def claim_states(
        self, team_id: str, item_key: str, periods: Collection[str], since: datetime, *, statuses: Collection[str]
    ) -> list[ClaimState]:
        """The claims of this kind for these periods since `since`, without their payloads."""
        return await self._state.claim_states(team_id, item_key, periods, since, statuses=statuses)

    async def last_id(self, team_id: str) -> int:
        """The workspace's newest sent-log row (0: none): rows claimed later have higher ids."""
        return await self._state.last_id(team_id)

    async def recent(
        self,
        team_id: str,
        item_keys: Collection[str],
        since: datetime,
        *,
        statuses: Collection[str] = ("sent",),
        slack_user_id: str | None = None,
    ) -> list[SentReminder]:
        """Reminders of these kinds claimed since `since` (to this person, if given), payloads included, oldest
        first."""
        return await self._state.recent(team_id, item_keys, since, statuses=statuses, slack_user_id=slack_user_id)

    async def recent_heads(
        self, team_id: str, item_key: str, since: datetime, *, slack_user_ids: Collection[str], up_to_id: int
    ) -> list[SentHead]:
        """Sent rows of this kind claimed since `since` to these people (no newer than `up_to_id`), without their
        payloads, oldest first."""
        return await self._state.recent_heads(
            team_id, item_key, since, slack_user_ids=slack_user_ids, up_to_id=up_to_id
        )

    async def by_ids(self, ids: Collection[int]) -> dict[int, SentReminder]:
        """These rows with their payloads (rows gone since are left out)."""
        return await self._state.by_ids(ids)

    async def by_message(
        self, team_id: str, slack_user_id: str, channel_id: str, message_ts: str
    ) -> SentReminder | None:
        """The sent reminder behind a Slack message (for its buttons)."""
        return await self._state.by_message(team_id, slack_user_id, channel_id, message_ts)
