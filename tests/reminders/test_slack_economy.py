"""A sweep to many learners on Slack's terms (issue 10, item 4): no conversations.open per learner, within every
method's tier (the stand-in enforces them here, answering `ratelimited` beyond), on one pool of connections."""

from __future__ import annotations

from storage.repositories.dm_channels import DmChannelRepository
from tests.reminders.conftest import MONDAY, TEAM, MakeWorld

LEARNERS = 80  # more DMs than conversations.open's Tier 3 allows in a minute (50)


async def test_a_sweep_to_many_learners_opens_no_dm_stays_within_tiers_and_reuses_connections(
    make_world: MakeWorld,
) -> None:
    world = await make_world(MONDAY, people={}, learners=LEARNERS)
    generated = sorted(lid for lid in world.state.learners if lid >= 100002000100000000)
    assert len(generated) == LEARNERS
    for i, learner in enumerate(generated):
        user = f"U0GEN{i:03d}"
        world.slack.workspace.add_user(user, f"gen{i}", f"Generated {i}", f"gen{i}@example.com", "Europe/London")
        links = world.services.links_repo
        await links.link(TEAM, user, "zoho", str(learner), email=None, method="admin", linked_by="t")
    world.slack.clear()

    report = await world.sweep(force=True)

    assert report.failed == []
    assert len(report.sent) > 50, len(report.sent)  # enough DMs that one conversations.open each would exceed Tier 3
    assert world.slack.calls_for("conversations.open") == []
    limited = [c.method for c in world.slack.calls if c.response.get("error") == "ratelimited"]
    assert limited == []
    posts = world.slack.calls_for("chat.postMessage")
    assert len(posts) == len(report.sent) and all(c.ok for c in posts)
    # Each DM went to the user id; Slack's answer named the DM, which is kept for history checks and edits.
    first = report.sent[0].user_id
    stored = await DmChannelRepository(world.services.db).get(TEAM, first)  # in the database, for every process
    assert stored == world.slack.workspace.dm_channel(first)
    assert world.slack.connections <= 4, world.slack.connections  # one pool, not a connection per call
