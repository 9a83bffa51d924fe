"""Audit log, connect states, LMS cache."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import event

from storage.db import Database
from storage.repositories import AuditRepository, ConnectStateRepository, LmsCacheRepository
from storage.repositories.audit import REDACTED, scrub


class Colour(Enum):
    RED = "red"


def test_scrub_redacts_secrets_and_makes_json() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    value = {
        "client_secret": "s",
        "refresh_token": "r",
        "nested": {"Authorization": "Bearer x", "api_key": "k", "ok": [1, when, Colour.RED, SecretStr("p")]},
        "access_token": None,
        "item_key": "fine",
        "other": Path("/srv/x"),
    }
    assert scrub(value) == {
        "client_secret": REDACTED,
        "refresh_token": REDACTED,
        "nested": {"Authorization": REDACTED, "api_key": REDACTED, "ok": [1, when.isoformat(), "red", REDACTED]},
        "access_token": None,
        "item_key": "fine",
        "other": "/srv/x",
    }


async def test_audit_record_and_list(db: Database) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    audit = AuditRepository(db, clock=lambda: now[0])
    first = await audit.record("T1", "U1", "connect", "zoho", None, {"client_id": "c", "client_secret": "shh"})
    now[0] += timedelta(minutes=1)
    await audit.record("T1", "cli", "track", "M1", {"alias": None}, {"alias": "intro"})
    await audit.record(None, "cli", "rotate_keys", None)
    entries = await audit.list("T1")
    assert [e.action for e in entries] == ["track", "connect"]  # newest first
    assert entries[1] == first and first.new_values == {"client_id": "c", "client_secret": REDACTED}
    assert [e.action for e in await audit.list("T1", limit=1)] == ["track"]
    assert len(await audit.list(None)) == 3


async def test_connect_state_is_single_use_and_expires(db: Database) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    states = ConnectStateRepository(db, clock=lambda: now[0])
    state = await states.issue("T1", "U1", "zoho", "eu", timedelta(minutes=10))
    assert len(state) >= 40 and state.replace("-", "").replace("_", "").isalnum()
    late = await states.issue("T1", "U1", "zoho", None, timedelta(minutes=10))
    consumed = await states.consume(state)
    assert consumed is not None and (consumed.team_id, consumed.slack_user_id, consumed.data_center) == (
        "T1",
        "U1",
        "eu",
    )
    assert await states.consume(state) is None
    assert await states.consume("no-such-state") is None
    now[0] += timedelta(minutes=11)
    assert await states.consume(late) is None  # expired
    now[0] += timedelta(days=2)
    assert await states.purge() == 2


async def test_lms_cache_put_get_replace_delete(db: Database) -> None:
    cache = LmsCacheRepository(db)
    assert await cache.get("zoho:T1:progress:L1") is None
    await cache.put("zoho:T1:progress:L1", {"modules": [{"id": "1", "done": False}]})
    payload, fetched_at = await cache.get("zoho:T1:progress:L1") or (None, None)
    assert payload == {"modules": [{"id": "1", "done": False}]} and fetched_at is not None
    when = datetime(2026, 2, 2, tzinfo=UTC)
    await cache.put("zoho:T1:progress:L1", [1, 2], fetched_at=when)
    assert await cache.get("zoho:T1:progress:L1") == ([1, 2], when)
    assert await cache.delete("zoho:T1:progress:L1") is True
    assert await cache.delete("zoho:T1:progress:L1") is False


async def test_lms_cache_reads_and_writes_arriving_together_share_a_transaction(db: Database) -> None:
    """A burst of commands reads and stores its answers in a few transactions, each caller getting its own entry;
    of two writes of one key in a batch, the later wins, as one by one."""
    cache = LmsCacheRepository(db)
    when = datetime(2026, 2, 2, tzinfo=UTC)
    await cache.put("warm-up", 0, fetched_at=when)
    begun: list[str] = []

    def on_begin(conn: object) -> None:
        begun.append("BEGIN")

    event.listen(db.engine.sync_engine, "begin", on_begin)
    try:
        await asyncio.gather(
            *(cache.put(f"k{i}", {"n": i}, fetched_at=when) for i in range(20)),
            cache.put("k0", "last", fetched_at=when),
        )
        writes = len(begun)
        got = await asyncio.gather(*(cache.get(f"k{i}") for i in range(20)), cache.get("missing"))
    finally:
        event.remove(db.engine.sync_engine, "begin", on_begin)
    assert got == [("last", when)] + [({"n": i}, when) for i in range(1, 20)] + [None]
    assert writes <= 2 and len(begun) - writes <= 2  # the first call's own, then everything that queued
