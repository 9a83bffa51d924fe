"""Managers' `/lms results` (issue 11, item 11): names not ids, their team not the company, every row (pages and
a CSV), failed shown as failed. Signed requests in; what Slack shows and what iSpring was asked, out."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from bot.devkit.devstack import DevStack
from bot.devkit.sandbox.config import SandboxConfig
from tests.slack.conftest import command, text_of, wait_for

ADA, GRACE, MARGARET, ALAN, KATHERINE = "U0ADA", "U0GRACE", "U0MARGARET", "U0ALAN", "U0KATHERINE"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MARKS = (":warning:", ":x:", ":hourglass_flowing_sand:", ":white_check_mark:")


def result_lines(message: dict[str, Any]) -> list[str]:
    """The result lines a person reads (one per learner and module)."""
    return [line for line in text_of(message).splitlines() if line.startswith(MARKS) and " — " in line]


def department(stack: DevStack, name: str) -> str:
    return next(d.department_id for d in stack.sandbox.state.ispring_departments.values() if d.name == name)


async def click(stack: DevStack, user: str, action: str, message: dict[str, Any]) -> None:
    assert stack.driver is not None
    response = await stack.driver.block_action(user, action, message=message)
    assert response.status_code == 200, response.text


async def test_results_name_people_never_ids_and_show_failed_as_failed(stack: DevStack) -> None:
    reply = await command(stack, GRACE, "results all")  # the owner, asking for everyone
    lines = result_lines(reply)
    assert lines
    assert not [line for line in lines if UUID.search(line)], lines  # nobody shown as a raw iSpring id
    assert any("<@U0ADA>" in line for line in lines)  # resolved by e-mail to the Slack user
    failed = [line for line in lines if " · failed · " in line]
    assert failed and all(line.startswith(":x:") for line in failed), failed
    assert ":x:" in text_of(reply).split("\n")[2]  # the summary counts them as failed too


async def test_unlinked_learners_are_named_by_the_lms(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(SandboxConfig(learners=20))
    lines = result_lines(await command(stack, GRACE, "results all"))
    assert not [line for line in lines if UUID.search(line)]
    bulk = {
        u.name for u in stack.sandbox.state.ispring_users.values() if u.learner_id and u.learner_id > 10**17 + 10**11
    }
    assert any(name in line for line in lines for name in bulk)  # no Slack user: the LMS's own name


async def test_a_manager_sees_only_their_reports(stack: DevStack) -> None:
    reply = await command(stack, MARGARET, "results")  # Margaret supervises Engineering in iSpring
    shown = text_of(reply)
    assert "your team" in shown
    assert "<@U0KATHERINE>" in shown and "<@U0ADA>" not in shown and "<@U0ALAN>" not in shown
    (call,) = [c for c in stack.sandbox.state.calls_for("ispring-results")]
    assert call.query.get("departmentIds[]") == [department(stack, "Engineering")]
    assert stack.sandbox.state.calls_for("ispring-departments")


async def test_a_manager_can_be_mapped_to_departments_in_config(make_stack) -> None:  # type: ignore[no-untyped-def]
    probe = make_stack()
    sales = department(probe, "Sales")
    stack = make_stack(lmsbot_managers="U0MARGARET,U0ALAN", lmsbot_manager_departments=f"U0ALAN={sales}")
    shown = text_of(await command(stack, ALAN, "results"))
    assert "<@U0ADA>" in shown and "<@U0KATHERINE>" not in shown
    assert "everyone" not in shown


async def test_a_manager_without_a_team_is_told_how_to_get_one(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(lmsbot_managers="U0MARGARET,U0ALAN")
    shown = text_of(await command(stack, ALAN, "results"))
    assert "no team to show" in shown and "LMSBOT_MANAGER_DEPARTMENTS" in shown
    assert not stack.sandbox.state.calls_for("ispring-results")
    refused = text_of(await command(stack, MARGARET, "results all"))
    assert "Only admins can see everyone" in refused


async def test_paging_through_1500_results_with_buttons(make_stack) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(SandboxConfig(learners=300))
    total = len(
        [r for r in stack.sandbox.state.ispring_results if stack.sandbox.state.ispring_users[r.user_id].status == 1]
    )
    assert total >= 1500
    first = await command(stack, GRACE, "results all")
    assert f"Showing 1–40 of {total}" in text_of(first)
    assert "more results" not in text_of(first)  # no dead end "…and 1495 more"
    seen = result_lines(first)
    message = first
    pages = 1
    while True:
        texts = [e["text"]["text"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
        if not any(t.startswith("Next") for t in texts):
            break
        before = text_of(message)
        await click(stack, GRACE, "results_next", message)
        message = await wait_for(
            lambda before=before: (
                next((m for m in stack.slack.ephemerals(GRACE) if text_of(m) != before), None)
                if len(stack.slack.ephemerals(GRACE)) == 1
                else None
            )
        )
        seen += result_lines(message)
        pages += 1
    assert pages == -(-total // 40) and len(seen) == total  # every row, each once, in one message
    assert len(stack.slack.ephemerals(GRACE)) == 1  # replaced in place, not piled up
    last = text_of(message)
    await click(stack, GRACE, "results_prev", message)
    back = await wait_for(lambda: next((m for m in stack.slack.ephemerals(GRACE) if text_of(m) != last), None))
    start = (pages - 2) * 40 + 1
    assert f"Showing {start}–{start + 39} of {total}" in text_of(back)
    assert len(stack.sandbox.state.calls_for("ispring-results")) <= 2  # pages come from the cached list


async def test_csv_export_of_the_filtered_list(stack: DevStack) -> None:
    reply = await command(stack, MARGARET, "results overdue")
    shown = result_lines(reply)
    await click(stack, MARGARET, "results_csv", reply)
    sent = await wait_for(lambda: [m for m in stack.slack.ephemerals(MARGARET) if "Sent the CSV" in text_of(m)])
    assert f"({len(shown)} rows)" in text_of(sent[0])
    channel = stack.slack.workspace.dm_channel(MARGARET)
    (upload,) = stack.slack.shared_files(channel)
    assert upload.filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO((upload.content or b"").decode())))
    assert len(rows) == len(shown) and all(r["overdue"] == "yes" for r in rows)
    assert {r["learner"] for r in rows} <= {u.name for u in stack.sandbox.state.ispring_users.values()}
    assert "Katherine Johnson" in {r["learner"] for r in rows}
    assert not [r for r in rows if r["learner"] == "Ada Lovelace"]  # still only her team
    assert [c.method for c in stack.slack.calls if c.method.startswith("files.")] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    posted = [m for m in stack.slack.dm_messages(MARGARET) if m.get("files")]
    assert posted and "rows" in posted[0]["text"]


async def test_csv_export_without_the_files_scope_says_what_to_do(stack: DevStack) -> None:
    reply = await command(stack, MARGARET, "results")
    stack.slack.fail_next("files.getUploadURLExternal", "missing_scope", retry_after=None)
    await click(stack, MARGARET, "results_csv", reply)
    told = await wait_for(lambda: [m for m in stack.slack.ephemerals(MARGARET) if "files:write" in text_of(m)])
    assert "reinstall" in text_of(told[0]) and "Traceback" not in text_of(told[0])
    assert not stack.slack.shared_files(stack.slack.workspace.dm_channel(MARGARET))


async def test_departments_refused_by_ispring_is_said_plainly(stack: DevStack) -> None:
    stack.sandbox.state.inject_fault("ispring-departments", status=403, count=5)
    shown = text_of(await command(stack, MARGARET, "results"))
    assert "no team to show" in shown and "departments could not be read" in shown, shown
    assert not stack.sandbox.state.calls_for("ispring-results")
