"""The LMS cache as a sweep reads it: the answers under a batch of keys in one query (a sweep reads thousands
of them, a batch of learners' at a time), and their versions alone, to tell which changed since the last sweep
(bot/reminders/lms_reader.py `SnapshotStore`)."""

from __future__ import annotations

from collections.abc import Sequence

from storage.repositories.reminder_state import CachedAnswer as CachedAnswer  # re-exported: the reader's type
from storage.repositories.reminder_state import ReminderStateRepository


class CachedAnswers:
    def __init__(self, state: ReminderStateRepository) -> None:
        self._state = state

    async def answers(self, keys: Sequence[str]) -> dict[str, CachedAnswer]:
        """The cached answers under these keys (missing keys are left out)."""
        return await self._state.cached_answers(keys)

    async def versions(self, keys: Sequence[str]) -> dict[str, int]:
        """The versions of the answers under these keys, without the answers."""
        return await self._state.cached_versions(keys)
