"""Reminder preferences, mutes, and reminder claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.db import Database
from storage.errors import NotFound
from storage.repositories import PreferenceRepository, SentReminderRepository, TrackedModuleRepository

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def test_defaults_without_a_row(db: Database) -> None:
    prefs = await PreferenceRepository(db).get("T1", "U1")
    assert (prefs.enabled, prefs.send_time, prefs.weekdays, prefs.digest) == (
        True,
        "09:00",
        "mon,tue,wed,thu,fri",
        True,
    )
    assert prefs.quiet_start is None and prefs.snoozed_until is None and prefs.timezone is None
    assert not prefs.stored and prefs.weekday_set == {"mon", "tue", "wed", "thu", "fri"}


async def test_update_validates_normalises_and_is_idempotent(db: Database) -> None:
    repo = PreferenceRepository(db)
    assert not (await repo.update("T1", "U1", send_time="09:00")).stored  # no change from the defaults: no row
    updated = await repo.update(
        "T1", "U1", send_time="8:30", weekdays=["Friday", "mon"], quiet_start="22:00", timezone="Europe/Berlin"
    )
    assert (updated.send_time, updated.weekdays, updated.quiet_start, updated.timezone) == (
        "08:30",
        "mon,fri",
        "22:00",
        "Europe/Berlin",
    )
    assert updated.stored
    again = await repo.update("T1", "U1", send_time="08:30", weekdays="fri,mon")
    assert again == updated  # same updated_at: nothing written
    assert await repo.get("T1", "U1") == updated
    snooze = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    snoozed = await repo.update("T1", "U1", snoozed_until=snooze, enabled=False)
    assert snoozed.snoozed_until == snooze and not snoozed.enabled
    for bad in ({"send_time": "25:00"}, {"weekdays": "mon,funday"}, {"timezone": "Mars/Olympus"}, {"enabled": "yes"}):
        with pytest.raises(ValueError):
            await repo.update("T1", "U1", **bad)
    with pytest.raises(ValueError, match="aware"):
        await repo.update("T1", "U1", snoozed_until=datetime(2026, 12, 1))
    with pytest.raises(TypeError, match="unknown preference"):
        await repo.update("T1", "U1", colour="blue")


async def test_all_enabled_and_for_team(db: Database) -> None:
    repo = PreferenceRepository(db)
    await repo.update("T1", "U1", digest=False)
    await repo.update("T1", "U2", enabled=False)
    await repo.update("T2", "U3", send_time="10:00")
    assert [(p.team_id, p.slack_user_id) for p in await repo.all_enabled()] == [("T1", "U1"), ("T2", "U3")]
    assert [p.slack_user_id for p in await repo.all_enabled("T1")] == ["U1"]
    assert set(await repo.for_team("T1")) == {"U1", "U2"}


async def test_mute_unmute_and_cascade_on_untrack(db: Database) -> None:
    repo, modules = PreferenceRepository(db), TrackedModuleRepository(db)
    a, _ = await modules.track("T1", "zoho", "C1", None, "M1", alias="a", created_by="U1")
    b, _ = await modules.track("T1", "zoho", "C1", None, "M2", alias="b", created_by="U1")
    assert await repo.mute("T1", "U1", a.id) is True
    assert await repo.mute("T1", "U1", a.id) is False
    assert await repo.mute("T1", "U1", b.id) is True
    assert await repo.muted("T1", "U1") == {a.id, b.id}
    assert await repo.unmute("T1", "U1", b.id) is True
    assert await repo.unmute("T1", "U1", b.id) is False
    await modules.untrack("T1", "a")
    assert await repo.muted("T1", "U1") == set()  # ON DELETE CASCADE (SQLite needs foreign_keys=ON)
    with pytest.raises(NotFound):
        await repo.mute("T1", "U1", 424242)
    with pytest.raises(NotFound):
        await repo.mute("T2", "U1", b.id)  # another workspace's module


async def test_claim_confirm_and_no_second_claim(db: Database) -> None:
    repo = SentReminderRepository(db)
    claim = await repo.claim("T1", "U1", "zoho:M1", "2026-11-24", stale_after=timedelta(minutes=10))
    assert claim is not None
    assert await repo.claim("T1", "U1", "zoho:M1", "2026-11-24", stale_after=timedelta(minutes=10)) is None
    found = await repo.find("T1", "U1", "zoho:M1", "2026-11-24")
    assert found is not None and found.status == "claimed" and found.sent_at is None
    assert await repo.confirm(claim, "D123", "1732440000.000100", {"blocks": 3}) is True
    sent = await repo.find("T1", "U1", "zoho:M1", "2026-11-24")
    assert sent is not None and sent.status == "sent" and sent.message_ts == "1732440000.000100"
    assert sent.payload == {"blocks": 3} and sent.sent_at is not None
    # Sent: never claimed again, however old.
    assert await repo.claim("T1", "U1", "zoho:M1", "2026-11-24", stale_after=timedelta(0)) is None
    # Another period or item is a new reminder.
    assert await repo.claim("T1", "U1", "zoho:M1", "2026-11-25", stale_after=timedelta(minutes=10)) is not None
    assert [r.item_key for r in await repo.sent_in_period("T1", "U1", "2026-11-24")] == ["zoho:M1"]
    assert await repo.sent_in_period("T1", "U1", "2026-11-25") == []  # claimed, not sent


async def test_release_lets_a_later_sweep_retry(db: Database) -> None:
    repo = SentReminderRepository(db)
    claim = await repo.claim("T1", "U1", "k", "p", stale_after=timedelta(minutes=10))
    assert claim is not None
    assert await repo.release(claim) is True
    assert await repo.release(claim) is False
    assert await repo.find("T1", "U1", "k", "p") is None
    assert await repo.claim("T1", "U1", "k", "p", stale_after=timedelta(minutes=10)) is not None


async def test_a_stale_claim_is_retried_and_the_old_owner_loses_it(db: Database) -> None:
    now = [NOW]
    repo = SentReminderRepository(db, clock=lambda: now[0])
    crashed = await repo.claim("T1", "U1", "k", "p", stale_after=timedelta(minutes=10))
    assert crashed is not None
    now[0] = NOW + timedelta(minutes=5)
    assert await repo.claim("T1", "U1", "k", "p", stale_after=timedelta(minutes=10)) is None  # still fresh
    now[0] = NOW + timedelta(minutes=11)
    retry = await repo.claim("T1", "U1", "k", "p", stale_after=timedelta(minutes=10))
    assert retry is not None and retry.token != crashed.token and retry.id == crashed.id
    assert await repo.claim("T1", "U1", "k", "p", stale_after=timedelta(minutes=10)) is None
    assert await repo.confirm(crashed, "D", "1.1") is False  # the stale owner cannot confirm any more
    assert await repo.release(crashed) is False
    assert await repo.confirm(retry, "D", "2.2") is True


async def test_taking_over_a_stale_claim_says_since_when_it_may_be_in_slack(db: Database) -> None:
    now = [NOW]
    repo = SentReminderRepository(db, clock=lambda: now[0])
    stale = timedelta(minutes=10)
    first = await repo.claim("T1", "U1", "k", "p", stale_after=stale)
    assert first is not None and first.unsure_since is None  # a fresh claim: nothing of it can be in Slack
    now[0] = NOW + timedelta(minutes=11)
    second = await repo.claim("T1", "U1", "k", "p", stale_after=stale)
    assert second is not None and second.unsure_since == NOW  # the first worker may have posted at NOW
    now[0] = NOW + timedelta(minutes=22)  # the second could not check Slack and left the claim to go stale
    third = await repo.claim("T1", "U1", "k", "p", stale_after=stale)
    assert third is not None and third.unsure_since == NOW  # still the first attempt: look back that far
    assert await repo.mark_failed(third, {"error": "ratelimited"})  # Slack refused: nothing of it in Slack
    fourth = await repo.claim("T1", "U1", "k", "p", stale_after=stale)
    assert fourth is not None and fourth.unsure_since is None
    now[0] = NOW + timedelta(minutes=40)
    fifth = await repo.claim("T1", "U1", "k", "p", stale_after=stale)
    assert fifth is not None and fifth.unsure_since == NOW + timedelta(minutes=22)


async def test_a_failed_reminder_can_be_claimed_again(db: Database) -> None:
    repo = SentReminderRepository(db)
    claim = await repo.claim("T1", "U1", "k", "p", stale_after=timedelta(hours=1))
    assert claim is not None
    assert await repo.mark_failed(claim, {"error": "channel_not_found"}) is True
    failed = await repo.find("T1", "U1", "k", "p")
    assert failed is not None and failed.status == "failed" and failed.payload == {"error": "channel_not_found"}
    again = await repo.claim("T1", "U1", "k", "p", stale_after=timedelta(hours=1))
    assert again is not None and again.id == claim.id


async def test_prune_old_rows(db: Database) -> None:
    now = [NOW]
    repo = SentReminderRepository(db, clock=lambda: now[0])
    await repo.claim("T1", "U1", "old", "p", stale_after=timedelta(hours=1))
    now[0] = NOW + timedelta(days=40)
    await repo.claim("T1", "U1", "new", "p", stale_after=timedelta(hours=1))
    assert await repo.prune(NOW + timedelta(days=30)) == 1
    assert await repo.find("T1", "U1", "old", "p") is None and await repo.find("T1", "U1", "new", "p") is not None
