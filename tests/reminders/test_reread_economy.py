"""What the sweep re-reads once digests are out (issue 10, "fewer calls per answer"): in-place updates and planned
refreshes re-read only what can have changed, counted at the sandbox; the messages stay those of the per-module
path. The per-module path is pinned by the shared fixture; `bulk` worlds run ZOHO_BULK_READS=auto."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.devkit.sandbox import seed
from bot.devkit.sandbox.state import EntityProgress
from bot.lms.zoho import Endpoint
from bot.services.lms_queries import PROGRESS, progress_key
from tests.reminders.conftest import MONDAY, PEOPLE, TEAM, MakeWorld, World
from tests.support.slack import text_of

PRE_READING = 100004000000049021  # a pending link in Ada's Kick-off
ADA = str(seed.SAMPLE_LEARNER)
BULK = {"zoho_bulk_reads": "auto", "zoho_bulk_recheck_hours": 48}


def progress_reads(world: World) -> Counter[str]:
    """module-progress calls since the last clear, by learner id."""
    return Counter(c.path.split("/learners/")[1].split("/")[0] for c in world.state.calls_for(Endpoint.MODULE_PROGRESS))


def updates(world: World) -> list[dict[str, Any]]:
    return [c.args for c in world.slack.calls_for("chat.update") if c.ok]


def ada_does_pre_reading(world: World) -> None:
    with world.state.lock:
        world.state.progress[(seed.SAMPLE_LEARNER, PRE_READING)] = EntityProgress(completed=True)


async def after_the_digests(make_world: MakeWorld, **settings: Any) -> World:
    world = await make_world(MONDAY, settings=settings, refresh_bulk_hours=1, refresh_calls_per_sweep=50)
    report = await world.sweep(force=True)
    assert len([s for s in report.sent if s.item_key == "digest"]) == len(PEOPLE)
    return world


async def test_in_place_updates_with_bulk_reads_re_read_only_the_learners_whose_record_changed(
    make_world: MakeWorld,
) -> None:
    world = await after_the_digests(make_world, **BULK)
    ada_does_pre_reading(world)
    world.state.clear_calls()
    world.set_time(MONDAY + timedelta(minutes=15))
    report = await world.sweep()
    # The bulk answer read at the digests (under REMINDER_REFRESH_BULK_HOURS old) shows nobody changed since:
    # nothing is re-read, nothing is edited yet.
    assert progress_reads(world) == Counter(), [c.path for c in world.state.calls_for(Endpoint.MODULE_PROGRESS)]
    assert world.state.calls_for(Endpoint.COURSE_PROGRESS) == []
    assert report.updated == [] and updates(world) == []
    world.state.clear_calls()
    world.set_time(MONDAY + timedelta(minutes=75))
    report = await world.sweep()
    # Older than that now: read again (a page per tracked course), and only Ada's changed record is re-read,
    # module by module (her blended-course modules), before her digest is ticked off in place.
    assert len(world.state.calls_for(Endpoint.COURSE_PROGRESS)) == 2
    reads = progress_reads(world)
    assert set(reads) == {ADA} and reads[ADA] <= 3, reads
    [update] = updates(world)
    assert "~Pre-reading~" in text_of(world.dms("U0ADA")[0]) and "1 done already" in text_of(world.dms("U0ADA")[0])
    assert update["ts"] == world.dms("U0ADA")[0]["ts"]


async def test_the_per_module_path_re_reads_in_place_but_not_a_module_locked_behind_a_pending_one(
    make_world: MakeWorld,
) -> None:
    world = await after_the_digests(make_world)
    ada_does_pre_reading(world)
    world.state.clear_calls()
    world.set_time(MONDAY + timedelta(minutes=15))
    report = await world.sweep()
    # Module by module: the pending modules are re-read and Ada's completion is ticked off at once ...
    reads = progress_reads(world)
    assert ADA in reads and sum(reads.values()) >= len(PEOPLE), reads
    assert len(report.updated) == 1 and "1 done already" in text_of(world.dms("U0ADA")[0])
    # ... but Password Hygiene, locked until Phishing Basics is done, is not while that one still reads pending.
    locked = [lid for lid in map(str, PEOPLE.values()) if await locked_behind(world, lid)]
    assert locked
    hygiene = [c.path for c in world.state.calls_for(Endpoint.MODULE_PROGRESS) if f"/{seed.SP_MODULE_2}/" in c.path]
    assert not any(f"/learners/{lid}/" in p for lid in locked for p in hygiene), hygiene
    phishing = [c.path for c in world.state.calls_for(Endpoint.MODULE_PROGRESS) if f"/{seed.SP_MODULE_1}/" in c.path]
    assert all(any(f"/learners/{lid}/" in p for p in phishing) for lid in locked), phishing


async def locked_behind(world: World, learner_id: str) -> bool:
    """Phishing Basics, the module before Password Hygiene, reads pending (as cached), so Password Hygiene stays
    locked (the digest told the lock without reading it)."""
    first = await world.services.cache.peek(progress_key(TEAM, world.tracked["security-1"], learner_id), PROGRESS)
    return first is not None and not first[0].is_locked and bool(first[0].pending_mandatory)


async def day_of_sweeps(make_world: MakeWorld, **settings: Any) -> tuple[list[str], Counter[str], World]:
    """Sunday noon to Tuesday noon, a sweep every 30 minutes: every DM's text, and the calls of the second day."""
    start = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    world = await make_world(start, settings={"zoho_daily_call_budget": 2000, **settings})
    second: Counter[str] = Counter()
    moment = start
    while moment < start + timedelta(days=2):
        world.set_time(moment)
        world.state.clear_calls()
        await world.sweep()
        if moment >= start + timedelta(days=1):
            second.update(c.endpoint for c in world.state.calls if "token" not in c.endpoint)
        moment += timedelta(minutes=30)
    texts = sorted(f"{user}: {text_of(m)}" for user in PEOPLE for m in world.dms(user))
    return texts, second, world


@pytest.mark.timeout(600)  # four simulated days of sweeps; a loaded machine runs them slowly
async def test_with_bulk_reads_one_answer_settles_the_day_and_the_digests_stay_the_same(
    make_world: MakeWorld,
) -> None:
    reference, per_module, _ = await day_of_sweeps(make_world)
    sent, bulk, _ = await day_of_sweeps(make_world, **BULK)
    assert sent == reference and len(sent) >= 2 * len(PEOPLE) - 2
    # Nothing changed in the LMS: the second day's digests rest on a bulk answer or two, not on re-reads (a few
    # answers read before the first bulk answer cannot be vouched for by it, and are read once more).
    assert bulk[Endpoint.MODULE_PROGRESS] * 4 <= per_module[Endpoint.MODULE_PROGRESS], (bulk, per_module)
    assert bulk[Endpoint.COURSE_PROGRESS] <= 2 * 2, bulk  # at most two reads of the two tracked courses
    assert sum(bulk.values()) < sum(per_module.values()) / 2, (bulk, per_module)


# --- a module locked until the one before it is done --------------------------------------------------------------

BARBARA = PEOPLE["U0BARBARA"]  # Kolkata (09:00 = 03:30 UTC); Phishing Basics half done, so Password Hygiene locked
SUNDAY_NOON = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
BARBARA_DONE = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)  # Tuesday: she finishes Phishing Basics


def barbara_finishes_phishing(world: World) -> None:
    rng = random.Random("barbara")
    while seed.do_next_item(world.state, BARBARA, seed.SELF_PACED_COURSE, None, seed.SP_MODULE_1, rng):
        pass


async def barbaras_week(
    make_world: MakeWorld, people: dict[str, int] | None = None, **kwargs: Any
) -> tuple[list[datetime], list[str]]:
    """Sunday noon to Wednesday's digest, sweeps every 15 minutes as the scheduler runs them: when Password
    Hygiene was read for Barbara, and her digests' texts as sent (Monday, Tuesday, Wednesday)."""
    world = await make_world(SUNDAY_NOON, people=people or {"U0BARBARA": BARBARA}, **kwargs)
    hygiene: list[datetime] = []
    digests: list[str] = []
    moment = SUNDAY_NOON
    while moment <= datetime(2026, 4, 1, 4, 0, tzinfo=UTC):
        world.set_time(moment)
        if moment == BARBARA_DONE:
            barbara_finishes_phishing(world)
        world.state.clear_calls()
        await world.sweep()
        path = f"/modules/{seed.SP_MODULE_2}/learners/{BARBARA}/"
        hygiene += [moment for c in world.state.calls_for(Endpoint.MODULE_PROGRESS) if path in c.path]
        sent = [text_of(m) for m in world.dms("U0BARBARA") if "LMS item" in text_of(m)]
        digests += sent[len(digests) :]  # as sent (later sweeps may tick it off in place)
        moment += timedelta(minutes=15)
    return hygiene, digests


MONDAY_SEND = datetime(2026, 3, 30, 3, 30, tzinfo=UTC)
WEDNESDAY_SEND = datetime(2026, 4, 1, 3, 30, tzinfo=UTC)


@pytest.mark.timeout(600)  # three simulated days of sweeps
async def test_a_module_locked_behind_a_pending_tracked_one_is_not_read_until_that_one_is_done(
    make_world: MakeWorld,
) -> None:
    hygiene, digests = await barbaras_week(make_world)
    # Read once, cold, for Monday; then not while Phishing Basics reads pending: each digest tells the lock from
    # Phishing Basics' own answer (which is re-read) and never looks at Password Hygiene's.
    assert len([t for t in hygiene if t <= MONDAY_SEND]) == 1, hygiene
    assert [t for t in hygiene if MONDAY_SEND < t < BARBARA_DONE] == [], hygiene
    # Once Phishing Basics reads done, Password Hygiene is read again for Wednesday, and the digest shows it open.
    assert [t for t in hygiene if BARBARA_DONE < t <= WEDNESDAY_SEND], hygiene
    monday, tuesday, wednesday = digests
    assert "unlocks when you finish *Phishing Basics*" in monday and "unlocks when you finish" in tuesday
    assert "unlocks when you finish" not in wednesday and "Password manager guide" in wednesday, wednesday


@pytest.mark.timeout(600)  # three simulated days of sweeps, twice
async def test_with_bulk_reads_a_locked_copy_stays_current_while_the_record_is_unchanged(make_world: MakeWorld) -> None:
    # Only Password Hygiene is tracked: nothing the digest reads tells whether Phishing Basics is done, so the
    # per-module path reads the locked module every day; the bulk record, which shows every module, does.
    only = (("security-2", seed.SELF_PACED_COURSE, None, seed.SP_MODULE_2),)
    per_module, reference = await barbaras_week(make_world, tracks=only)
    assert [t for t in per_module if MONDAY_SEND < t < BARBARA_DONE], per_module
    hygiene, digests = await barbaras_week(make_world, tracks=only, settings=BULK)
    assert digests == reference
    assert [t for t in hygiene if MONDAY_SEND < t < BARBARA_DONE] == [], hygiene
    assert [t for t in hygiene if BARBARA_DONE < t <= WEDNESDAY_SEND], hygiene  # her record changed: read
    # A lock alone is no reminder: Monday and Tuesday had nothing to send; Wednesday tells what she can do now.
    [wednesday] = digests
    assert "Password manager guide" in wednesday and "unlocks when you finish" not in wednesday, wednesday


@pytest.mark.timeout(600)  # three simulated days of sweeps, twice
async def test_with_bulk_reads_a_module_locked_behind_a_pending_one_is_not_read_even_before_that_one_was(
    make_world: MakeWorld,
) -> None:
    # Margaret (both self-paced modules done) is the one the check compares; Barbara is never sampled.
    people = {"U0BARBARA": BARBARA, "U0MARGARET": PEOPLE["U0MARGARET"]}
    per_module, reference = await barbaras_week(make_world, people)
    assert len([t for t in per_module if t <= MONDAY_SEND]) == 1, per_module  # read once, cold
    hygiene, digests = await barbaras_week(make_world, people, settings={**BULK, "zoho_bulk_sample": 1})
    assert digests == reference
    # Her bulk record shows Phishing Basics not done from the first sweep on: Password Hygiene is not read until
    # she has done it, not even for Monday's digest, which told its lock from Phishing Basics' answer.
    assert [t for t in hygiene if t < BARBARA_DONE] == [], hygiene
    assert [t for t in hygiene if BARBARA_DONE < t <= WEDNESDAY_SEND], hygiene
