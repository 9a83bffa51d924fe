"""The scheduler keeps counts, not payloads (issue 10): a sweep's memory does not grow with the learners' answers
and sent digests. The same steady-state sweep over N and over 4N learners (each with a cached answer per module
and a week of sent digests to keep up to date) must peak within a small allowance per extra learner; reading the
whole workspace's answers and digests at once costs tens of KiB per learner and fails it."""

from __future__ import annotations

import tracemalloc
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bot.reminders.types import DIGEST_KEY
from bot.services.lms_queries import progress_key
from storage.models import LearnerLinkRow, LmsCacheRow, ReminderPreferenceRow, SentReminderRow
from tests.reminders.conftest import MONDAY, PEOPLE, TEAM, MakeWorld, World

TEMPLATE_USER = "U0ADA"  # whose real answers and digest the extra learners get copies of
SMALL, LARGE = 20, 80
# Sweep memory allowed per extra learner: what a sweep keeps per learner (link, preferences, the planner's memo)
# comes to about 8 KiB; reading every learner's answers and digests at once costs over 140 KiB.
PER_EXTRA_LEARNER = 16 * 1024
SWEEP_AT = MONDAY + timedelta(hours=1)


async def _steady_world(make_world: MakeWorld, extra: int) -> World:
    """The demo world after a forced sweep, plus `extra` learners whose answers are cached (fresh) and who got a
    digest on each of the last 7 days; their next digest is due later today, so the sweep sends nothing."""
    world = await make_world(MONDAY, sweep_batch=10, session_day_before_hours=0, session_soon_minutes=0)
    await world.sweep(force=True)
    store = world.services.cache.store
    learner = str(PEOPLE[TEMPLATE_USER])
    answers: dict[int, Any] = {}
    for tracked in world.tracked.values():
        cached = await store.get(progress_key(TEAM, tracked, learner))
        if cached is not None:
            answers[tracked.id] = cached[0]
    [sent] = [
        r for r in await world.engine.state.recent(TEAM, [DIGEST_KEY], MONDAY) if r.slack_user_id == TEMPLATE_USER
    ]
    assert answers and sent.payload
    world.set_time(SWEEP_AT)
    now = world.now()
    links, prefs, cache, digests = [], [], [], []
    for k in range(extra):
        user, zoho = f"U9{k:05d}", f"9{k:05d}"
        links.append(
            {
                "team_id": TEAM,
                "slack_user_id": user,
                "provider": "zoho",
                "learner_id": zoho,
                "email": None,
                "method": "admin",
                "linked_by": "t",
                "linked_at": now,
            }
        )
        prefs.append(
            {"team_id": TEAM, "slack_user_id": user, "send_time": "18:00", "timezone": "UTC", "updated_at": now}
        )
        for tracked in world.tracked.values():
            if tracked.id in answers:
                key = progress_key(TEAM, tracked, zoho)
                cache.append({"key": key, "payload": answers[tracked.id], "fetched_at": now})
        for days in range(1, 8):
            day: datetime = now - timedelta(days=days)
            digests.append(
                {
                    "team_id": TEAM,
                    "slack_user_id": user,
                    "item_key": DIGEST_KEY,
                    "period": day.date().isoformat(),
                    "status": "sent",
                    "claim_token": "t",
                    "claimed_at": day,
                    "sent_at": day,
                    "channel_id": f"D{user}",
                    "message_ts": f"{day.timestamp():.6f}",
                    "payload": sent.payload,
                }
            )
    async with world.services.db.transaction() as session:
        for model, rows in (
            (LearnerLinkRow, links),
            (ReminderPreferenceRow, prefs),
            (LmsCacheRow, cache),
            (SentReminderRow, digests),
        ):
            await session.execute(insert(model), rows)
    return world


async def _sweep_peak(world: World, extra: int) -> int:
    """The most memory the sweep held above what was allocated when it began (bytes, Python allocations)."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        report = await world.sweep()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not report.errors and not report.failed
    assert not [s for s in report.sent if s.user_id.startswith("U9")]  # nobody extra was due: nothing sent
    assert report.learners == len(PEOPLE) + extra
    return peak - before


async def test_a_sweeps_memory_does_not_grow_with_the_learners_answers_and_digests(make_world: MakeWorld) -> None:
    small = await _steady_world(make_world, SMALL)
    small_peak = await _sweep_peak(small, SMALL)
    large = await _steady_world(make_world, LARGE)
    large_peak = await _sweep_peak(large, LARGE)
    allowed = (LARGE - SMALL) * PER_EXTRA_LEARNER
    assert large_peak - small_peak < allowed, (
        f"sweep peak {small_peak / 1024:.0f} KiB over {SMALL} extra learners, {large_peak / 1024:.0f} KiB over"
        f" {LARGE}: {(large_peak - small_peak) / (LARGE - SMALL):.0f} bytes per extra learner"
    )
