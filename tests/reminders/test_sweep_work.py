"""A sweep's work follows what changed (issue 10, the scheduler's CPU): every 5 minutes it looks at every
digest of the last REMINDER_RECENT_DAYS, but a digest whose row and answers are as the last sweep found them is
not read again, not decoded and not re-rendered, and no chat.update goes out; the answers themselves are not
decoded again either. What did change (a completion, read back by the sweep) is still ticked off at once, and
only the digests it concerns are looked at again.

Counted where it shows: SQL statements reading sent digests' payloads or cached answers, the digest decoder and
renderer, module-progress decodes, LMS calls at the sandbox and chat.update at the Slack stand-in."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bot.devkit.sandbox import seed
from bot.reminders.types import Digest
from bot.services.lms_queries import PROGRESS
from tests.reminders.conftest import MONDAY, PEOPLE, TEAM, MakeWorld, World
from tests.reminders.test_tickoff import PRE_READING, admin, updates
from tests.support.slack import text_of


class Work(Counter[str]):
    """What one sweep did, counted as it happened."""


@contextmanager
def counted(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Work]:
    work = Work()
    decode = Digest.from_payload.__func__  # type: ignore[attr-defined]

    def from_payload(cls: type[Digest], payload: Any) -> Digest | None:
        digest = decode(cls, payload)
        if digest is not None:
            work[f"decoded {digest.period}"] += 1
            work["decoded"] += 1
        return digest

    render = world.engine.renderer.digest

    def rendered(digest: Digest) -> Any:
        work["rendered"] += 1
        return render(digest)

    load = PROGRESS.load

    def progress(payload: Any) -> Any:
        work["progress decoded"] += 1
        return load(payload)

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        text = " ".join(sql.split()).lower()
        if text.startswith("select") and "sent_reminders.payload" in text:
            work["sent payloads read"] += 1
        if text.startswith("select") and "lms_cache.payload" in text:
            work["cache payloads read"] += 1

    engine = world.services.db.engine.sync_engine
    monkeypatch.setattr(Digest, "from_payload", classmethod(from_payload))
    monkeypatch.setattr(world.engine.renderer, "digest", rendered)
    monkeypatch.setattr(PROGRESS, "load", progress)
    event.listen(engine, "before_cursor_execute", statement)
    updates_before, calls_before = len(updates(world)), len(world.state.calls)
    try:
        yield work
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        monkeypatch.undo()
        work["chat.update"] = len(updates(world)) - updates_before
        work["lms calls"] = len(world.state.calls) - calls_before


async def test_a_sweep_with_nothing_changed_reads_decodes_and_edits_no_digest(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await make_world(MONDAY)
    await world.sweep(force=True)  # everyone's digest of today
    assert len({c.args["channel"] for c in world.slack.calls_for("chat.postMessage")}) == len(PEOPLE)
    world.set_time(MONDAY + timedelta(minutes=1))
    with counted(world, monkeypatch) as first:
        await world.sweep()  # the first to look at them: each digest read and decoded (once in each pass)
    assert len(PEOPLE) <= first["decoded"] <= 2 * len(PEOPLE), first
    world.set_time(MONDAY + timedelta(minutes=2))
    with counted(world, monkeypatch) as work:
        report = await world.sweep()
    assert work["lms calls"] == 0, work  # nothing new came in ...
    assert not report.updated and work["chat.update"] == 0, work  # ... nothing to edit ...
    # ... so nothing was read back, decoded or rendered again.
    assert work["sent payloads read"] == 0, work
    assert work["decoded"] == 0 and work["rendered"] == 0, work
    assert work["progress decoded"] == 0, work


async def test_a_completion_is_still_ticked_off_and_only_its_digest_is_looked_at_again(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await make_world(MONDAY)
    await world.sweep(force=True)
    [message] = world.dms("U0ADA")
    world.set_time(MONDAY + timedelta(minutes=1))
    await world.sweep()
    await admin(world, "/_sandbox/complete", learner=str(seed.SAMPLE_LEARNER), item=PRE_READING)
    # Ada looks at /lms progress: her Kick-off answer is read afresh into the shared cache (in this world
    # nothing edits her digest at once, so the sweep has to notice the new answer itself).
    world.set_time(MONDAY + timedelta(minutes=2))
    await world.services.learning.progress(TEAM, "U0ADA", "kickoff")
    world.set_time(MONDAY + timedelta(minutes=4))  # everyone's answers are minutes old: no re-read is due
    with counted(world, monkeypatch) as work:
        report = await world.sweep()
    assert work["lms calls"] == 0, work
    # Ada's digest, whose answer changed, is edited, and no other digest is even decoded.
    assert report.updated == ["U0ADA digest of 2026-03-30: 1 done, 0 unlocked"], report.summary()
    assert work["chat.update"] == 1 and work["rendered"] == 1, work
    assert work["decoded"] == 1 and work["sent payloads read"] == 1, work
    assert work["progress decoded"] == 1, work  # her new Kick-off answer, no other
    [update] = updates(world)
    assert update["ts"] == message["ts"] and "1 done already" in text_of(world.dms("U0ADA")[0])
