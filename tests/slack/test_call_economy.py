"""Commands and App Home spend few LMS and Slack calls (issue 10, items 3 and 4), end to end: LMS calls counted at
the sandbox (`GET /_sandbox/calls`), Slack's at the stand-in (Web API calls and the connections they came on)."""

from __future__ import annotations

from typing import Any

import httpx

from bot.container import build_services
from bot.devkit.devstack import DevStack
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.state import Entity, Module
from handlers.views import HOME_REFRESH_ACTION
from handlers.views.progress import PROGRESS_MORE_ACTION
from tests.slack.conftest import command, text_of, wait_for

Json = dict[str, Any]
ADA = "U0ADA"
BARBARA = "U0BARBARA"  # in the blended course's autumn batch: not enrolled in the spring batch's tracked modules
TRACKED = 30


async def lms_calls(stack: DevStack) -> list[Json]:
    """The LMS calls the sandbox received, token requests left out."""
    async with httpx.AsyncClient() as client:
        response = await client.get(stack.sandbox.url + "/_sandbox/calls")
    response.raise_for_status()
    return [c for c in response.json() if "/oauth/" not in c["path"]]


async def module_calls(stack: DevStack) -> list[Json]:
    """The per-module calls (progress, and a locked module's settings): what grows with the tracked modules."""
    return [c for c in await lms_calls(stack) if c["endpoint"] in ("module-progress", "single-module")]


async def clear_lms_calls(stack: DevStack) -> None:
    async with httpx.AsyncClient() as client:
        (await client.post(stack.sandbox.url + "/_sandbox/calls/clear")).raise_for_status()


async def track_many(stack: DevStack, total: int) -> None:
    """Modules added to the self-paced course in the sandbox and tracked, up to `total` tracked in all."""
    assert stack.settings is not None
    course = next(c for c in stack.sandbox.state.courses.values() if c.course_id == seed.SELF_PACED_COURSE)
    services = build_services(stack.settings)
    try:
        team = stack.slack.workspace.team_id
        already = len(await services.tracking.list(team))
        for i in range(total - already):
            module_id = 100004000000900000 + i * 10
            course.modules.append(
                Module(module_id, f"Extra {i}", 10 + i, entities=[Entity(module_id + 1, f"Guide {i}", "embedLink")])
            )
            await services.modules_repo.track(
                team, "zoho", str(course.course_id), None, str(module_id), alias=f"extra-{i}", created_by="t"
            )
        assert len(await services.tracking.list(team)) == total
    finally:
        await services.aclose()


async def test_not_enrolled_is_remembered_so_asking_again_costs_no_lms_call(stack: DevStack) -> None:
    first = await command(stack, BARBARA, "progress")
    assert "not enrolled" in text_of(first)
    assert any(c["status"] == 404 for c in await lms_calls(stack))  # the LMS said so, once
    await clear_lms_calls(stack)
    again = await command(stack, BARBARA, "progress")
    assert "not enrolled" in text_of(again)
    assert await lms_calls(stack) == []


async def test_many_tracked_modules_cost_at_most_a_page_of_calls_and_a_button_shows_the_rest(stack: DevStack) -> None:
    assert stack.driver is not None
    await track_many(stack, TRACKED)
    await clear_lms_calls(stack)
    reply = await command(stack, ADA, "progress")
    first_calls = await module_calls(stack)
    assert 0 < len(first_calls) <= 10, [c["path"] for c in first_calls]
    ispring = [c for c in await lms_calls(stack) if str(c["endpoint"]).startswith("ispring")]
    assert len(ispring) <= 2, ispring  # the learner's own iSpring modules: a token and one results read
    assert "Modules 1–10 of 30 tracked." in text_of(reply)
    assert "Show modules 11–20 of 30" in text_of(reply)

    await clear_lms_calls(stack)
    before = len(stack.slack.ephemerals(ADA))
    await stack.driver.block_action(ADA, PROGRESS_MORE_ACTION, message=reply)
    replies = await wait_for(lambda: stack.slack.ephemerals(ADA)[before:])
    second = text_of(replies[-1])
    assert "Modules 11–20 of 30 tracked." in second and "Extra" in second
    assert "Show modules 21–30 of 30" in second
    assert 0 < len(await module_calls(stack)) <= 10


async def test_home_reads_the_cache_first_and_at_most_a_page_from_the_lms(stack: DevStack) -> None:
    assert stack.driver is not None
    await track_many(stack, TRACKED)
    await clear_lms_calls(stack)
    await stack.driver.app_home_opened(ADA)
    home = await wait_for(lambda: stack.slack.home(ADA))
    assert "Showing 10 of 30 tracked modules" in text_of(home)
    assert len(await module_calls(stack)) <= 10  # and one sessions call per blended module, one plans call
    await clear_lms_calls(stack)
    publishes = len(stack.slack.calls_for("views.publish"))
    await stack.driver.app_home_opened(ADA)  # the first ten come from the cache now; ten more from the LMS
    await wait_for(lambda: len(stack.slack.calls_for("views.publish")) > publishes)
    assert "Showing 20 of 30 tracked modules" in text_of(stack.slack.home(ADA))
    assert 0 < len(await module_calls(stack)) <= 10
    await clear_lms_calls(stack)
    publishes = len(stack.slack.calls_for("views.publish"))
    await stack.driver.block_action(ADA, HOME_REFRESH_ACTION, view=stack.slack.home(ADA))  # the last ten
    await wait_for(lambda: len(stack.slack.calls_for("views.publish")) > publishes)
    assert "Showing" not in text_of(stack.slack.home(ADA))  # all 30 now (twenty from their cached copies)
    assert 0 < len(await module_calls(stack)) <= 10


async def test_replies_and_web_api_calls_share_one_connection_pool(stack: DevStack) -> None:
    assert stack.driver is not None
    for _ in range(4):
        await command(stack, ADA, "help")
        await stack.driver.app_home_opened(ADA)
    await wait_for(lambda: len(stack.slack.calls_for("views.publish")) >= 4)
    calls = stack.slack.calls
    assert len(calls) >= 8
    # Kept-alive connections, not one per call (Bolt's own first auth.test may use one of its own, and a loaded
    # machine may let the server close an idle one): before, every call came on a new connection.
    assert stack.slack.connections * 3 <= len(calls), (len(calls), stack.slack.peers)
