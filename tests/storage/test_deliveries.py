"""Slack deliveries already taken in: claimed once across connections, purged after an hour."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.services.deliveries import DeliveryLedger
from storage.db import Database
from storage.repositories.deliveries import DeliveryRepository


async def test_a_key_is_claimed_once(db: Database) -> None:
    repo = DeliveryRepository(db)
    assert await repo.claim(["request:a", "event:1"])
    assert not await repo.claim(["request:a"])
    assert not await repo.claim(["request:b", "event:1"])  # a new request carrying a known event
    assert not await repo.claim(["request:b"])  # ...was still recorded


async def test_racing_claims_have_one_winner(db: Database) -> None:
    repos = [DeliveryRepository(Database(db.url)) for _ in range(6)]
    try:
        results = await asyncio.gather(*(r.claim(["request:same"]) for r in repos))
    finally:
        for r in repos:
            await r.db.dispose()
    assert sorted(results) == [False] * 5 + [True]


async def test_purge_forgets_only_old_deliveries(db: Database) -> None:
    now = [datetime(2026, 12, 1, 12, tzinfo=UTC)]
    ledger = DeliveryLedger(DeliveryRepository(db, clock=lambda: now[0]))
    assert await ledger.first_time(signature="v0=old")
    now[0] += timedelta(minutes=50)
    assert await ledger.first_time(event_id="Ev0NEW")
    now[0] += timedelta(minutes=20)
    assert await ledger.purge() == 1
    assert await ledger.first_time(signature="v0=old")  # forgotten: Slack would refuse its timestamp anyway
    assert not await ledger.first_time(event_id="Ev0NEW")


async def test_without_a_database_deliveries_are_served_and_one_line_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'missing-dir' / 'none.db'}")
    try:
        assert await DeliveryLedger(DeliveryRepository(db)).first_time(signature="v0=x", event_id="Ev1")
    finally:
        await db.dispose()
    (record,) = [r for r in caplog.records if r.name == "bot.services.deliveries"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "without the replay check" in record.getMessage()


async def test_claims_arriving_together_share_a_transaction_and_still_have_one_winner(db: Database) -> None:
    """A burst of requests is recorded in one INSERT, not one transaction each; a replay inside the same burst
    (the same signature twice) still runs once."""
    repo = DeliveryRepository(db)
    assert await repo.claim(["request:warm-up"])
    begun: list[str] = []

    def on_begin(conn: object) -> None:
        begun.append("BEGIN")

    event.listen(db.engine.sync_engine, "begin", on_begin)
    try:
        keys = [[f"request:{i}"] for i in range(20)] + [["request:3"], ["request:new", "event:E1"], ["event:E1"]]
        results = await asyncio.gather(*(repo.claim(k) for k in keys))
    finally:
        event.remove(db.engine.sync_engine, "begin", on_begin)
    assert results == [True] * 20 + [False, True, False]
    assert len(begun) <= 2
    assert not await repo.claim(["request:19"]) and not await repo.claim(["request:new"])
