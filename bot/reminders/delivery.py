"""Sending exactly once: claim the sent log's unique key, post, confirm (or mark failed so a later sweep
retries). Every message carries its key as Slack message metadata, so a claim whose worker died after Slack
stored the message (before confirming) is confirmed from the DM's history instead of being sent again.
Editing a sent message in place. Every Slack call is counted for the sweep's report."""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.reminders.report import SweepReport
from bot.reminders.types import Outgoing, Rendered
from bot.services.sent_log import Claim, SentLog, SentReminder
from bot.services.slack_gateway import HISTORY_PAGE, SlackGateway, SlackNotInstalled, SlackUser

log = logging.getLogger(__name__)
PROFILE_BULK_THRESHOLD = 20  # above this many people, one paged users.list beats one users.info each
REMINDER_EVENT = "lmsbot_reminder"  # the message metadata event_type every reminder carries
# Slack's ts comes from Slack's clock, claims from ours: look back this much further than the first attempt.
CLOCK_SKEW = timedelta(minutes=5)
HISTORY_MAX_PAGES = 10  # a DM with the bot holds a handful of messages a day; more means something is off
# Slack errors after which the message may have been stored all the same ("It's possible some aspect of the
# operation succeeded before the error was raised", Slack on internal_error).
UNSURE_ERRORS = frozenset({"internal_error", "fatal_error", "request_timeout", "service_unavailable"})


class _Unknown(enum.Enum):
    UNKNOWN = "unknown"


UNKNOWN = _Unknown.UNKNOWN  # Slack could not say whether an earlier attempt reached it


def reminder_metadata(item_key: str, period: str) -> dict[str, Any]:
    """Slack message metadata naming the sent-log entry a message belongs to (its claim key within the DM).
    Other apps in the workspace can read it: it holds no secrets, only the item key and the period."""
    return {"event_type": REMINDER_EVENT, "event_payload": {"item_key": item_key, "period": period}}


def is_reminder(message: dict[str, Any], item_key: str, period: str) -> bool:
    """Whether a message from conversations.history is this reminder (by its metadata)."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return (
        metadata.get("event_type") == REMINDER_EVENT
        and payload.get("item_key") == item_key
        and payload.get("period") == period
        and bool(message.get("ts"))
    )


def may_have_posted(exc: BaseException) -> bool:
    """Whether Slack may have stored a chat.postMessage that raised `exc`: any answer but a clear refusal
    (a lost connection, a timeout, a 5xx, an internal error)."""
    if isinstance(exc, SlackNotInstalled):
        return False  # no token: nothing was sent
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        return status >= 500 or exc.response.get("error") in UNSURE_ERRORS
    return True


class Delivery:
    def __init__(
        self,
        slack: SlackGateway,
        sent_log: SentLog,
        *,
        stale_after: timedelta,
    ) -> None:
        self.slack = slack
        self.sent_log = sent_log
        self.stale_after = stale_after

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
            metrics.duplicate_prevented("claimed")
            return False
        if claim.unsure_since is not None:
            found = await self._find_in_slack(out, claim.unsure_since, report)
            if found is UNKNOWN:
                return False  # the claim stays ours until stale: a later sweep asks Slack again
            if found is not None:
                channel, ts = found
                await self.sent_log.confirm(claim, channel, ts, out.payload)
                report.recovered.append(out.summary)
                metrics.duplicate_prevented("found_in_slack")
                log.info("reminder %s for %s was already in Slack (%s): confirmed", out.item_key, out.user_id, ts)
                return True
        try:
            report.slack_calls += 1
            # To the user id: Slack puts it in the app's DM with them and names that channel in its answer (kept
            # for history checks and edits), so no conversations.open (Tier 3) per learner.
            posted = await self.slack.post_dm(
                out.team_id,
                out.user_id,
                str(out.message["text"]),
                list(out.message["blocks"]),
                reminder_metadata(out.item_key, out.period),
            )
        except Exception as exc:  # noqa: BLE001 - Slack refused, is down, or its answer was lost
            return await self._failed(out, claim, exc, report, may_be_in_slack=may_have_posted(exc))
        channel, ts = posted.channel, posted.ts
        if not await self.sent_log.confirm(claim, channel, ts, out.payload):
            # Our claim went stale mid-send and another worker took it over: it finds this message in the
            # DM's history and confirms it rather than sending it again.
            log.warning("reminder %s for %s: claim lost before confirming", out.item_key, out.user_id)
        report.sent.append(out)
        metrics.reminder_sent(out.item_key)
        return True

    async def _failed(
        self, out: Outgoing, claim: Claim, exc: Exception, report: SweepReport, *, may_be_in_slack: bool
    ) -> bool:
        report.failed.append(f"{out.summary}: {exc}")
        log.warning("reminder %s for %s not sent: %s", out.item_key, out.user_id, exc)
        if not may_be_in_slack:
            await self.sent_log.mark_failed(claim, {"error": str(exc)[:500]})  # a later sweep takes it over
        # Otherwise Slack may have stored it: the claim stays, and once stale the next claim checks the history.
        return False

    async def _find_in_slack(
        self, out: Outgoing, since: datetime, report: SweepReport
    ) -> tuple[str, str] | _Unknown | None:
        """Where an earlier attempt's message is in the DM (channel, ts); None: it never reached Slack;
        UNKNOWN: Slack could not tell us now."""
        try:
            channel = await self.dm_channel(out.team_id, out.user_id, report)
            oldest = (since - CLOCK_SKEW).timestamp()
            pages = 0
            async for messages in self.slack.history(out.team_id, channel, oldest=oldest):
                pages += 1
                report.slack_calls += 1
                for message in messages:
                    if is_reminder(message, out.item_key, out.period):
                        return channel, str(message["ts"])
                if pages >= HISTORY_MAX_PAGES:
                    raise RuntimeError(f"more than {pages * HISTORY_PAGE} messages to look through")
            return None
        except SlackApiError as exc:
            if exc.response.get("error") == "missing_scope":
                # Installed before lmsbot asked for im:history: it can never check, and waiting would lose the
                # reminder for good. Send it (it may be a duplicate) and say how to fix it.
                log.warning(
                    "cannot check whether reminder %s for %s was already sent (Slack: missing_scope %s); "
                    "sending it again. Reinstall lmsbot in %s to grant im:history.",
                    out.item_key,
                    out.user_id,
                    exc.response.get("needed") or "im:history",
                    out.team_id,
                )
                return None
            error: Exception = exc
        except Exception as exc:  # noqa: BLE001 - Slack is down or slow: rather late than twice
            error = exc
        report.failed.append(f"{out.summary}: could not check whether it was sent before ({error}); retried later")
        log.warning("reminder %s for %s: history check failed, retried later: %s", out.item_key, out.user_id, error)
        return UNKNOWN

    async def record_nothing(self, team_id: str, user_id: str, item_key: str, period: str) -> None:
        """Nothing pending for this period: remember it, so later sweeps spend no LMS calls on it today."""
        claim = await self.sent_log.claim(team_id, user_id, item_key, period, stale_after=self.stale_after)
        if claim is not None:
            await self.sent_log.confirm(claim, None, None, {"kind": "none"})

    async def record_delivered(
        self, team_id: str, user_id: str, item_key: str, period: str, within_key: str, within_period: str
    ) -> None:
        """This reminder went out inside another message (a session reminder told in the day's digest): record
        it as sent under its own key, so it is never posted on its own later."""
        claim = await self.sent_log.claim(team_id, user_id, item_key, period, stale_after=self.stale_after)
        if claim is not None:
            await self.sent_log.confirm(
                claim, None, None, {"kind": "within", "item_key": within_key, "period": within_period}
            )

    async def update(self, row: SentReminder, message: Rendered, payload: Any, report: SweepReport) -> bool:
        """Edit a sent message in place (chat.update) and store what it says now."""
        if not row.channel_id or not row.message_ts:
            return False
        try:
            report.slack_calls += 1
            await self.slack.update(
                row.team_id,
                row.channel_id,
                row.message_ts,
                str(message["text"]),
                list(message["blocks"]),
                reminder_metadata(row.item_key, row.period),  # the same key: an edit never loses it
            )
        except Exception as exc:  # noqa: BLE001 - the next sweep tries again (the payload is unchanged)
            log.warning("could not update reminder %s of %s: %s", row.item_key, row.slack_user_id, exc)
            return False
        await self.sent_log.set_payload(row.id, payload)
        metrics.reminder_updated(row.item_key)
        return True

    async def dm_channel(self, team_id: str, user_id: str, report: SweepReport) -> str:
        """The DM's channel: kept from an earlier post; conversations.open only for someone never posted to."""
        known = await self.slack.known_dm_channel(team_id, user_id)
        if known is not None:
            return known
        report.slack_calls += 1
        return await self.slack.dm_channel(team_id, user_id)

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
