"""Finished work stops being nagged within minutes (issue 11, item 6): whichever surface reads fresher data
for a learner (a command, Home, the sweep, an iSpring webhook), their digests of the last REMINDER_RECENT_DAYS
are edited in place at once (chat.update) and the headline says what is done already. The learner's
completion is made through the sandbox's admin API (item 15), as a newcomer does it in the demo."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from bot.devkit.sandbox import seed
from bot.devkit.slackstub.render import render_message
from bot.lms.ispring_models import ModuleResult
from handlers.views import progress_message
from tests.reminders.conftest import MONDAY, PEOPLE, TEAM, MakeWorld, World
from tests.support.slack import text_of

PRE_READING = "100004000000049021"  # a pending link in Ada's Kick-off


def use_engine_for_tickoff(world: World) -> None:
    async def updater(team: str, user: str, ispring: list[ModuleResult] | None) -> None:
        await world.engine.tick_off(team, user, ispring=ispring)

    world.services.tickoff.set_updater(updater)


async def admin(world: World, path: str, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=world.sandbox.url) as client:
        reply = await client.post(path, json=body)
    assert reply.status_code == 200, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


def updates(world: World) -> list[dict[str, Any]]:
    return [c.args for c in world.slack.calls_for("chat.update") if c.ok]


async def test_lms_progress_after_a_completion_ticks_the_digest_off_at_once(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": seed.SAMPLE_LEARNER})
    use_engine_for_tickoff(world)
    await world.sweep(force=True)
    [message] = world.dms("U0ADA")
    assert "*Pre-reading*" in text_of(message) and "done already" not in text_of(message)
    world.set_time(MONDAY + timedelta(minutes=2))  # within LMS_CACHE_SECONDS: pending work is re-read all the same
    done = await admin(world, "/_sandbox/complete", learner="Ada Lovelace", item="Pre-reading")
    assert done == {"ok": True, "lms": "zoho", "learner": str(seed.SAMPLE_LEARNER), "item": PRE_READING, "webhooks": []}
    # Ada asks: /lms progress shows it done ...
    statuses = await world.services.learning.progress(TEAM, "U0ADA", "kickoff")
    seen = text_of(progress_message(statuses, can_edit=False))  # type: ignore[arg-type]
    assert ":white_check_mark: :link: *Pre-reading* (Link, mandatory) · Completed" in seen, seen
    assert "*Nothing due*" in seen
    # ... and the digest she got this morning is edited in place at once, headline included.
    await world.services.tickoff.idle()
    [update] = updates(world)
    assert update["ts"] == message["ts"]
    [after] = world.dms("U0ADA")
    assert "~Pre-reading~" in text_of(after) and "1 done already" in text_of(after)
    assert world.posts_to("U0ADA") == 1
    # Asking again (a cache hit, nothing fresher) edits nothing more.
    await world.services.learning.progress(TEAM, "U0ADA", "kickoff")
    await world.services.tickoff.idle()
    assert len(updates(world)) == 1


async def test_the_next_sweep_ticks_a_completion_off_within_minutes(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": seed.SAMPLE_LEARNER})
    await world.sweep(force=True)
    [message] = world.dms("U0ADA")
    await admin(world, "/_sandbox/complete", learner=str(seed.SAMPLE_LEARNER), item=PRE_READING)
    world.set_time(MONDAY + timedelta(minutes=15))  # a few sweeps later, not an hour
    report = await world.sweep()
    assert len(report.updated) == 1, report.summary()
    [update] = updates(world)
    assert update["ts"] == message["ts"] and "1 done already" in text_of(world.dms("U0ADA")[0])


async def test_remind_now_ticks_a_completion_off_a_minute_later(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0ADA": seed.SAMPLE_LEARNER})
    await world.sweep(force=True)
    await admin(world, "/_sandbox/complete", learner="ada", item="Pre-reading")
    world.set_time(MONDAY + timedelta(minutes=2))
    assert (await world.sweep()).updated == []  # a scheduled sweep waits for REMINDER_REFRESH_AFTER_SECONDS
    report = await world.sweep(force=True)  # `lmsbot remind --now`
    assert len(report.updated) == 1 and report.sent == [], report.summary()
    assert "1 done already" in text_of(world.dms("U0ADA")[0])


async def test_only_the_learners_own_recent_digests_are_touched(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={u: PEOPLE[u] for u in ("U0ADA", "U0GRACE")})
    use_engine_for_tickoff(world)
    await world.sweep(force=True)
    world.set_time(MONDAY + timedelta(minutes=10))
    await admin(world, "/_sandbox/complete", learner="ada", item="Pre-reading")
    await world.services.learning.progress(TEAM, "U0GRACE")  # Grace's fresher data: nothing of hers is done
    await world.services.tickoff.idle()
    assert updates(world) == []
    assert "1 done already" not in render_message(world.dms("U0ADA")[0])
