"""iSpring webhooks tick a completion off the sent digest within a minute (issue 11, item 6), through the
bot's real web app: the sandbox's admin API completes the item and sends iSpring's signed events
(X-Hub-Signature = sha256(body + secret)) to the URL the demo registered. A bad signature is refused (401)
and changes nothing; a redelivered event is acknowledged and not processed twice."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from bot.devkit.devstack import ISPRING_WEBHOOK_SECRET, DevStack
from bot.reminders_cli import sweep_now
from tests.slack.conftest import command, text_of, wait_for

ALAN = "U0ALAN"


def ticked(stack: DevStack) -> list[Any]:
    channel = stack.slack.workspace.dm_channel(ALAN)
    return [
        c
        for c in stack.slack.calls_for("chat.update")
        if c.ok and c.args.get("channel") == channel and "~Anti-Bribery~" in text_of(c.args)
    ]


def filtered_reads(stack: DevStack, learner: str) -> int:
    """iSpring results reads for this one learner (what a webhook costs)."""
    return sum(1 for c in stack.sandbox.state.calls_for("ispring-results") if c.query.get("userIds[]") == [learner])


async def alans_digest(stack: DevStack) -> tuple[dict[str, Any], str]:
    assert stack.settings is not None
    report = await sweep_now(stack.settings, user=ALAN, force=True)
    assert [o.user_id for o in report.sent] == [ALAN], report.summary()
    [digest] = stack.slack.dm_messages(ALAN)
    assert "*Anti-Bribery* — iSpring" in text_of(digest)
    alan = next(u.user_id for u in stack.sandbox.state.ispring_users.values() if u.name == "Alan Turing")
    return dict(digest), alan


def complete_quietly(stack: DevStack, alan: str) -> None:
    """Alan finishes Anti-Bribery in iSpring; the sandbox records it but sends no webhook itself."""
    with stack.sandbox.state.lock:
        stack.sandbox.state.webhooks.clear()
        for result in stack.sandbox.state.ispring_results:
            if result.user_id == alan and result.module_title == "Anti-Bribery":
                result.completion_status = "complete"


async def test_a_completion_in_ispring_ticks_the_digest_off_within_a_minute(stack: DevStack) -> None:
    digest, alan = await alans_digest(stack)
    async with httpx.AsyncClient(base_url=stack.sandbox.url) as client:
        done = (await client.post("/_sandbox/complete", json={"learner": "Alan Turing", "item": "Anti-Bribery"})).json()
    assert done["lms"] == "ispring" and done["learner"] == alan
    assert [d["status"] for d in done["webhooks"]] == [200, 200, 200]  # answered at once, one per event type
    [update] = await wait_for(lambda: ticked(stack), timeout=60.0)
    assert update.args["ts"] == digest["ts"]
    assert "1 done already" in text_of(update.args)
    assert len(stack.slack.dm_messages(ALAN)) == 1  # edited in place, nothing new sent
    # Three events about the same completion: one read each at most, and the message edited once.
    assert filtered_reads(stack, alan) <= 3 and len(ticked(stack)) == 1


async def test_a_bad_signature_is_refused_and_changes_nothing(stack: DevStack) -> None:
    _, alan = await alans_digest(stack)
    complete_quietly(stack, alan)
    body = json.dumps({"type": "COURSE_COMPLETED_SUCCESSFULLY", "payloads": [{"learnerId": alan}]}).encode()
    forged = hashlib.sha256(body + b"not-the-secret").hexdigest()
    async with httpx.AsyncClient() as client:
        for headers in ({"X-Hub-Signature": forged}, {}):
            reply = await client.post(stack.ispring_webhook_url, content=body, headers=headers)
            assert reply.status_code == 401 and reply.text == "invalid signature"
        huge = await client.post(stack.ispring_webhook_url, content=b"x" * (300 * 1024))
        assert huge.status_code == 413
        odd_team = stack.ispring_webhook_url.rsplit("/", 1)[0] + "/T%0Aforged"
        assert (await client.post(odd_team, content=body, headers={"X-Hub-Signature": forged})).status_code == 404
    assert filtered_reads(stack, alan) == 0 and ticked(stack) == []  # refused before anything was done


async def test_duplicate_deliveries_are_processed_once(stack: DevStack) -> None:
    digest, alan = await alans_digest(stack)
    complete_quietly(stack, alan)
    body = json.dumps({"type": "COURSE_ITEM_COMPLETED_SUCCESSFULLY", "payloads": [{"learnerId": alan}]}).encode()
    signature = hashlib.sha256(body + ISPRING_WEBHOOK_SECRET.encode()).hexdigest()
    async with httpx.AsyncClient() as client:
        first = await client.post(stack.ispring_webhook_url, content=body, headers={"X-Hub-Signature": signature})
        assert first.status_code == 200
        [update] = await wait_for(lambda: ticked(stack), timeout=60.0)
        assert update.args["ts"] == digest["ts"]
        again = await client.post(stack.ispring_webhook_url, content=body, headers={"X-Hub-Signature": signature})
        assert again.status_code == 200  # acknowledged, so iSpring stops resending
    assert filtered_reads(stack, alan) == 1 and len(ticked(stack)) == 1


async def test_without_a_webhook_a_fresher_ispring_read_ticks_the_digest_off(stack: DevStack) -> None:
    """Webhooks not registered (or lost): Alan's own `/lms progress` reads iSpring afresh, and that is enough."""
    digest, alan = await alans_digest(stack)
    complete_quietly(stack, alan)
    progress = text_of(await command(stack, ALAN, "progress"))
    assert "*Anti-Bribery*" not in progress  # done work is counted, not listed
    [update] = await wait_for(lambda: ticked(stack), timeout=10.0)
    assert update.args["ts"] == digest["ts"] and "1 done already" in text_of(update.args)
    assert len(stack.slack.dm_messages(ALAN)) == 1


async def test_after_a_webhook_progress_agrees_with_the_ticked_digest(stack: DevStack) -> None:
    await alans_digest(stack)
    assert "*Anti-Bribery*" in text_of(await command(stack, ALAN, "progress"))  # read (and cached) before
    async with httpx.AsyncClient(base_url=stack.sandbox.url) as client:
        await client.post("/_sandbox/complete", json={"learner": "Alan Turing", "item": "Anti-Bribery"})
    await wait_for(lambda: ticked(stack), timeout=60.0)
    assert "*Anti-Bribery*" not in text_of(await command(stack, ALAN, "progress"))  # not the older copy
