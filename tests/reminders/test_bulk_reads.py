"""Bulk progress reads against the sandbox: verified before use, off (with the reason) when they cannot be read
or disagree with module-progress, and never changing what a learner is told to do."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from bot.devkit.sandbox import seed
from bot.devkit.sandbox.state import EntityProgress
from bot.lms.errors import NotFoundError
from bot.lms.ratelimit import Priority
from bot.lms.zoho import Endpoint, ZohoClient
from bot.services.bulk_reads import BulkReads, BulkVerdict, Prefilter, Skip
from bot.services.types import TrackedModuleRef
from handlers.views.status import status_message
from tests.reminders.conftest import PEOPLE, TEAM, MakeWorld, World
from tests.support.slack import text_of

T = TypeVar("T")
Outcome = str | frozenset[str]  # "absent", "locked", or the pending mandatory entity ids
LEARNERS = sorted(str(learner) for learner in PEOPLE.values())


@pytest.fixture
def make_world(make_world: MakeWorld) -> MakeWorld:
    """Worlds with ZOHO_BULK_READS=auto (the production default; the shared fixture pins the per-module path)."""

    async def make(*args: Any, settings: dict[str, Any] | None = None, **kwargs: Any) -> World:
        return await make_world(*args, settings={"zoho_bulk_reads": "auto", **(settings or {})}, **kwargs)

    return make


@pytest.fixture(params=["default", "alt"])
async def plausible_world(make_world: MakeWorld, request: pytest.FixtureRequest) -> World:
    """A world whose bulk answers come in each plausible shape in turn (the documented one and the alternative)."""
    world = await make_world()
    world.state.bulk_shape = request.param
    return world


async def run(world: World, job: Awaitable[T]) -> T:
    [result] = await world.clock.drive([job])
    return result  # type: ignore[no-any-return]


async def zoho(world: World) -> ZohoClient:
    return (await world.services.registry.for_team(TEAM)).zoho


def calls(world: World, endpoint: str) -> int:
    return len(world.state.calls_for(endpoint))


async def read(client: ZohoClient, tracked: TrackedModuleRef, learner_id: str) -> Outcome:
    try:
        got = await client.module_progress(
            tracked.course_id, tracked.module_id, learner_id, batch_id=tracked.batch_id, priority=Priority.BACKGROUND
        )
    except NotFoundError:
        return "absent"
    if got.is_locked:
        return "locked"
    return frozenset(e.entity_id for e in got.pending_mandatory)


async def per_module(world: World) -> dict[tuple[str, str], Outcome]:
    """What module-progress alone says for every (tracked module, learner): the reference."""
    client = await zoho(world)
    return {(t.label, lid): await read(client, t, lid) for t in world.tracked.values() for lid in LEARNERS}


async def with_prefilter(world: World, pre: Prefilter) -> tuple[dict[tuple[str, str], Outcome], dict[Skip, int]]:
    """The same, asking module-progress only where the prefilter cannot tell."""
    client = await zoho(world)
    out: dict[tuple[str, str], Outcome] = {}
    skips = dict.fromkeys(Skip, 0)
    for tracked in world.tracked.values():
        for learner_id in LEARNERS:
            skip = pre.decision(tracked, learner_id)
            if skip is Skip.NOT_ENROLLED:
                out[(tracked.label, learner_id)] = "absent"
            elif skip is Skip.COMPLETE:
                out[(tracked.label, learner_id)] = frozenset()
            else:
                out[(tracked.label, learner_id)] = await read(client, tracked, learner_id)
            if skip is not None:
                skips[skip] += 1
    return out, skips


async def verify(world: World, bulk: BulkReads | None = None) -> BulkVerdict:
    service = bulk or world.services.bulk_reads
    return await run(world, service.verify(TEAM, await zoho(world), list(world.tracked.values()), LEARNERS))


async def prefilter(world: World) -> Prefilter | None:
    return await run(world, world.services.bulk_reads.prefilter(TEAM, await zoho(world), list(world.tracked.values())))


async def test_a_plausible_shape_verifies_and_the_prefilter_saves_calls_without_changing_anything(
    plausible_world: World,
) -> None:
    world = plausible_world
    reference = await run(world, per_module(world))
    world.state.clear_calls()

    verdict = await verify(world)
    assert verdict.on and verdict.kind == "agreed" and verdict.learners == 5, verdict
    assert calls(world, Endpoint.COURSE_PROGRESS) == 2  # one page per tracked (course, batch)
    assert calls(world, Endpoint.MODULE_PROGRESS) == 5 * len(world.tracked)  # the sample, module by module
    assert (await world.services.bulk_reads.verdict(TEAM)) == verdict  # stored

    world.state.clear_calls()
    pre = await prefilter(world)
    assert pre is not None
    outcomes, skips = await run(world, with_prefilter(world, pre))
    assert outcomes == reference
    assert skips[Skip.COMPLETE] > 0 and skips[Skip.NOT_ENROLLED] > 0
    asked = calls(world, Endpoint.MODULE_PROGRESS)
    assert asked == len(reference) - skips[Skip.COMPLETE] - skips[Skip.NOT_ENROLLED] < len(reference)
    assert calls(world, Endpoint.COURSE_PROGRESS) == 2


async def test_an_unreadable_answer_turns_bulk_reads_off_with_the_reason(make_world: MakeWorld) -> None:
    world = await make_world()
    world.state.bulk_shape = "unparseable"
    verdict = await verify(world)
    assert not verdict.on and verdict.kind == "unreadable"
    assert verdict.line().startswith("off: answer could not be read")
    assert calls(world, Endpoint.MODULE_PROGRESS) == 0
    assert await prefilter(world) is None  # the per-module path is used


async def test_a_disagreeing_answer_turns_bulk_reads_off_naming_learner_and_module(make_world: MakeWorld) -> None:
    world = await make_world()
    world.state.bulk_shape = "disagree"  # every module "Completed", whatever module-progress says
    verdict = await verify(world)
    assert not verdict.on and verdict.kind == "disagreed"
    assert verdict.learner_id in LEARNERS and verdict.module_id is not None
    assert f"learner {verdict.learner_id} module {verdict.module_id}" in verdict.line()
    assert verdict.line().startswith("off: disagreed with module-progress on learner ")
    assert await prefilter(world) is None
    # Had it been trusted, learners would have been told less than module-progress says:
    client = await zoho(world)
    groups = {(t.course_id, t.batch_id) for t in world.tracked.values()}
    bulk = {g: await run(world, client.course_progress(g[0], batch_id=g[1])) for g in groups}
    trusted, _ = await run(world, with_prefilter(world, Prefilter(verdict.model_copy(update={"on": True}), bulk)))
    assert trusted != await run(world, per_module(world))


async def test_an_answer_that_goes_bad_after_verification_turns_it_off_at_once(make_world: MakeWorld) -> None:
    world = await make_world()
    assert (await verify(world)).on
    world.state.bulk_shape = "unparseable"
    assert await prefilter(world) is None
    stored = await world.services.bulk_reads.verdict(TEAM)
    assert stored is not None and not stored.on and stored.kind == "unreadable"


async def test_verified_accounts_are_rechecked_after_the_period(make_world: MakeWorld) -> None:
    world = await make_world(settings={"zoho_bulk_recheck_hours": 24})
    bulk = world.services.bulk_reads
    tracked = list(world.tracked.values())

    async def ensure() -> BulkVerdict | None:
        return await run(world, bulk.ensure(TEAM, await zoho(world), tracked, LEARNERS))

    first = await ensure()
    assert first is not None and first.on
    world.state.clear_calls()
    world.set_time(world.now() + timedelta(hours=23))
    assert await ensure() == first and world.state.calls == []  # still good: no calls
    world.state.bulk_shape = "disagree"
    world.set_time(world.now() + timedelta(hours=2))
    again = await ensure()
    assert again is not None and not again.on and again.kind == "disagreed"


async def test_a_due_recheck_waits_for_the_bulk_read_a_caller_needs_and_shares_it(make_world: MakeWorld) -> None:
    world = await make_world(settings={"zoho_bulk_recheck_hours": 24})
    bulk = world.services.bulk_reads
    tracked = list(world.tracked.values())

    async def ensure(fresh_for: float) -> BulkVerdict | None:
        return await run(world, bulk.ensure(TEAM, await zoho(world), tracked, LEARNERS, fresh_for=fresh_for))

    first = await ensure(3600)
    assert first is not None and first.on
    world.state.clear_calls()
    world.set_time(world.now() + timedelta(hours=25))  # the check is due
    # A caller content with the answers in hand (25 h old) makes no read, so the check waits too: no call at all.
    assert await ensure(30 * 3600) == first and world.state.calls == []
    # One that needs fresher answers gets them, and the check with them: every page read once, and the sample.
    again = await ensure(3600)
    assert again is not None and again.on and again.checked_at > first.checked_at
    assert calls(world, Endpoint.COURSE_PROGRESS) == 2 and calls(world, Endpoint.MODULE_PROGRESS) == 5 * len(tracked)
    # Put off by no more than another period: past it, the check is made whatever the caller can do with.
    world.state.clear_calls()
    world.set_time(world.now() + timedelta(hours=48))
    late = await ensure(100 * 3600)
    assert late is not None and late.checked_at > again.checked_at and calls(world, Endpoint.COURSE_PROGRESS) == 2


async def test_master_switch_off_spends_nothing_and_says_so(make_world: MakeWorld) -> None:
    world = await make_world(settings={"zoho_bulk_reads": "off"})
    bulk = world.services.bulk_reads
    verdict = await run(world, bulk.ensure(TEAM, await zoho(world), list(world.tracked.values()), LEARNERS))
    assert verdict is not None and not verdict.on and verdict.line() == "off: turned off (ZOHO_BULK_READS=off)"
    assert await prefilter(world) is None
    assert world.state.calls == []


async def test_status_shows_the_mode_of_the_zoho_account_and_why(make_world: MakeWorld) -> None:
    world = await make_world()

    async def line() -> str:
        report = await world.services.status.report(TEAM, "U0ADA")
        return text_of(dict(status_message(report)))

    assert "Zoho People bulk reads: not checked yet" in await line()
    await verify(world)
    assert "Zoho People bulk reads: on (verified 2026-03-30 06:00 UTC on 5 learners)" in await line()
    world.state.bulk_shape = "disagree"
    verdict = await verify(world)
    assert f"Zoho People bulk reads: off: disagreed with module-progress on learner {verdict.learner_id}" in (
        await line()
    )
    world.state.bulk_shape = "unparseable"
    await verify(world)
    assert "Zoho People bulk reads: off: answer could not be read" in await line()


def test_sandbox_ids_are_past_float_precision() -> None:
    assert seed.SAMPLE_LEARNER > 2**53  # so the alt shape's numeric ids exercise exact parsing


async def test_single_learner_course_progress_lists_what_module_progress_says_is_pending(
    plausible_world: World,
) -> None:
    world = plausible_world
    client = await zoho(world)
    ada = str(seed.SAMPLE_LEARNER)
    record = await run(world, client.learner_course_progress(str(seed.SELF_PACED_COURSE), ada))
    [call] = world.state.calls_for(Endpoint.LEARNER_COURSE_PROGRESS)
    assert call.query["progressType"] == ["1"] and call.status == 200
    assert record.learner_id == ada
    for tracked in world.tracked.values():
        if tracked.course_id == str(seed.SELF_PACED_COURSE):
            truth = await run(world, read(client, tracked, ada))
            status = record.module(tracked.module_id)
            assert status is not None and status.pending is not None
            assert (frozenset(status.pending) if truth != "locked" else "locked") == truth
    spring = world.state.course(seed.BLENDED_COURSE).batches[seed.BATCH_SPRING].learner_ids
    autumn_only = next(lid for lid in LEARNERS if int(lid) not in spring)
    with pytest.raises(NotFoundError):
        await run(
            world,
            client.learner_course_progress(str(seed.BLENDED_COURSE), autumn_only, batch_id=str(seed.BATCH_SPRING)),
        )


# --- the sweep: the reminders sent are exactly those of the per-module path ----------------------------------------

PRE_READING = 100004000000049021  # a pending link in Ada's Kick-off


async def two_days(make_world: MakeWorld, shape: str, **settings: object) -> tuple[list[list[str]], list[int], World]:
    """Two forced sweeps a day apart (Ada does an item in between): every DM's text, module-progress calls."""
    world = await make_world(settings=settings)
    world.state.bulk_shape = shape  # type: ignore[assignment]
    texts: list[list[str]] = []
    asked: list[int] = []
    for day in range(2):
        if day:
            with world.state.lock:
                world.state.progress[(seed.SAMPLE_LEARNER, PRE_READING)] = EntityProgress(completed=True)
            world.set_time(world.now() + timedelta(days=1))
        world.state.clear_calls()
        report = await world.sweep(force=True)
        assert not report.errors and not report.deferred, report
        asked.append(calls(world, Endpoint.MODULE_PROGRESS))
        assert calls(world, Endpoint.COURSE_PROGRESS) <= 2  # one page per tracked (course, batch), shared
        texts.append(sorted(f"{user}: {text_of(m)}" for user in PEOPLE for m in world.dms(user)))
    return texts, asked, world


@pytest.mark.parametrize("shape", ["default", "alt", "unparseable", "disagree"])
async def test_the_sweep_sends_exactly_what_the_per_module_path_sends(make_world: MakeWorld, shape: str) -> None:
    reference, per_module_calls, _ = await two_days(make_world, "default", zoho_bulk_reads="off")
    assert reference[0] and "Pre-reading" in "".join(reference[0]) and reference[0] != reference[1]
    sent, bulk_calls, world = await two_days(make_world, shape, zoho_bulk_recheck_hours=48)
    assert sent == reference
    verdict = await world.services.bulk_reads.verdict(TEAM)
    assert verdict is not None
    if shape in ("default", "alt"):
        assert verdict.on
        # Day one also pays for the check (5 learners x 5 modules, some of which the sweep would have skipped);
        # day two, still verified, reads only what the bulk answer cannot settle.
        print(f"module-progress calls, per-module path {per_module_calls}, with bulk reads {bulk_calls}")
        assert bulk_calls[0] <= per_module_calls[0] + 5 * len(world.tracked)
        assert bulk_calls[1] < per_module_calls[1]
    else:
        assert not verdict.on and verdict.kind == ("unreadable" if shape == "unparseable" else "disagreed")
        assert bulk_calls == per_module_calls  # the check's reads went through the cache and served the sweep


async def test_the_check_never_reads_a_module_a_learner_muted(make_world: MakeWorld) -> None:
    world = await make_world(people={u: PEOPLE[u] for u in ("U0ADA", "U0GRACE")})
    await world.services.preferences.mute(TEAM, "U0GRACE", world.tracked["feedback"].id)
    report = await world.sweep(force=True)
    assert {o.user_id for o in report.sent} == {"U0ADA", "U0GRACE"}
    verdict = await world.services.bulk_reads.verdict(TEAM)
    assert verdict is not None and verdict.on and str(PEOPLE["U0GRACE"]) in verdict.sample
    grace = [c.path for c in world.state.calls_for(Endpoint.MODULE_PROGRESS) if f"/{PEOPLE['U0GRACE']}/" in c.path]
    assert grace and not any(f"/modules/{seed.BL_FEEDBACK}/" in p for p in grace)


async def alan_after_a_fresh_look(make_world: MakeWorld, **settings: object) -> list[str]:
    """Alan checks `/lms progress`, then finishes Phishing Basics, then the sweep runs within the hour."""
    world = await make_world(settings={"zoho_bulk_sample": 1, **settings})
    await run(world, world.services.learning.progress(TEAM, "U0ALAN"))
    alan = PEOPLE["U0ALAN"]
    with world.state.lock:
        for entity in world.state.module(seed.SELF_PACED_COURSE, seed.SP_MODULE_1).entities:
            if entity.type == "embedLink":  # the one item left
                world.state.progress[(alan, entity.entity_id)] = EntityProgress(completed=True)
    world.set_time(world.now() + timedelta(minutes=10))
    if settings.get("zoho_bulk_reads") != "off":  # checked since, on someone else: the bulk answer is newer
        verdict = await verify(world)
        assert verdict.on and str(alan) not in verdict.sample, verdict
    await world.sweep(force=True)
    return [text_of(m) for m in world.dms("U0ALAN")]


async def test_a_fresh_cached_answer_is_used_as_the_per_module_path_would(make_world: MakeWorld) -> None:
    reference = await alan_after_a_fresh_look(make_world, zoho_bulk_reads="off")
    assert reference and "*Phishing Basics* · `security-1`" in reference[0]  # the fresh copy still lists it
    assert await alan_after_a_fresh_look(make_world) == reference
