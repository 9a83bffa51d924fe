"""Issue 11 items 7 and 8: one message, not three (session reminders due in the digest's sweep go into the
digest; those at another time still come on their own), and "Open in LMS" opens the item, once per module."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pydantic
import pytest

from bot.devkit.sandbox import seed
from bot.devkit.sandbox.state import ISpringResult
from bot.devkit.slackstub.render import render_message
from bot.lms.ispring import parse_course_modules
from bot.lms.ispring_models import CourseModule
from tests.reminders.conftest import MONDAY, PEOPLE, TEAM, MakeWorld, World, quiet_config
from tests.reminders.test_day_one import add_session
from tests.reminders.test_features import feedback_lab, session_dms


async def sent_log(world: World, user: str, keys: list[str]) -> dict[tuple[str, str], str]:
    rows = await world.engine.state.recent(TEAM, keys, MONDAY - timedelta(days=30))
    return {(r.item_key, r.period): r.status for r in rows if r.slack_user_id == user}


async def test_session_reminders_due_with_the_digest_go_into_it(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0GRACE": PEOPLE["U0GRACE"]})
    starts, lab_id, _ = feedback_lab(world)  # Thursday 2 April, 11:00 UTC = 07:00 in New York
    # Grace's digest comes at 07:00 in New York: on Wednesday that is exactly the lab's day-before reminder.
    await world.prefs("U0GRACE", timezone="America/New_York", send_time="07:00")
    # And a session of her own starting within the hour of that digest (its "starting soon" is due too).
    soon_id = add_session(
        world.state, seed.BL_FEEDBACK, "Feedback clinic", date(2026, 4, 1), time(11, 40), time(12, 0), entity=True
    )
    world.set_time(starts - timedelta(days=1))
    await world.sweep()
    [message] = world.dms("U0GRACE")  # one DM, not three
    seen = render_message(message)
    assert message["text"].startswith("Reminder: ") and "Session tomorrow: Feedback lab" in message["text"]
    assert "Session soon: Feedback clinic" in message["text"]
    assert "Feedback clinic starts soon" in seen and "Feedback lab is coming up" in seen
    # The sent log holds both session reminders as delivered, under the keys their own DMs would have had.
    keys = [f"session:{lab_id}:day-before", f"session:{soon_id}:soon"]
    log = await sent_log(world, "U0GRACE", keys)
    assert log == {(keys[0], "2026-04-02"): "sent", (keys[1], "2026-04-01"): "sent"}
    world.set_time(starts - timedelta(days=1) + timedelta(minutes=5))
    await world.sweep()
    assert len(world.dms("U0GRACE")) == 1  # nothing sent again by the next sweep
    # The next morning the lab's "starting soon" falls at another time (06:15 in New York): its own DM.
    world.set_time(starts - timedelta(minutes=45))
    await world.sweep()
    assert session_dms(world, "U0GRACE") == ["Session soon: Feedback lab"]
    assert len(world.dms("U0GRACE")) == 2


async def test_a_session_reminder_at_another_time_still_comes_on_its_own(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0GRACE": PEOPLE["U0GRACE"]})
    starts, _, _ = feedback_lab(world)
    await world.prefs("U0GRACE", timezone="America/New_York", send_time="09:00")
    world.set_time(starts - timedelta(hours=23, minutes=55))  # 07:05 in New York: no digest yet
    await world.sweep()
    assert session_dms(world, "U0GRACE") == ["Session tomorrow: Feedback lab"]
    world.set_time(starts - timedelta(hours=22))  # 09:00: the digest, which does not say it again as a reminder
    await world.sweep()
    digest = world.dms("U0GRACE")[-1]
    assert digest["text"].startswith("Reminder: ") and "Session tomorrow" not in digest["text"]
    assert "Feedback lab is coming up" not in render_message(digest)
    assert len(world.dms("U0GRACE")) == 2


async def test_a_forced_sweep_sends_one_message(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, people={"U0GRACE": PEOPLE["U0GRACE"]})
    starts, _, _ = feedback_lab(world)
    world.set_time(starts - timedelta(hours=20))
    report = await world.sweep(force=True)
    assert len(world.dms("U0GRACE")) == 1, [o.summary for o in report.sent]
    assert "Session tomorrow: Feedback lab" in world.dms("U0GRACE")[0]["text"]
    assert datetime.fromtimestamp(world.clock.now(), UTC) < starts


# --- item 8: "Open in LMS" opens the item, once per module ------------------------------------------------------

ZOHO_TEMPLATE = "https://people.zoho.com/acme/lms#course/{course_id}/batch/{batch_id}/module/{module_id}/item/{item_id}"
ISPRING_TEMPLATE = "https://acme.ispringlearn.com/app/learn/course/{course_id}/item/{item_id}"


def link_buttons(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, url, the text beside it) of every URL button, in the order a reader meets them."""
    found: list[tuple[str, str, str]] = []
    for block in message.get("blocks") or []:
        beside = str((block.get("text") or {}).get("text") or "")
        for element in [block.get("accessory"), *(block.get("elements") or [])]:
            if isinstance(element, dict) and element.get("type") == "button" and element.get("url"):
                found.append((element["text"]["text"], str(element["url"]), beside))
    return found


def module_headers(message: dict[str, Any]) -> list[str]:
    """The module groups' titles (the sections carrying "Mute this module")."""
    return [
        str(b["text"]["text"])
        for b in message.get("blocks") or []
        if (b.get("accessory") or {}).get("action_id") == "reminder_mute"
    ]


async def test_one_open_in_lms_per_module_opening_the_item(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, zoho_item_url=ZOHO_TEMPLATE)
    await world.sweep(force=True)
    checked = 0
    for user in PEOPLE:
        for message in world.dms(user):
            opens = [b for b in link_buttons(message) if b[0] == "Open in LMS"]
            assert len(opens) == len(module_headers(message)), (user, opens)  # once per module, never per item
            assert len({url for _, url, _ in opens}) == len(opens)  # each its own address
            for _, url, beside in opens:
                assert url.startswith("https://people.zoho.com/acme/lms#course/") and "{" not in url
                assert beside.startswith(":hourglass_flowing_sand:"), beside  # beside a pending item, not a done one
            checked += len(opens)
    assert checked >= 5
    # Ada's: the button opens her first pending item of the module, in its course and batch.
    [ada] = world.dms("U0ADA")
    feedback = world.tracked["kickoff"]
    urls = [url for label, url, _ in link_buttons(ada) if label == "Open in LMS"]
    prefix = f"https://people.zoho.com/acme/lms#course/{feedback.course_id}/batch/{feedback.batch_id}/module/"
    assert any(u.startswith(prefix) and "/item/" in u for u in urls), urls
    assert not [b for b in link_buttons(ada) if b[0] == "Open Zoho People"]  # items have their own address


async def test_without_a_template_the_home_page_is_offered_once(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY)
    await world.sweep(force=True)
    for user in PEOPLE:
        for message in world.dms(user):
            labels = [label for label, _, _ in link_buttons(message)]
            assert "Open in LMS" not in labels, user  # no invented address, and not 8 buttons to the home page
            assert labels.count("Open Zoho People") == 1, (user, labels)
            [home] = [url for label, url, _ in link_buttons(message) if label == "Open Zoho People"]
            assert home == world.services.settings.zoho_people_url.rstrip("/")


def ispring_buttons(world: World) -> list[tuple[str, str, ISpringResult]]:
    """(label, url, the sandbox's result for that module) of the buttons beside iSpring items in every DM."""
    modules = {r.module_title: r for r in world.state.ispring_results}
    found = []
    for user in PEOPLE:
        for message in world.dms(user):
            for label, url, beside in link_buttons(message):
                if "— iSpring" in beside:
                    [title] = [t for t in modules if f"*{t}*" in beside]
                    found.append((label, url, modules[title]))
    return found


async def test_ispring_items_open_the_address_ispring_gives(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, ispring=True)  # no template: iSpring's own viewUrl
    await world.sweep(force=True)
    found = ispring_buttons(world)
    assert found
    for label, url, result in found:
        assert label == "Open in LMS"
        assert url == f"https://learn.sandbox.invalid/app/course/{result.course_id}/module/{result.module_id}"
    calls = world.state.calls_for("ispring-course-modules")
    assert len(calls) == len({c.path for c in calls})  # each course asked once, however many learners
    await world.sweep(force=True)
    assert len(world.state.calls_for("ispring-course-modules")) == len(calls)  # cached


async def test_ispring_items_use_the_template_when_ispring_gives_no_address(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, ispring=True, ispring_item_url=ISPRING_TEMPLATE)
    world.state.inject_fault("ispring-course-modules", status=404, count=100)
    await world.sweep(force=True)
    found = ispring_buttons(world)
    assert found
    for label, url, result in found:
        assert (label, url) == (
            "Open in LMS",
            f"https://acme.ispringlearn.com/app/learn/course/{result.course_id}/item/{result.course_item_id}",
        )


async def test_ispring_items_without_an_address_have_no_button(make_world: MakeWorld) -> None:
    world = await make_world(MONDAY, ispring=True)
    world.state.inject_fault("ispring-course-modules", status=404, count=100)
    await world.sweep(force=True)
    assert any("— iSpring" in render_message(m) for u in PEOPLE for m in world.dms(u))
    assert ispring_buttons(world) == []  # nothing invented


def test_item_url_templates_are_checked_when_read() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"unknown placeholder \{lesson\}; use \{course_id\}"):
        quiet_config(zoho_item_url="https://lms.example.com/{lesson}")
    with pytest.raises(pydantic.ValidationError, match="unknown placeholder \\{batch_id\\}"):
        quiet_config(ispring_item_url="https://lms.example.com/{course_id}/{batch_id}")  # iSpring has no batches
    with pytest.raises(pydantic.ValidationError, match="web address"):
        quiet_config(zoho_item_url="people.zoho.com/{course_id}")
    assert quiet_config(zoho_item_url="  ").zoho_item_url is None
    old_name = quiet_config(zoho_item_url="https://lms.example.com/{course_id}/{entity_id}")  # {entity_id} still works
    assert old_name.zoho_item_url == "https://lms.example.com/{course_id}/{entity_id}"


@pytest.mark.parametrize(
    "content_type,body",
    [
        (
            "application/xml",
            b"<?xml version='1.0' encoding='UTF-8'?><response><modules><module><moduleId>m-1</moduleId>"
            b"<itemId>i-1</itemId><courseId>c-1</courseId><title>Anti-Bribery</title>"
            b"<viewUrl>https://acme.ispringlearn.com/view/m-1</viewUrl><type>material</type></module></modules>"
            b"</response>",
        ),
        (
            "application/json",
            b'{"modules": {"module": [{"moduleId": "m-1", "itemId": "i-1", "courseId": "c-1",'
            b' "title": "Anti-Bribery", "viewUrl": "https://acme.ispringlearn.com/view/m-1"}]}}',
        ),
        (
            "application/json",
            b'{"modules": [{"moduleId": "m-1", "itemId": "i-1", "viewUrl": "https://acme.ispringlearn.com/view/m-1"}]}',
        ),
    ],
)
def test_ispring_course_modules_are_read_in_either_format(content_type: str, body: bytes) -> None:
    response = httpx.Response(200, content=body, headers={"content-type": content_type})
    [record] = parse_course_modules(response)
    module = CourseModule.model_validate(record)
    assert (module.module_id, module.item_id, module.view_url) == (
        "m-1",
        "i-1",
        "https://acme.ispringlearn.com/view/m-1",
    )
