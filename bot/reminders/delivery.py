"""Sending exactly once: claim the sent log's unique key, post, confirm (or mark failed so a later sweep
retries). Editing a sent message in place. Every Slack call is counted for the sweep's report."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.reminders.report import SweepReport
from bot.reminders.types import Outgoing, Rendered
from bot.services.slack_gateway import SlackGateway, SlackUser
from storage.repositories.reminder_state import ReminderStateRepository
from storage.repositories.reminders import SentReminder, SentReminderRepository

log = logging.getLogger(__name__)
PROFILE_BULK_THRESHOLD = 20  # above this many people, one paged users.list beats one users.info each


class Delivery:
    def __init__(
        self,
        slack: SlackGateway,
        sent_log: SentReminderRepository,
        state: ReminderStateRepository,
        *,
        stale_after: timedelta,
    ) -> None:
        self.slack = slack
        self.sent_log = sent_log
        self.state = state
        self.stale_after = stale_after
        self._dm: dict[tuple[str, str], str] = {}  # (team, user) -> DM channel: conversations.open once

    async def send(self, out: Outgoing, report: SweepReport, *, dry_run: bool) -> bool:
        """Claim, post and confirm one reminder. False when it was not sent now (already sent, or failed)."""
        if dry_run:
            report.sent.append(out)
            return True
        claim = await self.sent_log.claim(
            out.team_id, out.user_id, out.item_key, out.period, stale_after=self.stale_after
        )
        if claim is None:
            report.already += 1  # sent earlier in this period, or another worker is sending it right now
            return False
        try:
            channel = await self.dm_channel(out.team_id, out.user_id, report)
            report.slack_calls += 1
            ts = await self.slack.post(out.team_id, channel, str(out.message["text"]), list(out.message["blocks"]))
        except Exception as exc:  # noqa: BLE001 - Slack refused or is down: a later sweep takes the failed claim over
            await self.sent_log.mark_failed(claim, {"error": str(exc)[:500]})
            report.failed.append(f"{out.summary}: {exc}")
            log.warning("reminder %s for %s not sent: %s", out.item_key, out.user_id, exc)
            return False
        if not await self.sent_log.confirm(claim, channel, ts, out.payload):
            # Our claim went stale mid-send and another worker took it over: it may send this one again.
            log.warning("reminder %s for %s: claim lost before confirming", out.item_key, out.user_id)
        report.sent.append(out)
        return True

    async def record_nothing(self, team_id: str, user_id: str, item_key: str, period: str) -> None:
        """Nothing pending for this period: remember it, so later sweeps spend no LMS calls on it today."""
        claim = await self.sent_log.claim(team_id, user_id, item_key, period, stale_after=self.stale_after)
        if claim is not None:
            await self.sent_log.confirm(claim, None, None, {"kind": "none"})

    async def update(self, row: SentReminder, message: Rendered, payload: Any, report: SweepReport) -> bool:
        """Edit a sent message in place (chat.update) and store what it says now."""
        if not row.channel_id or not row.message_ts:
            return False
        try:
            report.slack_calls += 1
            await self.slack.update(
                row.team_id, row.channel_id, row.message_ts, str(message["text"]), list(message["blocks"])
            )
        except Exception as exc:  # noqa: BLE001 - the next sweep tries again (the payload is unchanged)
            log.warning("could not update reminder %s of %s: %s", row.item_key, row.slack_user_id, exc)
            return False
        await self.state.set_payload(row.id, payload)
        return True

    async def dm_channel(self, team_id: str, user_id: str, report: SweepReport) -> str:
        key = (team_id, user_id)
        if key not in self._dm:
            report.slack_calls += 1
            self._dm[key] = await self.slack.dm_channel(team_id, user_id)
        return self._dm[key]

    async def profiles(self, team_id: str, user_ids: set[str], report: SweepReport) -> dict[str, SlackUser]:
        """Slack profiles (name, time zone) of these people; those Slack would not give are missing."""
        if not user_ids:
            return {}
        found: dict[str, SlackUser] = {}
        try:
            if len(user_ids) > PROFILE_BULK_THRESHOLD:
                report.slack_calls += 1 + len(user_ids) // 200
                found = {u.id: u for u in await self.slack.users(team_id) if u.id in user_ids}
            else:
                for user_id in sorted(user_ids):
                    report.slack_calls += 1
                    found[user_id] = await self.slack.user(team_id, user_id)
        except Exception as exc:  # noqa: BLE001 - names and zones are nice to have; reminders still go out
            log.info("Slack profiles unavailable for %s: %s", team_id, exc)
        return found

    async def members(self, team_id: str, report: SweepReport) -> list[SlackUser]:
        try:
            report.slack_calls += 1
            return await self.slack.users(team_id)
        except Exception as exc:  # noqa: BLE001 - trainers and managers are then found another time
            log.info("Slack members unavailable for %s: %s", team_id, exc)
            return []
