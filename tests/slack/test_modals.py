"""Modals end to end: module edit (prefill, inline validation, PATCH, audit, confirmation), tracking, connecting."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.devkit.devstack import DevStack
from bot.devkit.sandbox import seed
from tests.slack.conftest import command, text_of, wait_for

ADA, GRACE, ALAN = "U0ADA", "U0GRACE", "U0ALAN"
M1 = str(seed.SP_MODULE_1)


def _values(name: str, duration: str | None, lock_type: str, lock_until: str | None) -> dict[str, dict[str, object]]:
    values: dict[str, dict[str, object]] = {
        "module_edit_name": {"name": name},
        "module_edit_lock_type": {"lock_type": lock_type},
    }
    if duration is not None:
        values["module_edit_duration"] = {"duration": duration}
    if lock_until is not None:
        values["module_edit_lock_until"] = {"lock_until": lock_until}
    return values


async def _open_edit_form(stack: DevStack, user: str, ref: str) -> dict[str, object]:
    assert stack.driver is not None
    response = await stack.driver.command(user, f"edit-module {ref}")
    assert response.status_code == 200
    return await wait_for(
        lambda: (m := stack.slack.top_modal(user)) and m.get("callback_id") == "module_edit" and m, timeout=10
    )


async def test_edit_module_prefills_patches_audits_and_confirms(stack: DevStack) -> None:
    assert stack.driver is not None
    form = await _open_edit_form(stack, GRACE, "security-1")
    shown = text_of(form)
    assert "Phishing Basics" in str(form)  # prefilled from the LMS
    assert "Locked until a date" in shown and "Unlocked" in shown
    until = date.today() + timedelta(days=20)
    response = await stack.driver.view_submission(
        GRACE, form, _values("Phishing basics 2", "45", "1", until.isoformat())
    )
    assert response.status_code == 200 and response.json()["response_action"] == "update"
    done = await wait_for(lambda: "Module updated" in text_of(stack.slack.top_modal(GRACE) or {}) and True)
    assert done
    (patch,) = stack.sandbox.state.calls_for("update-module")
    assert patch.method == "PATCH" and patch.path == f"/api/v1/courses/{seed.SELF_PACED_COURSE}/modules/{M1}"
    assert patch.module_data == {
        "name": "Phishing basics 2",
        "duration": 45,
        "description": patch.module_data["description"] if patch.module_data else None,
        "lockType": 1,
        "lockUntil": until.strftime("%d-%m-%Y"),
    }
    dm = await wait_for(lambda: stack.slack.dm_messages(GRACE))
    assert "Phishing basics 2" in text_of(dm[-1])
    # The audit row, read straight from the database.
    assert stack.settings is not None
    engine = create_engine(stack.settings.database_url)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT actor, action, target, new_values FROM audit_log WHERE action='update_module'")
        ).one()
    engine.dispose()
    assert row.actor == GRACE and row.target == f"module:{M1}" and "Phishing basics 2" in str(row.new_values)
    # Learners now see the module locked until that date.
    progress = text_of(await command(stack, ADA, "progress security-1"))
    assert "locked until" in progress.lower() and str(until.year) in progress


def _with_description(values: dict[str, dict[str, object]], description: str) -> dict[str, dict[str, object]]:
    return {**values, "module_edit_description": {"description": description}}


_YESTERDAY = (date.today() - timedelta(days=2)).isoformat()  # two days: yesterday anywhere on Earth


@pytest.mark.parametrize(
    ("values", "block"),
    [
        (_values("", "45", "0", None), "module_edit_name"),
        (_values("Name", "45", "1", None), "module_edit_lock_until"),
        (_values("N" * 256, "45", "0", None), "module_edit_name"),
        (_values("Name", "100001", "0", None), "module_edit_duration"),
        (_values("Name", "45", "1", _YESTERDAY), "module_edit_lock_until"),
        # Within Slack's character cap, but 18,000 characters once percent-encoded into the PATCH URL.
        (_with_description(_values("Name", "45", "0", None), "日本" * 1000), "module_edit_description"),
        # Past what a URL can carry at all (httpx refuses URLs over 64 KiB with InvalidURL).
        (_with_description(_values("Name", "45", "0", None), "日" * 8000), "module_edit_description"),
    ],
)
async def test_invalid_submission_shows_inline_errors_and_sends_nothing(
    stack: DevStack, values: dict[str, dict[str, object]], block: str
) -> None:
    assert stack.driver is not None
    form = await _open_edit_form(stack, GRACE, "security-1")
    response = await stack.driver.view_submission(GRACE, form, values)
    body = response.json()
    assert body["response_action"] == "errors" and block in body["errors"]
    assert not stack.sandbox.state.calls_for("update-module")


async def test_edit_form_caps_what_people_can_type(stack: DevStack) -> None:
    form = await _open_edit_form(stack, GRACE, "security-1")
    elements = {b["block_id"]: b["element"] for b in form["blocks"] if b.get("type") == "input"}  # type: ignore[attr-defined]
    assert elements["module_edit_name"]["max_length"] == 255
    assert elements["module_edit_description"]["max_length"] == 2000
    assert elements["module_edit_duration"]["max_value"] == "100000"


async def test_longest_allowed_plain_description_is_saved(stack: DevStack) -> None:
    assert stack.driver is not None
    form = await _open_edit_form(stack, GRACE, "security-1")
    description = ("Report phishing to security. " * 70)[:2000]
    values = _with_description(_values("P" * 255, "100000", "0", None), description)
    response = await stack.driver.view_submission(GRACE, form, values)
    assert response.json()["response_action"] == "update"
    await wait_for(lambda: "Module updated" in text_of(stack.slack.top_modal(GRACE) or {}) and True)
    (patch,) = stack.sandbox.state.calls_for("update-module")
    assert patch.module_data is not None and patch.module_data["description"] == description
    assert patch.module_data["duration"] == 100000


async def test_trainers_may_edit_but_learners_may_not(stack: DevStack) -> None:
    assert stack.driver is not None
    refused = text_of(await command(stack, ADA, "edit-module security-1"))
    assert "Only workspace admins and trainers" in refused
    assert not stack.slack.calls_for("views.open")
    form = await _open_edit_form(stack, ALAN, "security-1")  # LMSBOT_TRAINERS includes Alan
    # A learner replaying a submission is refused, and nothing reaches Zoho.
    response = await stack.driver.view_submission(ADA, form, _values("Hacked", None, "0", None))
    assert response.json()["response_action"] == "errors"
    assert not stack.sandbox.state.calls_for("update-module")


async def test_lms_error_on_save_is_shown_in_plain_words(stack: DevStack) -> None:
    assert stack.driver is not None
    form = await _open_edit_form(stack, GRACE, "security-1")
    stack.sandbox.state.inject_fault("update-module", status=403)
    await stack.driver.view_submission(GRACE, form, _values("X", None, "0", None))
    failed = await wait_for(lambda: "not updated" in text_of(stack.slack.top_modal(GRACE) or {}) and True)
    assert failed


async def test_edit_module_picker_without_argument(stack: DevStack) -> None:
    assert stack.driver is not None
    await stack.driver.command(GRACE, "edit-module")
    picker = await wait_for(lambda: stack.slack.top_modal(GRACE))
    assert "kickoff" in str(picker)
    tracked = next(t for t in await _tracked(stack) if t == "kickoff")
    assert tracked
    await stack.driver.block_action(GRACE, "module_edit_pick", view=picker, selected_option=_option(picker, "kickoff"))
    form = await wait_for(lambda: (m := stack.slack.top_modal(GRACE)) and m.get("callback_id") == "module_edit" and m)
    assert "Kick-off" in str(form)


async def _tracked(stack: DevStack) -> list[str]:
    return ["security-1", "security-2", "kickoff", "office-hours"]


def _option(view: dict[str, object], label: str) -> str:
    def walk(node: object) -> str | None:
        if isinstance(node, dict):
            if "value" in node and label in str(node.get("text", "")):
                return str(node["value"])
            for value in node.values():
                if (found := walk(value)) is not None:
                    return found
        if isinstance(node, list):
            for item in node:
                if (found := walk(item)) is not None:
                    return found
        return None

    found = walk(view.get("blocks"))
    assert found is not None, f"no option {label}"
    return found


async def test_zoho_connect_flow_through_its_redirects(stack: DevStack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    reply = await command(stack, GRACE, "connect zoho")
    url = next(e["url"] for b in reply["blocks"] if b.get("type") == "actions" for e in b["elements"] if e.get("url"))
    assert stack.web is not None and stack.settings is not None
    url = url.replace(stack.settings.lmsbot_public_url, stack.web.base_url)  # the browser reaches the bot here
    async with httpx.AsyncClient() as browser:
        start = await browser.get(url)
        assert start.status_code == 302 and start.headers["location"].startswith(stack.sandbox.url + "/oauth/v2/auth")
        consent = await browser.get(start.headers["location"])
        assert consent.status_code == 302
        callback = consent.headers["location"].replace(stack.settings.lmsbot_public_url, stack.web.base_url)
        done = await browser.get(callback)
        assert done.status_code == 200 and "connected" in done.text
        again = await browser.get(callback)  # the state is single-use
        assert again.status_code == 400 and "expired or was already used" in again.text
    dm = await wait_for(lambda: stack.slack.dm_messages(GRACE))
    assert "Zoho People is connected" in text_of(dm[-1])
    # Stored encrypted: the minted refresh token appears nowhere in the database or the logs.
    minted = list(stack.sandbox.state.minted_refresh)
    assert minted
    engine = create_engine(stack.settings.database_url)
    with engine.connect() as conn:
        dump = str(conn.execute(text("SELECT * FROM provider_connections")).all())
    engine.dispose()
    assert "zoho" in dump and all(token not in dump for token in minted)
    tokens = [t.token for t in stack.sandbox.state.tokens.values()]
    secrets = [*minted, *tokens, stack.sandbox.config.zoho_client_secret]
    assert all(secret not in caplog.text for secret in secrets)
    # The new connection is used: progress still works through the stored refresh token.
    assert "Phishing Basics" in text_of(await command(stack, ADA, "progress security-1"))


async def test_connect_ispring_modal_checks_the_key_first(stack: DevStack) -> None:
    assert stack.driver is not None
    await stack.driver.command(GRACE, "connect ispring")
    modal = await wait_for(lambda: stack.slack.top_modal(GRACE))
    bad = {"ispring_client_id": {"value": "sandbox-ispring-client"}, "ispring_client_secret": {"value": "wrong"}}
    response = await stack.driver.view_submission(GRACE, modal, bad)
    assert await stack.work.wait_idle()
    kept = stack.slack.top_modal(GRACE)
    assert kept is not None and kept["id"] == modal["id"] and kept["callback_id"] == "connect_ispring"
    body = response.json()
    if body["response_action"] == "errors":  # iSpring answered within Slack's 3 s: under the field, as typed
        assert "did not accept this API key" in body["errors"]["ispring_client_secret"]
        assert stack.slack.view_errors[modal["id"]] == body["errors"]
    else:  # a slow answer: the form comes back with the client id kept and the problem under the secret
        assert "did not accept this API key" in text_of(kept)
        assert "sandbox-ispring-client" in str(kept["blocks"][1]["element"].get("initial_value"))
    good = {
        "ispring_client_id": {"value": "sandbox-ispring-client"},
        "ispring_client_secret": {"value": "sandbox-ispring-secret"},
    }
    await stack.driver.command(GRACE, "connect ispring")
    modal = await wait_for(
        lambda: (m := stack.slack.top_modal(GRACE)) and m.get("callback_id") == "connect_ispring" and m
    )
    await stack.driver.view_submission(GRACE, modal, good)
    ok = await wait_for(lambda: "iSpring is connected" in text_of(stack.slack.top_modal(GRACE) or {}) and True)
    assert ok


async def test_track_modal_and_untrack(stack: DevStack) -> None:
    assert stack.driver is not None
    await stack.driver.command(GRACE, "track")
    modal = await wait_for(lambda: (m := stack.slack.top_modal(GRACE)) and m.get("callback_id") == "track_module" and m)
    values = {
        "track_course": {_action(modal, "track_course"): str(seed.BLENDED_COURSE)},
        "track_batch": {_action(modal, "track_batch"): str(seed.BATCH_SPRING)},
        "track_module": {_action(modal, "track_module"): str(seed.BL_COACHING)},
        "track_alias": {_action(modal, "track_alias"): "coaching"},
    }
    response = await stack.driver.view_submission(GRACE, modal, values)
    assert response.status_code == 200
    dm = await wait_for(lambda: stack.slack.dm_messages(GRACE))
    assert "Tracking" in text_of(dm[-1]) and "coaching" in text_of(dm[-1])
    listed = text_of(await command(stack, GRACE, "untrack"))
    assert "coaching" in listed
    removed = text_of(await command(stack, GRACE, "untrack coaching"))
    assert "Stopped tracking" in removed


def _action(view: dict[str, object], block_id: str) -> str:
    for block in view.get("blocks", []):  # type: ignore[union-attr]
        if isinstance(block, dict) and block.get("block_id") == block_id:
            return str(block["element"]["action_id"])
    raise AssertionError(f"no block {block_id}")


async def test_edit_button_on_progress_and_global_shortcut(stack: DevStack) -> None:
    assert stack.driver is not None
    reply = await command(stack, GRACE, "progress security-1")
    assert "module_edit_open" in str(reply["blocks"])  # admins see an "Edit module" button
    await stack.driver.block_action(GRACE, "module_edit_open", message=reply)
    form = await wait_for(lambda: (m := stack.slack.top_modal(GRACE)) and m.get("callback_id") == "module_edit" and m)
    assert "Phishing Basics" in str(form)
    learner_reply = await command(stack, ADA, "progress security-1")
    assert "module_edit_open" not in str(learner_reply["blocks"])
    await stack.driver.shortcut(ADA, "edit_module")
    refusal = await wait_for(lambda: stack.slack.top_modal(ADA))
    assert "Only workspace admins and trainers" in text_of(refusal)


async def test_track_mistakes_show_on_the_form(stack: DevStack) -> None:
    assert stack.driver is not None
    await stack.driver.command(GRACE, "track")
    modal = await wait_for(lambda: (m := stack.slack.top_modal(GRACE)) and m.get("callback_id") == "track_module" and m)
    values = {
        "track_course": {_action(modal, "track_course"): str(seed.SELF_PACED_COURSE)},
        "track_module": {_action(modal, "track_module"): "999"},
    }
    response = await stack.driver.view_submission(GRACE, modal, values)
    body = response.json()
    assert body["response_action"] == "errors"
    assert "Zoho has no module 999" in body["errors"]["track_module"]
    assert stack.slack.top_modal(GRACE) is not None  # still open, to be corrected


def _plain_texts(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [str(node["text"])] if node.get("type") == "plain_text" else []
        return own + [t for v in node.values() for t in _plain_texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _plain_texts(v)]
    return []


async def _track_modal(stack: DevStack) -> dict[str, object]:
    assert stack.driver is not None
    await stack.driver.command(GRACE, "track")
    return await wait_for(
        lambda: (m := stack.slack.top_modal(GRACE)) and m.get("callback_id") == "track_module" and "blocks" in m and m
    )


async def _choose_ispring(stack: DevStack, modal: dict[str, object]) -> dict[str, object]:
    """Pick iSpring on the track form; the form it reloads to (no longer Zoho's course menu)."""
    assert stack.driver is not None
    await stack.driver.block_action(
        GRACE,
        "track_provider_pick",
        "ispring",
        view=modal,
        values={"track_provider": {"track_provider_pick": "ispring"}},
    )
    return await wait_for(lambda: (m := stack.slack.top_modal(GRACE)) and "Security Awareness" not in str(m) and m)


async def test_track_errors_go_under_the_field_they_concern(stack: DevStack) -> None:
    assert stack.driver is not None
    modal = await _track_modal(stack)
    assert not [t for t in _plain_texts(modal) if "`" in t]  # Slack shows backticks in plain text literally
    values = {
        "track_course": {_action(modal, "track_course"): str(seed.BLENDED_COURSE)},
        "track_batch": {_action(modal, "track_batch"): str(seed.BATCH_SPRING)},
        "track_module": {_action(modal, "track_module"): str(seed.BL_COACHING)},
        "track_alias": {_action(modal, "track_alias"): "kickoff"},  # the demo already uses it
    }
    body = (await stack.driver.view_submission(GRACE, modal, values)).json()
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == ["track_alias"]
    assert body["errors"]["track_alias"] == "The alias kickoff is already used by another tracked module."


async def test_choosing_the_lms_reloads_the_course_list(stack: DevStack) -> None:
    assert stack.driver is not None
    modal = await _track_modal(stack)
    assert "Security Awareness" in str(modal)  # Zoho's courses, as a menu
    ispring = await _choose_ispring(stack, modal)
    course = next(b for b in ispring["blocks"] if b.get("block_id") == "track_course")
    assert course["element"]["type"] == "plain_text_input"  # iSpring's ids are typed
    provider = next(b for b in ispring["blocks"] if b.get("block_id") == "track_provider")
    assert provider["element"]["initial_option"]["value"] == "ispring" and provider["dispatch_action"] is True
    await stack.driver.block_action(
        GRACE, "track_provider_pick", "zoho", view=ispring, values={"track_provider": {"track_provider_pick": "zoho"}}
    )
    back = await wait_for(lambda: (m := stack.slack.top_modal(GRACE)) and "Security Awareness" in str(m) and m)
    assert back["id"] == modal["id"]


async def test_an_ispring_module_is_checked_with_ispring_before_it_is_tracked(stack: DevStack) -> None:
    assert stack.driver is not None
    result = stack.sandbox.state.ispring_results[0]
    modal = await _track_modal(stack)
    form = await _choose_ispring(stack, modal)

    def typed(course: str, module: str, alias: str = "") -> dict[str, dict[str, object]]:
        values: dict[str, dict[str, object]] = {
            "track_provider": {"track_provider_pick": "ispring"},
            "track_course": {_action(form, "track_course"): course},
            "track_module": {_action(form, "track_module"): module},
        }
        if alias:
            values["track_alias"] = {_action(form, "track_alias"): alias}
        return values

    body = (await stack.driver.view_submission(GRACE, form, typed("no-such-course", result.module_id))).json()
    assert body == {"response_action": "errors", "errors": {"track_course": "iSpring has no course no-such-course."}}
    body = (await stack.driver.view_submission(GRACE, form, typed(result.course_id, "no-such-module"))).json()
    assert body["errors"] == {"track_module": f"iSpring course {result.course_id} has no module no-such-module."}
    assert stack.sandbox.state.calls_for("ispring-course-modules")  # asked iSpring, not Zoho
    assert not stack.sandbox.state.calls_for("single-module")
    await stack.driver.view_submission(GRACE, form, typed(result.course_id, result.module_id, "isp"))
    dm = await wait_for(lambda: stack.slack.dm_messages(GRACE))
    assert f"Tracking *{result.module_title}* as `isp`" in text_of(dm[-1])


async def test_a_key_refused_after_slacks_deadline_brings_the_form_back_as_typed(stack: DevStack) -> None:
    assert stack.driver is not None
    await stack.driver.command(GRACE, "connect ispring")
    modal = await wait_for(lambda: stack.slack.top_modal(GRACE))
    stack.sandbox.state.inject_fault("ispring-token", status=401, delay=2.5)  # past the 2 s the ack may wait
    bad = {"ispring_client_id": {"value": "typed-client"}, "ispring_client_secret": {"value": "wrong"}}
    response = await stack.driver.view_submission(GRACE, modal, bad)
    assert response.json()["response_action"] == "update"  # "Checking the key…" while iSpring thinks
    assert await stack.work.wait_idle()
    form = stack.slack.top_modal(GRACE)
    assert form is not None and form["callback_id"] == "connect_ispring" and form.get("submit")
    assert form["blocks"][1]["element"]["initial_value"] == "typed-client"
    assert "did not accept this API key" in text_of(form)
