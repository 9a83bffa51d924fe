"""What the digest's buttons do: snooze, stop, mute. The change is stored in the learner's preferences (undone
with `/lms remind on`, `/lms remind unmute` or App Home) and in the sent digest, so that re-rendering it — now,
or when a later sweep ticks items off — shows the new state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.reminders.types import DIGEST_KEY, Digest
from bot.services.preferences import PreferenceService
from bot.services.sent_log import SentLog, SentReminder


@dataclass(frozen=True, slots=True)
class MessageRef:
    """The DM a button was clicked in."""

    team_id: str
    user_id: str
    channel_id: str | None
    message_ts: str | None


@dataclass(frozen=True, slots=True)
class SentDigest:
    """A digest as it was sent: which DM message shows it, and what it says."""

    id: int
    channel_id: str | None
    message_ts: str | None
    digest: Digest


class ReminderActions:
    def __init__(
        self,
        preferences: PreferenceService,
        sent_log: SentLog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.preferences = preferences
        self._sent_log = sent_log
        self.clock = clock

    async def snooze(self, ref: MessageRef, days: int) -> tuple[datetime, Digest | None]:
        """No reminders for `days` days from now; the digest (if we know it) says until when."""
        settings = await self.preferences.snooze(ref.team_id, ref.user_id, days, now=self.clock())
        until = settings.snoozed_until or self.clock()
        return until, await self._edit(ref, lambda d: replace(d, snoozed_until=until, stopped=False))

    async def stop(self, ref: MessageRef) -> Digest | None:
        await self.preferences.update(ref.team_id, ref.user_id, enabled=False)
        return await self._edit(ref, lambda d: replace(d, stopped=True))

    async def mute(self, ref: MessageRef, tracked_id: int) -> tuple[str, Digest | None]:
        """Mute one module (PreferenceError when it is no longer tracked); returns its label and the digest."""
        tracked = await self.preferences.mute(ref.team_id, ref.user_id, tracked_id)
        return tracked.label, await self._edit(ref, lambda d: replace(d, muted=d.muted | {tracked.id}))

    async def recent_digests(self, team_id: str, user_id: str, days: int = 8) -> list[SentDigest]:
        """The digests this learner got lately (oldest first), e.g. to change their "Snoozed" note."""
        rows = await self._sent_log.recent(team_id, [DIGEST_KEY], self.clock() - timedelta(days=days))
        found = []
        for row in rows:
            digest = Digest.from_payload(row.payload) if row.slack_user_id == user_id else None
            if digest is not None:
                found.append(SentDigest(row.id, row.channel_id, row.message_ts, digest))
        return found

    async def save(self, sent: SentDigest, digest: Digest) -> None:
        """Remember what a sent digest says now (after its message was edited), so later edits start from it."""
        await self._sent_log.set_payload(sent.id, digest.to_payload())

    async def _edit(self, ref: MessageRef, change: Callable[[Digest], Digest]) -> Digest | None:
        found = await self._find(ref)
        if found is None:
            return None
        row, digest = found
        changed = change(digest)
        await self._sent_log.set_payload(row.id, changed.to_payload())
        return changed

    async def _find(self, ref: MessageRef) -> tuple[SentReminder, Digest] | None:
        if not ref.channel_id or not ref.message_ts:
            return None
        row = await self._sent_log.by_message(ref.team_id, ref.user_id, ref.channel_id, ref.message_ts)
        digest = Digest.from_payload(row.payload) if row is not None else None
        return (row, digest) if row is not None and digest is not None else None
