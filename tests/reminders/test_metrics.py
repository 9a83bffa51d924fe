"""The worker's /metrics after real sweeps against the LMS sandbox and the Slack stand-in: every counter moves by
what the stand-ins saw (posts, edits, refusals, LMS calls), and no label carries a user, a team or a secret."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.devkit.sandbox import seed
from bot.devkit.sandbox.state import EntityProgress
from bot.lms.zoho import Endpoint
from bot.observability import ops_app
from bot.reminders.types import DIGEST_KEY
from tests.reminders.conftest import PEOPLE, TEAM, TRACKS, MakeWorld, World
from tests.support.metrics import Scrape

ADA, ALAN, EDSGER = "U0ADA", "U0ALAN", "U0EDSGER"
PRE_READING = 100004000000049021  # a pending link in Ada's Kick-off
# Monday 30 March 2026, 09:10 in London (BST), 10:10 in Berlin and Amsterdam: past everyone's 09:00 send time.
NINE_TEN = datetime(2026, 3, 30, 8, 10, tzinfo=UTC)

Scraper = Callable[[World], Any]


@pytest.fixture
async def scrape() -> AsyncIterator[Scraper]:
    """GET /metrics from the worker's own app (`lmsbot scheduler --metrics-port`), on the world's loop."""
    clients: list[httpx.AsyncClient] = []

    async def get(world: World) -> Scrape:
        if not clients:
            app = ops_app(world.services, lambda: {"role": "active"})
            clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker"))
        response = await clients[0].get("/metrics")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        return Scrape.parse(response.text)

    yield get
    for client in clients:
        await client.aclose()


async def held_world(make_world: MakeWorld) -> World:
    """Ada (London) due; Alan (Berlin) snoozed past his send time; Edsger (Amsterdam) in quiet hours from 10:05."""
    world = await make_world(NINE_TEN, people={u: PEOPLE[u] for u in (ADA, ALAN, EDSGER)})
    await world.prefs(ALAN, snoozed_until=NINE_TEN + timedelta(days=1))
    await world.prefs(EDSGER, quiet_start="10:05", quiet_end="14:00")
    return world


async def test_sweeps_move_the_reminder_slack_and_lms_counters_by_what_happened(
    make_world: MakeWorld, scrape: Scraper
) -> None:
    world = await held_world(make_world)
    before = await scrape(world)

    world.slack.fail_next("chat.postMessage", "ratelimited")  # Slack refuses Ada's first post: 429
    first = await world.sweep()
    assert first.sent == [] and len(first.failed) == 1, (first, first.summary())
    after_first = await scrape(world)
    assert (
        after_first.minus(before, "lmsbot_slack_api_calls_total", method="chat.postMessage", outcome="ratelimited") == 1
    )
    assert after_first.minus(before, "lmsbot_digests_sent_total") == 0

    world.set_time(NINE_TEN + timedelta(minutes=5))  # 09:15: the next sweep sends it, 15 minutes late
    second = await world.sweep()
    assert [o.user_id for o in second.sent] == [ADA]
    world.set_time(NINE_TEN + timedelta(minutes=10))
    third = await world.sweep()  # nothing new: Ada has hers, Alan and Edsger are still held
    assert third.sent == []
    after = await scrape(world)

    posts = [c for c in world.slack.calls_for("chat.postMessage")]
    assert (
        after.minus(before, "lmsbot_slack_api_calls_total", method="chat.postMessage", outcome="ok")
        == sum(1 for c in posts if c.ok)
        == 1
    )
    assert after.minus(before, "lmsbot_slack_api_calls_total", method="chat.postMessage") == len(posts) == 2
    assert after.minus(before, "lmsbot_digests_sent_total", kind="digest") == 1 == world.posts_to(ADA)
    # Held past the send time, once per sweep that held them: three sweeps each.
    assert after.minus(before, "lmsbot_digests_skipped_total", reason="snoozed") == 3
    assert after.minus(before, "lmsbot_digests_skipped_total", reason="quiet_hours") == 3
    assert world.posts_to(ALAN) == 0 and world.posts_to(EDSGER) == 0
    assert after.minus(before, "lmsbot_sweep_duration_seconds_count") == 3
    # The one digest reached Slack 15 minutes (900 s, virtual) after Ada's 09:00.
    assert after.minus(before, "lmsbot_digest_lateness_seconds_count") == 1
    assert after.minus(before, "lmsbot_digest_lateness_seconds_sum") == pytest.approx(900, abs=5)
    assert after.minus(before, "lmsbot_digest_lateness_seconds_bucket", le="600.0") == 0
    assert after.minus(before, "lmsbot_digest_lateness_seconds_bucket", le="900.0") == 1

    # Every LMS request the sandbox received is counted by endpoint; the cache's misses are the LMS reads.
    progress = world.state.calls_for(Endpoint.MODULE_PROGRESS)
    assert progress and after.minus(
        before, "lmsbot_lms_requests_total", provider="zoho", endpoint=Endpoint.MODULE_PROGRESS, outcome="ok"
    ) == len(progress)
    reports = (first, second, third)
    assert after.minus(before, "lmsbot_lms_cache_lookups_total", result="miss") == sum(r.lms_calls for r in reports)
    assert after.minus(before, "lmsbot_lms_cache_lookups_total", result="hit") == sum(r.cache_hits for r in reports)
    assert sum(r.cache_hits for r in reports) > 0  # the retried sweep reused the first one's answers

    # Ticked off in place: one edit, counted as an update, not a send.
    with world.state.lock:
        world.state.progress[(seed.SAMPLE_LEARNER, PRE_READING)] = EntityProgress(completed=True)
    world.set_time(NINE_TEN + timedelta(hours=2))
    assert len((await world.sweep()).updated) == 1
    edited = await scrape(world)
    assert edited.minus(after, "lmsbot_digests_updated_total", kind="digest") == 1
    assert edited.minus(after, "lmsbot_slack_api_calls_total", method="chat.update", outcome="ok") == 1
    assert edited.minus(after, "lmsbot_digests_sent_total") == 0

    # The daily budget gauge says what the shared limiter counted for the account: every Zoho API call.
    zoho_calls = len([c for c in world.state.calls if not c.endpoint.endswith("token")])
    [account] = edited.label_values("account")
    assert edited.value("lmsbot_lms_daily_budget_used", account=account) == zoho_calls
    limit = edited.value("lmsbot_lms_daily_budget_limit", account=account)
    assert edited.value("lmsbot_lms_daily_budget_remaining", account=account) == limit - zoho_calls

    for secret_or_id in (ADA, ALAN, EDSGER, TEAM, world.slack.workspace.bot_token, str(seed.SAMPLE_LEARNER)):
        assert secret_or_id not in edited.text


async def test_nothing_due_and_duplicates_prevented(make_world: MakeWorld, scrape: Scraper) -> None:
    # Only Phishing Basics tracked: Ada has finished it (nothing due), Alan has not.
    world = await make_world(NINE_TEN, people={ADA: PEOPLE[ADA], ALAN: PEOPLE[ALAN]}, tracks=TRACKS[:1])
    before = await scrape(world)
    # Another worker claims Alan's digest between this sweep's look at the sent log and its own claim.
    claim = world.services.reminders.claim

    async def raced(team: str, user: str, item: str, period: str, **kwargs: Any) -> Any:
        if (user, item) == (ALAN, DIGEST_KEY):
            assert await claim(team, user, item, period, **kwargs) is not None  # the other worker's
        return await claim(team, user, item, period, **kwargs)

    world.services.reminders.claim = raced  # type: ignore[method-assign]
    report = await world.sweep(force=True)
    after = await scrape(world)
    assert report.sent == [] and world.posts_to(ALAN) == 0  # the other worker sends it, not this one
    assert after.minus(before, "lmsbot_digests_duplicates_prevented_total", reason="claimed") == 1
    assert after.minus(before, "lmsbot_digests_skipped_total", reason="nothing_due") == report.nothing == 1
    assert world.posts_to(ADA) == 0


async def test_lms_rate_limit_waits_and_locks_are_counted(
    make_world: MakeWorld, sandbox_factory: Any, scrape: Scraper
) -> None:
    locking = sandbox_factory(rate_limit=10)  # the LMS allows less than our limiter assumes: it will lock
    world = await make_world(NINE_TEN, sandbox_server=locking)
    before = await scrape(world)
    report = await world.sweep(force=True)
    after = await scrape(world)
    refusals = [c for c in world.state.calls_for(Endpoint.MODULE_PROGRESS) if c.status == 422]
    assert refusals and len(report.sent) == 8
    labels = {"provider": "zoho", "endpoint": Endpoint.MODULE_PROGRESS}
    assert after.minus(before, "lmsbot_lms_locks_total", **labels) == len(refusals)
    assert after.minus(before, "lmsbot_lms_requests_total", outcome="rate_limited", **labels) == len(refusals)
    assert after.minus(before, "lmsbot_lms_requests_total", **labels) == len(
        world.state.calls_for(Endpoint.MODULE_PROGRESS)
    )
    # It waited out the lock (virtual time): counted as waits with the seconds waited.
    assert after.minus(before, "lmsbot_lms_ratelimit_waits_total", reason="locked", **labels) >= 1
    assert after.minus(before, "lmsbot_lms_ratelimit_wait_seconds_total", **labels) >= 250


async def test_a_message_found_in_slack_after_a_crash_counts_as_a_duplicate_prevented(
    make_world: MakeWorld, scrape: Scraper
) -> None:
    from tests.reminders.test_exactly_once import died_after_claiming

    world = await make_world(datetime(2026, 3, 30, 6, 0, tzinfo=UTC), people={ADA: seed.SAMPLE_LEARNER})
    before = await scrape(world)
    await died_after_claiming(world, slack_stored_it=True)
    report = await world.sweep(force=True)
    after = await scrape(world)
    assert len(report.recovered) == 1 and world.posts_to(ADA) == 0
    assert after.minus(before, "lmsbot_digests_duplicates_prevented_total", reason="found_in_slack") == 1
    assert after.minus(before, "lmsbot_digests_sent_total") == 0
    assert after.minus(before, "lmsbot_slack_api_calls_total", method="conversations.history", outcome="ok") == 1
