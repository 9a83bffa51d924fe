"""A sweep with a hostile LMS in it: only the learners who need that LMS wait; every other digest leaves on time.

The hostile server trickles its answers a byte at a time (it never finishes); the deadline is 6 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.lms import ispring
from tests.reminders.conftest import PEOPLE, TEAM, MakeWorld
from tests.support.hostile_lms import HostileLms, Mode

DEADLINE = 6.0  # long enough for the healthy workspace on a busy machine; the hostile one hangs past it
HOSTILE_TEAM = "T0AHOSTILE"  # sorted before the healthy one: a sequential sweep would reach it first


@pytest.fixture
def hostile() -> Iterator[HostileLms]:
    with HostileLms(Mode.SLOWLORIS, hostile_tokens=True, trickle_interval=0.2) as server:
        yield server


def posted_at(world: object, user: str) -> list[float]:
    slack = world.slack  # type: ignore[attr-defined]
    channel = slack.workspace.dm_channel(user)
    return [c.at for c in slack.calls_for("chat.postMessage") if c.ok and c.response.get("channel") == channel]


def first_hang_ends(hostile: HostileLms) -> float:
    """When lmsbot gave up on the hostile LMS's first answer (its first request plus the deadline)."""
    assert hostile.seen.first_request_at is not None
    return hostile.seen.first_request_at + DEADLINE


@pytest.mark.timeout(90)
async def test_a_hostile_workspace_does_not_delay_a_healthy_one(make_world: MakeWorld, hostile: HostileLms) -> None:
    world = await make_world(settings={"lms_call_deadline_seconds": DEADLINE})
    s = world.services
    await s.connections_repo.save_zoho(
        HOSTILE_TEAM,
        data_center=None,
        api_url=hostile.url,
        accounts_url=hostile.url,
        client_id="hostile-client",
        client_secret="hostile-secret",
        refresh_token="hostile-refresh",
        scopes=None,
        connected_by="t",
    )
    for user, learner in list(PEOPLE.items())[:4]:
        await s.links_repo.link(HOSTILE_TEAM, user, "zoho", str(learner), email=None, method="admin", linked_by="t")
    for alias, course in (("h1", "c1"), ("h2", "c2")):
        await s.modules_repo.track(HOSTILE_TEAM, "zoho", course, None, f"{alias}-module", alias=alias, created_by="t")

    report = await world.sweep(force=True)

    healthy = [o for o in report.sent if o.team_id == TEAM]
    assert sorted(o.user_id for o in healthy) == sorted(PEOPLE)  # every healthy digest went out
    assert {d.split(":")[0] for d in report.deferred} == set(list(PEOPLE)[:4])  # the hostile team's learners wait
    # ...and went out while the hostile LMS was still trickling its first answer, not after it.
    sent_times = [t for user in PEOPLE for t in posted_at(world, user)]
    assert len(sent_times) == len(PEOPLE)
    assert max(sent_times) < first_hang_ends(hostile), (max(sent_times), first_hang_ends(hostile))


@pytest.mark.timeout(90)
async def test_a_hostile_ispring_delays_only_its_learners(make_world: MakeWorld, hostile: HostileLms) -> None:
    world = await make_world(settings={"lms_call_deadline_seconds": DEADLINE, "ispring_api_url": hostile.ispring_url})
    ispring_people = list(PEOPLE)[:2]
    for user in ispring_people:
        await world.services.links_repo.link(
            TEAM, user, "ispring", f"ispring-{user}", email=None, method="admin", linked_by="t"
        )

    report = await world.sweep(force=True)

    assert sorted(o.user_id for o in report.sent) == sorted(set(PEOPLE) - set(ispring_people))
    assert sorted(d.split(":")[0] for d in report.deferred) == sorted(ispring_people)
    assert all("iSpring" in d for d in report.deferred)
    sent_times = [t for user in PEOPLE for t in posted_at(world, user)]
    assert max(sent_times) < first_hang_ends(hostile)  # the Zoho-only digests did not wait for iSpring


@pytest.mark.timeout(90)
async def test_an_lms_paging_without_end_does_not_hold_the_sweep(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = 3.0
    monkeypatch.setattr(ispring, "MAX_PAGES", 10**6)  # pages that never run out within any cap
    with HostileLms(Mode.ENDLESS_PAGES) as endless:
        world = await make_world(settings={"ispring_api_url": endless.ispring_url}, workspace_lms_seconds=budget)
        ispring_people = list(PEOPLE)[:2]
        for user in ispring_people:
            await world.services.links_repo.link(
                TEAM, user, "ispring", f"ispring-{user}", email=None, method="admin", linked_by="t"
            )
        started = time.monotonic()
        report = await world.sweep(force=True)
        took = time.monotonic() - started
    assert took < budget + 5, took  # the sweep ends, so the next one is not blocked behind it
    assert sorted(o.user_id for o in report.sent) == sorted(set(PEOPLE) - set(ispring_people))
    assert sorted(d.split(":")[0] for d in report.deferred) == sorted(ispring_people)
