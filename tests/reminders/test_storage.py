"""The scheduler lease and the reminder-state queries, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, inspect

from storage import migrate
from storage.db import Database, sync_url_for
from storage.repositories.leases import LeaseRepository
from storage.repositories.modules import TrackedModuleRepository
from storage.repositories.preferences import PreferenceRepository
from storage.repositories.reminder_state import ReminderStateRepository
from storage.repositories.reminders import SentReminderRepository

T0 = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_lease_is_held_by_one_renewed_released_and_taken_over_after_expiry(db: Database) -> None:
    clock = Clock()
    leases = LeaseRepository(db, clock=clock)
    ttl = timedelta(seconds=30)
    assert await leases.acquire("sched", "A", ttl)
    assert not await leases.acquire("sched", "B", ttl)  # a standby waits
    assert await leases.acquire("sched", "A", ttl)  # re-acquiring our own lease renews it
    clock.now += timedelta(seconds=20)
    assert await leases.renew("sched", "A", ttl)
    clock.now += timedelta(seconds=29)
    assert not await leases.acquire("sched", "B", ttl)  # renewed: not expired yet
    clock.now += timedelta(seconds=2)  # A stopped renewing (died): B takes over
    assert await leases.acquire("sched", "B", ttl)
    assert not await leases.renew("sched", "A", ttl)  # A learns it lost the lease
    current = await leases.current("sched")
    assert current is not None and current.holder == "B" and current.expires_at == clock.now + ttl
    assert not await leases.release("sched", "A")
    assert await leases.release("sched", "B")
    assert await leases.acquire("sched", "C", ttl)  # released: free at once


async def test_recent_digests_by_message_payload_and_team_mutes(db: Database) -> None:
    clock = Clock()
    sent = SentReminderRepository(db, clock=clock)
    state = ReminderStateRepository(db)
    for user, period in (("U1", "2026-03-27"), ("U1", "2026-03-30"), ("U2", "2026-03-30")):
        claim = await sent.claim("T1", user, "digest", period, stale_after=timedelta(minutes=5))
        assert claim is not None
        await sent.confirm(claim, f"D{user}", f"{period}.1", {"kind": "digest", "period": period})
        clock.now += timedelta(minutes=1)
    pending = await sent.claim("T1", "U3", "digest", "2026-03-30", stale_after=timedelta(minutes=5))
    assert pending is not None
    await sent.claim("T1", "U1", "session:1:soon", "2026-03-30", stale_after=timedelta(minutes=5))
    recent = await state.recent("T1", ["digest"], T0 - timedelta(days=7))
    assert [(r.slack_user_id, r.period) for r in recent] == [
        ("U1", "2026-03-27"),
        ("U1", "2026-03-30"),
        ("U2", "2026-03-30"),
    ]
    everything = await state.recent("T1", ["digest"], T0, statuses=("sent", "claimed"))
    assert len(everything) == 4
    assert await state.recent("T1", ["digest"], clock.now + timedelta(minutes=1)) == []
    row = await state.by_message("T1", "U1", "DU1", "2026-03-30.1")
    assert row is not None and row.period == "2026-03-30"
    assert await state.by_message("T1", "U2", "DU1", "2026-03-30.1") is None  # someone else's message
    assert await state.set_payload(row.id, {"kind": "digest", "done": ["x"]})
    assert (await sent.find("T1", "U1", "digest", "2026-03-30")).payload["done"] == ["x"]  # type: ignore[union-attr]
    assert not await state.set_payload(pending.id, {"kind": "digest"})  # only sent messages have content
    modules = TrackedModuleRepository(db)
    one, _ = await modules.track("T1", "zoho", "C", None, "M1", alias=None, created_by="x")
    two, _ = await modules.track("T1", "zoho", "C", None, "M2", alias=None, created_by="x")
    prefs = PreferenceRepository(db)
    await prefs.mute("T1", "U1", one.id)
    await prefs.mute("T1", "U1", two.id)
    await prefs.mute("T1", "U2", two.id)
    assert await state.mutes_for_team("T1") == {"U1": {one.id, two.id}, "U2": {two.id}}
    assert await state.mutes_for_team("T2") == {}


def test_head_revision_has_the_scheduler_tables(db_url: str) -> None:
    assert migrate.current(db_url) == migrate.head()  # not a fixed id: later revisions come on top
    assert migrate.pending_diff(db_url) == []
    engine = create_engine(sync_url_for(db_url))
    try:
        assert {"scheduler_leases", "apscheduler_jobs"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
