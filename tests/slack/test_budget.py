"""The daily LMS call budget as people and admins meet it: signed requests in, the sandbox counting calls."""

from __future__ import annotations

import re

from tests.slack.conftest import command, text_of, wait_for

ADA, GRACE = "U0ADA", "U0GRACE"  # a learner; an admin
USED_UP = re.compile(
    r"The LMS's daily API budget for this workspace is used up; try again after \d\d:\d\d UTC( tomorrow)?"
)


async def test_progress_past_the_daily_budget_says_so_and_sends_nothing(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(zoho_daily_call_budget=2)
    reply = text_of(await command(stack, ADA, "progress"))
    # Four tracked modules, two calls left today: two modules answer, two say why they cannot.
    assert len(USED_UP.findall(reply)) == 2, reply
    assert "couldn't check 2 modules — the LMS did not answer" in reply
    assert len(stack.sandbox.state.calls_for("module-progress")) == 2  # counted at the LMS: never more
    plans = text_of(await command(stack, GRACE, "plans"))
    assert USED_UP.search(plans), plans
    assert not stack.sandbox.state.calls_for("learning-plans-progress")

    status = text_of(await command(stack, GRACE, "status"))
    assert "Zoho daily API budget" in status
    assert "2 of 2 calls used in the last 24 h (0 left)" in status
    assert "Today (UTC): 2 so far" in status
    learner_status = text_of(await command(stack, ADA, "status"))
    assert "daily API budget" not in learner_status  # admins only

    assert stack.driver is not None
    await stack.driver.app_home_opened(GRACE)
    home = text_of(await wait_for(lambda: stack.slack.home(GRACE)))
    assert "Zoho daily API budget" in home and "2 of 2 calls used in the last 24 h" in home
    lms_calls = [c for c in stack.sandbox.state.calls if not c.endpoint.endswith("token")]
    assert [c.endpoint for c in lms_calls] == ["module-progress", "module-progress"]
