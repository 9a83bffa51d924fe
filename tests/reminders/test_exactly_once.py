"""Exactly once across a crash after Slack stored a reminder: a stale claim is checked against the DM's history
(the reminder's key travels as Slack message metadata) and confirmed instead of being sent again; when Slack
cannot say, the reminder waits rather than going out twice."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.devkit.sandbox import seed
from bot.devkit.sandbox.state import EntityProgress
from bot.reminders.delivery import CLOCK_SKEW, reminder_metadata
from bot.reminders.types import DIGEST_KEY
from storage.repositories.reminders import Claim
from tests.reminders.conftest import MONDAY, TEAM, MakeWorld, World
from tests.support.slack import text_of

ADA = "U0ADA"
PERIOD = "2026-03-30"  # Ada's local date at MONDAY (London)
STALE = timedelta(minutes=11)  # past REMINDER_CLAIM_STALE_SECONDS' default of 10 minutes
PRE_READING = 100004000000049021  # a pending link in Ada's Kick-off


async def died_after_claiming(world: World, *, slack_stored_it: bool) -> Claim:
    """A worker claimed Ada's digest and died before confirming, with or without Slack having stored it."""
    claim = await world.services.reminders.claim(TEAM, ADA, DIGEST_KEY, PERIOD, stale_after=timedelta(minutes=10))
    assert claim is not None
    if slack_stored_it:
        content = {"text": "Your learning today", "metadata": reminder_metadata(DIGEST_KEY, PERIOD)}
        world.slack.post_message(world.slack.workspace.dm_channel(ADA), content)
    world.set_time(world.now() + STALE)
    return claim


async def test_a_stale_claim_whose_message_slack_has_is_confirmed_not_sent_again(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={ADA: seed.SAMPLE_LEARNER})
    claim = await died_after_claiming(world, slack_stored_it=True)
    report = await world.sweep(force=True)
    assert report.sent == [] and len(report.recovered) == 1 and report.failed == []
    assert world.posts_to(ADA) == 0 and len(world.dms(ADA)) == 1  # Ada sees the one message
    [message] = world.dms(ADA)
    row = await world.services.reminders.find(TEAM, ADA, DIGEST_KEY, PERIOD)
    assert row is not None and (row.status, row.channel_id, row.message_ts) == ("sent", "D0ADA", message["ts"])
    [lookup] = world.slack.calls_for("conversations.history")
    assert lookup.args["channel"] == "D0ADA" and lookup.args["include_all_metadata"] in ("1", "true", True)
    assert float(lookup.args["oldest"]) == pytest.approx((claim.claimed_at - CLOCK_SKEW).timestamp())
    assert "sent 0" in report.summary() and "1 already in Slack" in report.summary()
    assert (await world.sweep(force=True)).already == 1  # confirmed: never looked up again

    # The confirmed message is edited in place like any other, and keeps its key.
    with world.state.lock:
        world.state.progress[(seed.SAMPLE_LEARNER, PRE_READING)] = EntityProgress(completed=True)
    world.set_time(world.now() + timedelta(hours=2))
    assert len((await world.sweep()).updated) == 1
    [edited] = world.dms(ADA)
    assert edited["ts"] == message["ts"] and "~Pre-reading~" in text_of(edited)
    assert edited["metadata"] == reminder_metadata(DIGEST_KEY, PERIOD)
    [update] = [c for c in world.slack.calls_for("chat.update") if c.ok]
    assert update.args["metadata"] == reminder_metadata(DIGEST_KEY, PERIOD)


async def test_a_stale_claim_that_never_reached_slack_is_sent_once_carrying_its_key(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={ADA: seed.SAMPLE_LEARNER})
    dm = world.slack.workspace.dm_channel(ADA)
    # Other reminders in the DM carry other keys: yesterday's digest, and a session reminder of today.
    world.slack.post_message(dm, {"text": "yesterday", "metadata": reminder_metadata(DIGEST_KEY, "2026-03-29")})
    world.slack.post_message(dm, {"text": "session", "metadata": reminder_metadata("session:1:soon", PERIOD)})
    await died_after_claiming(world, slack_stored_it=False)
    report = await world.sweep(force=True)
    assert [o.user_id for o in report.sent] == [ADA] and report.recovered == []
    assert world.posts_to(ADA) == 1 and len(world.slack.calls_for("conversations.history")) == 1
    assert world.dms(ADA)[-1]["metadata"] == {
        "event_type": "lmsbot_reminder",
        "event_payload": {"item_key": "digest", "period": PERIOD},
    }


async def test_a_fresh_claim_posts_without_looking_at_the_history(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={ADA: seed.SAMPLE_LEARNER})
    assert len((await world.sweep(force=True)).sent) == 1
    assert world.slack.calls_for("conversations.history") == []
    [post] = world.slack.calls_for("chat.postMessage")
    assert post.args["metadata"] == reminder_metadata(DIGEST_KEY, PERIOD)


@pytest.mark.parametrize("trouble", ["internal_error", "ratelimited", "conversations.open"])
async def test_when_slack_cannot_say_whether_it_was_sent_the_reminder_waits_and_is_never_sent_blindly(
    make_world: MakeWorld, trouble: str
) -> None:
    world = await make_world(MONDAY, people={ADA: seed.SAMPLE_LEARNER})
    await died_after_claiming(world, slack_stored_it=False)
    if trouble == "conversations.open":
        world.slack.fail_next("conversations.open", "internal_error", status=500)
    else:
        world.slack.fail_next("conversations.history", trouble, status=500 if trouble == "internal_error" else None)
    report = await world.sweep(force=True)
    assert report.sent == [] and world.posts_to(ADA) == 0
    [failed] = report.failed
    assert "could not check whether it was sent before" in failed and "retried later" in failed
    row = await world.services.reminders.find(TEAM, ADA, DIGEST_KEY, PERIOD)
    assert row is not None and row.status == "claimed"  # not "failed": that would re-send without looking
    world.set_time(world.now() + timedelta(minutes=5))
    assert (await world.sweep(force=True)).already == 1 and world.posts_to(ADA) == 0  # our claim, still fresh
    world.set_time(world.now() + STALE)
    later = await world.sweep(force=True)  # Slack answers now: not there, so it goes out, once
    assert [o.user_id for o in later.sent] == [ADA] and world.posts_to(ADA) == 1


async def test_without_the_im_history_scope_it_sends_rather_than_losing_the_reminder(
    make_world: MakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world = await make_world(MONDAY, people={ADA: seed.SAMPLE_LEARNER})
    await died_after_claiming(world, slack_stored_it=False)
    world.slack.fail_next("conversations.history", "missing_scope")
    with caplog.at_level(logging.WARNING, logger="bot.reminders.delivery"):
        report = await world.sweep(force=True)
    assert [o.user_id for o in report.sent] == [ADA] and world.posts_to(ADA) == 1
    assert any("Reinstall lmsbot in T0DEMO to grant im:history" in r.getMessage() for r in caplog.records)


async def test_an_unclear_post_failure_keeps_the_claim_and_a_clear_refusal_is_retried_at_once(
    make_world: MakeWorld,
) -> None:
    world = await make_world(MONDAY, people={ADA: seed.SAMPLE_LEARNER})
    world.slack.fail_next("chat.postMessage", "internal_error", status=500)  # Slack may have stored it
    assert len((await world.sweep(force=True)).failed) == 1
    row = await world.services.reminders.find(TEAM, ADA, DIGEST_KEY, PERIOD)
    assert row is not None and row.status == "claimed"
    world.set_time(world.now() + timedelta(minutes=5))
    assert (await world.sweep(force=True)).already == 1
    world.set_time(world.now() + STALE)
    assert len((await world.sweep(force=True)).sent) == 1  # looked, not there: sent
    assert len(world.slack.calls_for("conversations.history")) == 1 and len(world.dms(ADA)) == 1

    other = await make_world(MONDAY, people={ADA: seed.SAMPLE_LEARNER})
    other.slack.fail_next("chat.postMessage", "ratelimited")  # a clear refusal: nothing was stored
    assert len((await other.sweep(force=True)).failed) == 1
    row = await other.services.reminders.find(TEAM, ADA, DIGEST_KEY, PERIOD)
    assert row is not None and row.status == "failed"
    assert len((await other.sweep(force=True)).sent) == 1  # the next sweep, without a history check
    assert other.slack.calls_for("conversations.history") == [] and len(other.dms(ADA)) == 1
