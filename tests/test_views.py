"""Block Kit views built from the documented samples: what a user sees, and JSON Slack would accept.

Every message, modal and Home view goes through slack_sdk's models (which run Slack's documented validators
on `to_dict()`) and must come back unchanged — an unknown or misspelt key would be dropped and fail the test —
and through our own walk over every text against its limit.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.models.blocks import Block as SdkBlock
from slack_sdk.models.views import View as SdkView

from bot.lms.ispring import parse_results
from bot.lms.ispring_models import ModuleResult
from bot.lms.module_update import ModuleUpdate, ModuleUpdateError, validate_module_update
from bot.lms.zoho_models import Batch, Course, LearningPlanProgress, LockType, Module, ModuleProgress, Session
from bot.services.types import (
    BudgetLine,
    ConnectionState,
    Freshness,
    ModuleEditForm,
    ModuleStatus,
    PlansReport,
    Provider,
    ReminderSettings,
    ResultsReport,
    SessionItem,
    SessionsReport,
    StatusReport,
    TrackedModuleRef,
)
from handlers import views
from handlers.views import limits
from handlers.views.kit import SlackMessage
from handlers.views.results import page_value, read_page_value

FIXTURES = Path(__file__).parent / "fixtures"
FETCHED = datetime(2025, 3, 4, 9, 12, tzinfo=UTC)
NOW = datetime(2023, 8, 1, 12, 0)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# --- realistic data from the documented samples ---------------------------------------------------------------


def ref(tracked_id: int = 1, alias: str | None = "M1", *, module_id: str = "100004000000038033") -> TrackedModuleRef:
    return TrackedModuleRef(tracked_id, Provider.ZOHO, "100002000000039001", "100002000000041383", module_id, alias)


def progress(name: str) -> ModuleProgress:
    return ModuleProgress.model_validate(load(name))


def module(**overrides: Any) -> Module:
    raw = {**load("zoho_update_module.json")["module"], **overrides}
    return Module.model_validate(raw)


def sample_session() -> Session:
    return Session.model_validate(load("zoho_sessions.json")["sessions"][0])


def sample_plans() -> list[LearningPlanProgress]:
    return [LearningPlanProgress.model_validate(p) for p in load("zoho_learning_plans.json")["learningPlans"]]


def sample_results() -> list[ModuleResult]:
    response = httpx.Response(
        200, content=(FIXTURES / "ispring_results.xml").read_bytes(), headers={"content-type": "application/xml"}
    )
    records, _ = parse_results(response)
    return [ModuleResult.model_validate(r) for r in records]


def statuses() -> list[ModuleStatus]:
    fresh = Freshness(fetched_at=FETCHED)
    return [
        ModuleStatus(ref(1, "M1"), progress=progress("zoho_progress_blended.json"), freshness=fresh),
        ModuleStatus(
            ref(2, "M2"),
            progress=progress("zoho_progress_locked.json"),
            module=module(lockType="1", lockUntil="31-12-2026"),
            freshness=fresh,
        ),
        ModuleStatus(
            ref(3, "M3"),
            progress=progress("zoho_progress_locked.json"),
            module=module(lockType="2", lockUntil=""),
            freshness=fresh,
        ),
        ModuleStatus(ref(4, "M4"), error="Zoho says this module does not exist any more."),
    ]


def form(**overrides: Any) -> ModuleEditForm:
    m = module()
    values: dict[str, Any] = {
        "tracked": ref(7, "onboarding", module_id=m.module_id),
        "name": m.name,
        "duration_minutes": m.duration_minutes,
        "description": m.description,
        "lock_type": int(m.lock_type),
        "lock_until": m.lock_until,
    }
    return ModuleEditForm(**{**values, **overrides})


# --- validation helpers ---------------------------------------------------------------------------------------------

_TEXT_LIMITS = {
    "header": limits.HEADER_TEXT,
    "section": limits.SECTION_TEXT,
    "button": limits.BUTTON_TEXT,
}


def _walk_limits(node: Any, parent: str = "") -> None:
    """Every text and list against Slack's limit for where it sits."""
    if isinstance(node, list):
        for item in node:
            _walk_limits(item, parent)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type", parent)
    if kind in _TEXT_LIMITS and isinstance(node.get("text"), dict):
        assert len(node["text"]["text"]) <= _TEXT_LIMITS[kind], node
    if kind == "section":
        assert len(node.get("fields", [])) <= limits.SECTION_FIELDS
        assert all(len(f["text"]) <= limits.FIELD_TEXT for f in node.get("fields", []))
    if kind == "actions":
        assert 0 < len(node["elements"]) <= limits.ACTIONS_ELEMENTS
    if kind == "context":
        assert 0 < len(node["elements"]) <= limits.CONTEXT_ELEMENTS
    if kind == "button":
        assert len(node.get("value", "")) <= limits.BUTTON_VALUE
    if kind in ("static_select", "radio_buttons"):
        options = node.get("options") or [o for g in node.get("option_groups", []) for o in g["options"]]
        assert len(node.get("options", [])) <= limits.SELECT_OPTIONS
        assert len(node.get("option_groups", [])) <= limits.SELECT_OPTION_GROUPS
        for group in node.get("option_groups", []):
            assert len(group["options"]) <= limits.SELECT_OPTIONS
            assert len(group["label"]["text"]) <= limits.OPTION_GROUP_LABEL
        for opt in options:
            assert len(opt["text"]["text"]) <= limits.OPTION_TEXT
            assert len(opt["value"]) <= limits.OPTION_VALUE
    for key, value in node.items():
        if key == "text" and isinstance(value, dict):
            assert value["text"].strip(), f"empty text in {node}"
        _walk_limits(value, kind if key in ("elements", "accessory", "element", "text") else "")


def check_ids(blocks: list[dict[str, Any]]) -> None:
    """Slack refuses a surface with a repeated block_id, or a block with a repeated action_id."""
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids)), block_ids
    for block in blocks:
        action_ids = [e["action_id"] for e in elements_with_action_ids(block)]
        assert len(action_ids) == len(set(action_ids)), block


def elements_with_action_ids(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [e for item in node for e in elements_with_action_ids(item)]
    if not isinstance(node, dict):
        return []
    own = [node] if "action_id" in node else []
    return own + [e for value in node.values() for e in elements_with_action_ids(value)]


def check_blocks(blocks: list[dict[str, Any]]) -> None:
    json.dumps(blocks)  # JSON-able, nothing but dicts, lists, strings, numbers and booleans
    check_ids(blocks)
    for raw in blocks:
        parsed = SdkBlock.parse(raw)
        assert parsed is not None, f"slack_sdk does not know {raw}"
        assert parsed.to_dict() == raw  # to_dict() runs slack_sdk's validators; equality: no unknown keys
    _walk_limits(blocks)


def check_message(message: SlackMessage) -> SlackMessage:
    assert message["text"].strip() and len(message["text"]) <= limits.FALLBACK_TEXT
    assert 0 < len(message["blocks"]) <= limits.MESSAGE_BLOCKS
    assert limits.text_size(message["blocks"]) <= limits.MESSAGE_TEXT_BUDGET
    check_blocks(message["blocks"])
    return message


def check_view(view: dict[str, Any]) -> dict[str, Any]:
    json.dumps(view)
    assert SdkView(**view).to_dict() == view
    assert 0 < len(view["blocks"]) <= limits.VIEW_BLOCKS
    check_ids(view["blocks"])
    for key in ("title", "submit", "close"):
        if key in view:
            assert len(view[key]["text"]) <= limits.VIEW_TITLE
    assert len(view.get("private_metadata", "")) <= limits.PRIVATE_METADATA
    _walk_limits(view["blocks"])
    return view


def everything(payload: Any) -> str:
    """All text a user could read, in one string."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "initial_value") and isinstance(value, str):
                    found.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload)
    return "\n".join(found)


def elements(payload: Any, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == kind:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload)
    return found


def more_count(payload: Any) -> int | None:
    match = re.search(r"…and (\d+) more", everything(payload))
    return int(match[1]) if match else None


# --- limits ---------------------------------------------------------------------------------------------------------


def test_clip_never_splits_an_escape_or_a_token() -> None:
    assert limits.clip("abc", 3) == "abc"
    assert limits.clip("a" * 10, 5) == "aaaa…"
    assert limits.clip("x" * 6 + "&amp;", 9) == "xxxxxx…"
    assert limits.clip("see <!date^1^{time}|09:12 UTC> now", 12) == "see…"


def test_list_blocks_counts_every_line_left_out() -> None:
    lines = [f"line {i}" for i in range(300)]
    blocks = limits.list_blocks(lines, noun="lines", max_blocks=5, max_lines=40)
    assert everything(blocks).count("line ") == 40
    assert more_count(blocks) == 260
    tight = limits.list_blocks(["x" * 2500] * 10, noun="lines", max_blocks=3)
    assert len(tight) == 3 and more_count(tight) == 8  # two sections fit, the third block is the "more" line
    assert limits.list_blocks(lines[:3], noun="lines", max_blocks=5)[0]["text"]["text"] == "line 0\nline 1\nline 2"


def test_fit_groups_keeps_whole_groups() -> None:
    groups = [[{"type": "section", "text": {"type": "mrkdwn", "text": f"g{i}"}}] * 3 for i in range(30)]
    out = limits.fit_groups(groups, noun="modules", max_blocks=20)
    assert len(out) == 19 and more_count(out) == 24


# --- help -------------------------------------------------------------------------------------------------------------


def test_help_lists_every_subcommand_and_marks_the_restricted_ones() -> None:
    message = check_message(views.help_message())
    text = everything(message)
    for name in ("link", "unlink", "connect", "progress", "plans", "sessions", "results", "edit-module"):
        assert f"/lms {name}" in text
    for name in ("track", "untrack", "remind", "status", "help"):
        assert f"/lms {name}" in text
    assert (
        "`/lms remind on|off|at HH:MM|days mon-fri|quiet HH:MM-HH:MM|snooze 1d|1w|until &lt;date&gt;|"
        "mute &lt;module&gt;|unmute &lt;module&gt;|status`" in text
    )
    assert "`/lms link @user &lt;learner id or e-mail&gt;`" in text  # Slack shows &lt; as <
    assert re.search(r"/lms connect zoho\|ispring` — .*:lock: _admins only_", text)
    assert re.search(r"/lms results \[filters\]` — .*:lock: _admins and managers only_", text)
    assert re.search(r"/lms edit-module \[alias or id\]` — .*:lock: _admins and trainers only_", text)
    assert ":lock:" not in next(line for line in text.splitlines() if line.startswith("`/lms progress"))


def test_unknown_subcommand_suggests_the_closest() -> None:
    message = check_message(views.unknown_command_message("progres"))
    assert "Unknown subcommand `progres`" in everything(message)
    assert "`/lms progress [module]`" in everything(message)
    assert "Did you mean `progress`?" in message["text"]
    nothing_close = check_message(views.unknown_command_message("<b>zzz</b>"))
    assert "`&lt;b&gt;zzz&lt;/b&gt;`" in everything(nothing_close) and "`edit-module`" in everything(nothing_close)


def test_bad_arguments_shows_usage_and_the_problem() -> None:
    message = check_message(views.bad_arguments_message("remind", problem="HH:MM expected, got 25:00"))
    assert "HH:MM expected, got 25:00" in everything(message)
    assert "`/lms remind on|off|at HH:MM|days mon-fri|quiet HH:MM-HH:MM|" in everything(message)


# --- progress -------------------------------------------------------------------------------------------------------


def test_progress_shows_items_locks_errors_and_freshness() -> None:
    message = check_message(views.progress_message(statuses()))
    text = everything(message)
    # blended sample: one of each type, with its own facts
    assert ":computer: *Test 1* (Online test, mandatory) · marks —/1 · 1 of 1 attempts left" in text
    # an undated progress (no `now`): the session's time as date tokens, the fallback naming the zone
    assert (
        ":spiral_calendar_pad: *Sess* (Session, mandatory) · <!date^1691071200^{date_short_pretty} at {time}|" in text
    )
    assert "|Thu 3 Aug 2023 14:00 UTC>–<!date^1691073000^{time}|14:30 UTC>" in text
    assert ":pencil: *sample pff* (Offline test, mandatory) · marks —/2 · Pending" in text
    assert ":page_facing_up: *Assn* (Assignment, mandatory) · marks —/10 · not submitted" in text
    assert "4 mandatory items to do" in text
    # why locked, and until when
    assert ":lock: Locked until 31 Dec 2026" in text
    assert ":lock: Locked until the previous module is completed" in text
    assert ":warning: Zoho says this module does not exist any more." in text
    assert "as of <!date^" in text and "|09:12 UTC>" in text
    assert "cached copy" not in text
    assert elements(message, "button") == []  # no Edit buttons unless the caller may edit
    assert message["text"].startswith("LMS progress: 4 mandatory items to do in 1 module")


def test_progress_edit_buttons_carry_the_tracked_id() -> None:
    message = check_message(views.progress_message(statuses(), can_edit=True))
    buttons = elements(message, "button")
    assert {b["action_id"] for b in buttons} == {"module_edit_open"}
    assert [b["value"] for b in buttons] == ["1", "2", "3", "4"]


def test_progress_link_and_unknown_types_and_a_stale_copy() -> None:
    raw = load("zoho_progress_self_paced.json")
    raw["moduleProgress"].append({"entityId": 1, "entityName": "Survey", "type": "survey", "isMandatory": False})
    stale = Freshness(fetched_at=FETCHED, stale=True, reason="Zoho is rate-limited for 4 more minutes")
    status = ModuleStatus(ref(), progress=ModuleProgress.model_validate(raw), freshness=stale)
    text = everything(check_message(views.progress_message([status])))
    assert ":link: *Link* (Link, mandatory) · Pending" in text
    assert ":grey_question: *Survey* (Item (survey))" in text
    assert "cached copy — Zoho is rate-limited for 4 more minutes" in text


def test_progress_lock_without_settings_just_says_locked() -> None:
    status = ModuleStatus(ref(), progress=progress("zoho_progress_locked.json"))
    text = everything(check_message(views.progress_message([status])))
    assert ":lock: Locked" in text and "until" not in text


def test_progress_of_300_modules_stays_within_limits() -> None:
    many = [replace(s, tracked=ref(i, f"M{i}")) for i in range(300) for s in statuses()[:1]]
    message = check_message(views.progress_message(many, can_edit=True))
    shown = len(elements(message, "button"))
    assert shown > 0 and more_count(message) == 300 - shown


def test_progress_with_nothing_tracked() -> None:
    assert "No modules are tracked yet" in everything(check_message(views.progress_message([])))


def test_long_lms_names_are_clipped_not_refused() -> None:
    raw = load("zoho_progress_self_paced.json")
    raw["moduleName"] = "N" * 5000
    raw["moduleProgress"][0]["entityName"] = "E" * 5000
    status = ModuleStatus(ref(alias="a" * 100), progress=ModuleProgress.model_validate(raw))
    check_message(views.progress_message([status], can_edit=True))


def test_long_aliases_are_clipped_everywhere_they_show() -> None:
    long = ref(9, "a" * 300)
    check_view(views.module_picker_modal([long]))
    check_message(views.untrack_message([long]))
    check_message(views.reminder_digest([views.DigestItem(long, "t" * 4000, "assignment", detail="d" * 4000)]))
    check_message(views.module_updated_message(module(moduleName="N" * 4000, description="D" * 9000), long))
    check_view(home(reminders=ReminderSettings(muted=(long,))))


# --- sessions, plans, results --------------------------------------------------------------------------------------


def test_sessions_upcoming_first_with_room_and_trainer() -> None:
    past = SessionItem(ref(), sample_session())  # 11 Jan 2022
    soon = SessionItem(
        ref(2, "M2"), sample_session().model_copy(update={"start_date": date(2023, 8, 3), "name": "Kick-off"})
    )
    later = SessionItem(ref(), sample_session().model_copy(update={"start_date": date(2023, 9, 1), "name": "Wrap-up"}))
    report = SessionsReport(
        sessions=[past, later, soon], errors=["M9: Zoho did not answer"], freshness=Freshness(FETCHED)
    )
    message = check_message(views.sessions_message(report, now=NOW))
    text = everything(message)
    assert text.index("Kick-off") < text.index("Wrap-up") < text.index("*Past* (1)") < text.index("Session One")
    assert "|Thu 3 Aug 2023 11:00 UTC>–<!date^1691067600^{time}|13:00 UTC> · :round_pushpin: Room One" in text
    assert ":bust_in_silhouette: Henry · Classroom" in text
    assert ":warning: M9: Zoho did not answer" in text
    assert message["text"] == (
        "2 upcoming sessions; next: Kick-off on "
        "<!date^1691060400^{date_short_pretty} at {time}|Thu 3 Aug 2023 11:00 UTC>–<!date^1691067600^{time}|13:00 UTC>"
    )


def test_sessions_empty_state() -> None:
    message = check_message(views.sessions_message(SessionsReport(), now=NOW))
    assert "No sessions are scheduled" in everything(message)


def test_300_sessions_say_exactly_how_many_are_left_out() -> None:
    base = sample_session().model_copy(update={"start_date": date(2024, 1, 1)})
    items = [SessionItem(ref(), base.model_copy(update={"name": f"S{i}"})) for i in range(300)]
    message = check_message(views.sessions_message(SessionsReport(sessions=items), now=NOW))
    assert everything(message).count(":round_pushpin:") == 40
    assert "…and 260 more upcoming sessions" in everything(message)


def test_plans_from_the_sample() -> None:
    message = check_message(views.plans_message(PlansReport(plans=sample_plans(), freshness=Freshness(FETCHED))))
    text = everything(message)
    assert "*L1* — :hourglass_flowing_sand: in progress · 2 courses (1 mandatory) · duration 30 min" in text
    assert "1 learning plan · 0 completed" in text
    assert "You are in no learning plans yet." in everything(check_message(views.plans_message(PlansReport())))


def test_results_flag_overdue_and_name_linked_learners() -> None:
    results = sample_results()
    report = ResultsReport(results=results, names={results[0].user_id: "U0LINKED"})
    message = check_message(views.results_message(report))
    text = everything(message)
    assert "<@U0LINKED>" in text
    assert "3 results · 0 done · 2 in progress · 1 not started · :warning: 2 overdue" in text
    lines = [line for line in text.splitlines() if "*Course" in line]
    assert lines[0].startswith(":warning: *Course 2*") and "progress 50% · due 29 Jul 2021 · *overdue*" in lines[0]
    assert lines[1].startswith(":warning: *Course 3*") and "not started · progress —" in lines[1]
    assert lines[2] == ":hourglass_flowing_sand: *Course 1* — <@U0LINKED> · in progress · progress 9.1%"
    unlinked = everything(check_message(views.results_message(ResultsReport(results=results))))
    assert "114dba08" not in unlinked and "— _unknown learner_ · in progress" in unlinked  # never a raw id
    named = ResultsReport(results=results, people={results[0].user_id: "Ada <Lovelace>"})
    assert "— Ada &lt;Lovelace&gt; · in progress" in everything(check_message(views.results_message(named)))


def test_failed_results_are_marked_failed() -> None:
    failed = sample_results()[0].model_copy(update={"completion_status": "failed", "is_overdue": True})
    text = everything(check_message(views.results_message(ResultsReport(results=[failed]))))
    line = next(line for line in text.splitlines() if "*Course" in line)
    assert line.startswith(":x: *Course 1*") and " · failed · " in line
    assert ":hourglass_flowing_sand:" not in line and ":x: 1 failed" in text


def test_300_results_come_in_pages_of_40_with_buttons() -> None:
    one = sample_results()[0]
    report = ResultsReport(results=[one.model_copy(update={"module_title": f"Course {i}"}) for i in range(300)])
    first = check_message(views.results_message(report, query="overdue"))
    assert more_count(first) is None and "Showing 1–40 of 300" in everything(first)
    buttons = [e for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["Next 40 ›", "Export CSV (300)"]
    assert read_page_value(buttons[0]["value"]) == ("overdue", 40)
    last = check_message(views.results_message(report, offset=280))
    assert "Showing 281–300 of 300" in everything(last)
    texts = [e["text"]["text"] for b in last["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert texts == ["‹ Previous", "Export CSV (300)"]
    assert page_value("x" * 2000, 0) is None  # past Slack's 2,000-character button value: no button


# --- status, reminders, notices ------------------------------------------------------------------------------------


def test_status_shows_connections_links_budget_and_sweep() -> None:
    report = StatusReport(
        connections={Provider.ZOHO: ConnectionState("admin", data_center="EU")},
        linked_as={Provider.ZOHO: "100002000000040623"},
        tracked=[ref(1, "M1"), ref(2, None)],
        budgets=[BudgetLine("zoho.progress", 25, 30, 0), BudgetLine("zoho.modules", 0, 30, 170)],
        last_sweep=FETCHED,
        last_sweep_summary="12 reminders sent",
    )
    text = everything(check_message(views.status_message(report)))
    assert "• Zoho People: connected (EU data center)" in text and "• iSpring Learn: not connected" in text
    assert "• Zoho People: learner `100002000000040623`" in text and "• iSpring Learn: not linked" in text
    assert "`zoho.progress` `▰▰▰▰▰▰▰▰▱▱` 25 of 30 left" in text
    assert "`zoho.modules` :lock: locked for 3 min" in text
    assert "*Tracked modules* (2)" in text and "`100004000000038033` — Zoho People course" in text
    assert "Last reminder sweep <!date^" in text and "12 reminders sent" in text


def test_300_tracked_modules_in_status() -> None:
    report = StatusReport(connections={}, linked_as={}, tracked=[ref(i, f"M{i}") for i in range(300)], budgets=[])
    message = check_message(views.status_message(report))
    assert more_count(message) == 280


def test_reminder_settings_in_words() -> None:
    settings = ReminderSettings(
        send_time="08:30",
        timezone="Europe/Berlin",
        quiet_start="22:00",
        quiet_end="07:00",
        snoozed_until=datetime(2023, 8, 2, tzinfo=UTC),
        muted=(ref(3, "M3"),),
    )
    text = everything(check_message(views.reminder_settings_message(settings, now=datetime(2023, 8, 1, tzinfo=UTC))))
    assert "Reminders are *on* — at *08:30* (Europe/Berlin), Mon–Fri." in text
    assert "Weekly overdue digest (managers and admins): *on*" in text and "Quiet hours: 22:00–07:00" in text
    assert ":zzz: Snoozed until <!date^" in text and ":mute: Muted: `M3`" in text
    off = check_message(views.reminder_settings_message(ReminderSettings(enabled=False, digest=False)))
    assert "Reminders are *off*" in everything(off) and off["text"] == "Reminders are off."
    weekend = views.reminder_settings_message(
        ReminderSettings(weekdays=("sat", "sun", "mon", "tue", "wed", "thu", "fri"))
    )
    assert "every day" in everything(weekend)


def test_error_message_escapes_and_hints() -> None:
    message = check_message(views.error_message("Zoho said <403>", hint="Ask an admin to run `/lms connect zoho`."))
    assert ":warning: Zoho said &lt;403&gt;" in everything(message)
    assert message["blocks"][1]["type"] == "context"
    assert message["text"] == "Zoho said &lt;403&gt; Ask an admin to run `/lms connect zoho`."


def test_module_updated_shows_what_the_lms_returned() -> None:
    message = check_message(views.module_updated_message(module(), ref(7, "onboarding")))
    text = everything(message)
    assert "*Module updated* — *Module One* · `onboarding`" in text
    assert "*Duration*\n100 min" in text and "*Lock*\nLocked until 27 Dec 2021" in text
    assert "*Description*\nDescription for module" in text
    unlocked = views.module_updated_message(module(lockType="0", lockUntil=""), ref())
    assert "*Lock*\nUnlocked" in everything(unlocked)


# --- module edit modal -----------------------------------------------------------------------------------------------


def input_blocks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def submitted_state(view: dict[str, Any], **changes: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """What Slack sends back in view["state"]["values"] when the user submits the prefilled form (plus changes)."""
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block_id, block in input_blocks(view).items():
        element = block["element"]
        kind = element["type"]
        if kind in ("plain_text_input", "number_input"):
            state: dict[str, Any] = {"type": kind, "value": element.get("initial_value")}
        elif kind in ("radio_buttons", "static_select"):
            state = {"type": kind, "selected_option": element.get("initial_option")}
        elif kind == "datepicker":
            state = {"type": kind, "selected_date": element.get("initial_date")}
        else:
            raise AssertionError(kind)
        state.update(changes.get(block_id, {}))
        values[block_id] = {element["action_id"]: state}
    return values


def test_edit_modal_is_prefilled_from_the_form() -> None:
    view = check_view(views.module_edit_modal(form()))
    assert view["callback_id"] == "module_edit" and view["submit"]["text"] == "Save"
    inputs = input_blocks(view)
    assert inputs["module_edit_name"]["element"]["initial_value"] == "Module One"
    assert inputs["module_edit_name"]["optional"] is False
    duration = inputs["module_edit_duration"]["element"]
    assert duration["type"] == "number_input" and duration["initial_value"] == "100"
    assert duration["is_decimal_allowed"] is False and duration["min_value"] == "1"
    description = inputs["module_edit_description"]["element"]
    assert description["multiline"] is True and description["initial_value"] == "Description for module"
    lock = inputs["module_edit_lock_type"]["element"]
    assert [o["text"]["text"] for o in lock["options"]] == [
        "Unlocked",
        "Locked until a date",
        "Locked until the previous module is completed",
    ]
    assert [o["value"] for o in lock["options"]] == ["0", "1", "2"]
    assert lock["initial_option"]["value"] == "1"
    assert inputs["module_edit_lock_until"]["element"]["initial_date"] == "2021-12-27"
    assert inputs["module_edit_lock_until"]["optional"] is True
    assert views.module_edit_tracked_id(view["private_metadata"]) == 7


def test_submitting_the_prefilled_form_round_trips_into_the_same_update() -> None:
    view = views.module_edit_modal(form())
    update = validate_module_update(**views.module_edit_values(submitted_state(view)))
    assert update == ModuleUpdate(
        name="Module One",
        duration=100,
        description="Description for module",
        lock_type=LockType.UNTIL_DATE,
        lock_until=date(2021, 12, 27),
    )
    assert update.to_module_data()["lockUntil"] == "27-12-2021"


def test_submitted_changes_reach_the_update() -> None:
    view = views.module_edit_modal(form())
    state = submitted_state(
        view,
        module_edit_name={"value": "  Module Two "},
        module_edit_duration={"value": "45"},
        module_edit_description={"value": None},
        module_edit_lock_type={"selected_option": {"value": "2", "text": {"type": "plain_text", "text": "x"}}},
    )
    values = views.module_edit_values(state)
    assert values == {
        "name": "  Module Two ",
        "duration": "45",
        "description": "",
        "lock_type": "2",
        "lock_until": "2021-12-27",
    }
    update = validate_module_update(**values)
    assert update == ModuleUpdate("Module Two", 45, "", LockType.UNTIL_PREVIOUS_COMPLETED, None)


def test_field_errors_land_on_real_blocks_of_the_modal() -> None:
    view = views.module_edit_modal(form(lock_until=None))
    state = submitted_state(view, module_edit_name={"value": None}, module_edit_duration={"value": "-3"})
    with pytest.raises(ModuleUpdateError) as caught:
        validate_module_update(**views.module_edit_values(state))
    errors = views.module_edit_errors(caught.value.field_errors)
    assert set(errors) == {"module_edit_name", "module_edit_duration", "module_edit_lock_until"}
    assert set(errors) <= set(input_blocks(view))
    assert set(views.MODULE_EDIT_BLOCK_IDS.values()) == set(input_blocks(view))
    assert errors["module_edit_lock_until"].startswith("A lock-until date is required")
    assert views.module_edit_errors({"surprise": "odd"}) == {"module_edit_name": "surprise: odd"}


def test_edit_modal_edge_values() -> None:
    fractional = input_blocks(check_view(views.module_edit_modal(form(duration_minutes=2.5, description=None))))
    assert fractional["module_edit_duration"]["element"]["is_decimal_allowed"] is True
    assert fractional["module_edit_duration"]["element"]["initial_value"] == "2.5"
    assert "initial_value" not in fractional["module_edit_description"]["element"]
    empty = input_blocks(check_view(views.module_edit_modal(form(duration_minutes=None, lock_type=9, lock_until=None))))
    assert "initial_value" not in empty["module_edit_duration"]["element"]
    assert "initial_option" not in empty["module_edit_lock_type"]["element"]  # unknown lock type: admin must choose
    assert views.module_edit_tracked_id("not json") is None and views.module_edit_tracked_id('{"x":1}') is None


def test_picker_lists_tracked_modules_by_id() -> None:
    view = check_view(views.module_picker_modal([ref(1, "M1"), ref(2, None)]))
    select = elements(view, "static_select")[0]
    assert view["callback_id"] == "module_edit_picker" and "submit" not in view
    assert select["action_id"] == "module_edit_pick"
    assert [(o["text"]["text"], o["value"]) for o in select["options"]] == [("M1", "1"), ("100004000000038033", "2")]
    assert "No modules are tracked yet" in everything(check_view(views.module_picker_modal([])))


def test_picker_groups_more_than_100_modules() -> None:
    many = [TrackedModuleRef(i, Provider.ZOHO, f"course-{i % 3}", None, f"m{i}", f"alias-{i}") for i in range(250)]
    select = elements(check_view(views.module_picker_modal(many)), "static_select")[0]
    assert "options" not in select
    values = [o["value"] for g in select["option_groups"] for o in g["options"]]
    assert sorted(values, key=int) == [str(i) for i in range(250)]
    huge = [TrackedModuleRef(i, Provider.ZOHO, f"c{i // 150}", None, f"m{i}") for i in range(15_000)]
    view = views.module_picker_modal(huge)
    groups = elements(view, "static_select")[0]["option_groups"]
    shown = sum(len(g["options"]) for g in groups)
    assert len(groups) == 100 and more_count(view) == 15_000 - shown


def test_after_submit_views() -> None:
    saving = check_view(views.module_edit_saving_view(form()))
    assert "Saving *Module One* to Zoho People…" in everything(saving) and "submit" not in saving
    done = check_view(views.module_edit_done_view(module(), ref(7, "onboarding")))
    assert done["title"]["text"] == "Module updated" and "Locked until 27 Dec 2021" in everything(done)
    failed = check_view(views.module_edit_failed_view(ref(7, "onboarding"), "Zoho answered 403"))
    assert "not updated: Zoho answered 403" in everything(failed)


# --- track / untrack -------------------------------------------------------------------------------------------------


def test_track_modal_with_typed_ids() -> None:
    view = check_view(views.track_module_modal())
    assert view["callback_id"] == "track_module"
    inputs = input_blocks(view)
    assert set(inputs) == set(views.TRACK_BLOCK_IDS.values())
    assert inputs["track_batch"]["optional"] and inputs["track_alias"]["optional"]
    state: dict[str, dict[str, dict[str, Any]]] = {
        "track_provider": {"provider": {"type": "radio_buttons", "selected_option": {"value": "zoho"}}},
        "track_course": {"course_id": {"type": "plain_text_input", "value": " 100002000000039001 "}},
        "track_batch": {"batch_id": {"type": "plain_text_input", "value": None}},
        "track_module": {"module_id": {"type": "plain_text_input", "value": "100004000000038033"}},
        "track_alias": {"alias": {"type": "plain_text_input", "value": "onboarding"}},
    }
    assert views.track_module_values(state) == {
        "provider": "zoho",
        "course_id": "100002000000039001",
        "batch_id": None,
        "module_id": "100004000000038033",
        "alias": "onboarding",
    }


def test_track_modal_with_pickers_from_lms_lists() -> None:
    courses = [
        Course.model_validate({"courseId": 100002000000039001 + i, "courseName": f"C{i}", "type": 2})
        for i in range(150)
    ]
    batches = [Batch.model_validate({"batchId": "b1", "batchName": "Spring", "startDate": "01-03-2025"})]
    modules = [module()]
    view = check_view(
        views.track_module_modal(courses=courses, batches=batches, modules=modules, course_id="100002000000039001")
    )
    inputs = input_blocks(view)
    course = inputs["track_course"]
    assert course["dispatch_action"] is True and course["element"]["action_id"] == "track_course_pick"
    assert len(course["element"]["option_groups"]) == 2
    assert course["element"]["initial_option"]["value"] == "100002000000039001"
    assert course["element"]["option_groups"][0]["options"][0]["description"]["text"] == "Blended"
    assert inputs["track_batch"]["element"]["options"][0]["description"]["text"] == "1 Mar 2025"
    assert inputs["track_module"]["element"]["options"][0]["value"] == "219225000000648001"
    assert inputs["track_batch"]["dispatch_action"] is True and "dispatch_action" not in inputs["track_module"]
    picked: dict[str, dict[str, dict[str, Any]]] = {
        "track_course": {
            "track_course_pick": {"type": "static_select", "selected_option": {"value": "100002000000039001"}}
        },
        "track_module": {
            "track_module_pick": {"type": "static_select", "selected_option": {"value": "219225000000648001"}}
        },
    }
    values = views.track_module_values(picked)
    assert values["course_id"] == "100002000000039001" and values["module_id"] == "219225000000648001"
    assert views.track_module_metadata(view["private_metadata"])["course_id"] == "100002000000039001"


def test_untrack_buttons_confirm_and_carry_the_tracked_id() -> None:
    message = check_message(views.untrack_message([ref(4, "M4"), ref(5, "M5")]))
    buttons = elements(message, "button")
    assert [(b["action_id"], b["value"]) for b in buttons] == [("module_untrack", "4"), ("module_untrack", "5")]
    assert all(b["style"] == "danger" and "confirm" in b for b in buttons)
    many = check_message(views.untrack_message([ref(i, f"M{i}") for i in range(300)]))
    assert more_count(many) == 300 - len(elements(many, "button"))


# --- App Home ---------------------------------------------------------------------------------------------------------


def home(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "modules": statuses(),
        "reminders": ReminderSettings(timezone="Europe/Berlin", muted=(ref(2, "M2"),)),
        "now": NOW,
        "sessions": SessionsReport(
            sessions=[SessionItem(ref(), sample_session().model_copy(update={"start_date": date(2023, 8, 3)}))]
        ),
        "plans": PlansReport(plans=sample_plans()),
    }
    return views.home_view(**{**args, **overrides})


def test_home_for_a_learner() -> None:
    view = check_view(home())
    assert view["type"] == "home"
    text = everything(view)
    assert "*To do*" in text and ":computer: *Test 1* (Online test, mandatory)" in text
    assert "*Locked modules*" in text and "— Locked until 31 Dec 2026" in text
    assert "*Upcoming sessions*" in text and "|Thu 3 Aug 2023 11:00 UTC>–<!date^1691067600^{time}|13:00 UTC>" in text
    assert "*L1* — :hourglass_flowing_sand: in progress" in text
    assert "Reminders are *on* — at *09:00* (Europe/Berlin)" in text
    picker = elements(view, "timepicker")[0]
    assert picker == {
        "type": "timepicker",
        "action_id": "remind_time",
        "initial_time": "09:00",
        "timezone": "Europe/Berlin",
    }
    actions = {b["action_id"]: b.get("value") for b in elements(view, "button")}
    assert actions == {  # no weekly-digest switch: that digest is for managers and admins
        "home_refresh": None,
        "remind_off": None,
        "remind_snooze_1d": None,
        "remind_snooze_1w": None,
        "remind_unmute": "2",
    }
    assert views.home.hh_mm("9:05") == "09:05" and views.home.hh_mm("25:00") is None
    assert "*Admin*" not in text and "Admin" not in [b.get("text", {}).get("text") for b in view["blocks"]]


def test_home_for_an_admin_with_hundreds_of_everything() -> None:
    settings = ReminderSettings(enabled=False, digest=False, muted=tuple(ref(i, f"M{i}") for i in range(300)))
    admin = StatusReport(
        connections={Provider.ZOHO: ConnectionState("admin"), Provider.ISPRING: ConnectionState("admin")},
        linked_as={},
        tracked=[ref(i, f"M{i}") for i in range(300)],
        budgets=[BudgetLine("zoho.progress", 3, 30, 0)],
        last_sweep=FETCHED,
        last_sweep_summary="40 reminders sent",
    )
    many = [replace(statuses()[0], tracked=ref(i, f"M{i}")) for i in range(300)]
    view = check_view(home(modules=many, reminders=settings, admin=admin))
    text = everything(view)
    assert "…and 1185 more items — see all with `/lms progress`" in text  # 300 modules x 4 items, 15 shown
    assert "…and 290 more muted modules" in text
    assert "…and 290 more tracked modules" in text
    assert "40 reminders sent" in text and "Turn reminders on" in text and "Weekly digest on" in text
    unmute = [b for b in elements(view, "button") if b["action_id"] == "remind_unmute"]
    assert [b["value"] for b in unmute] == [str(i) for i in range(10)]


def test_home_when_not_linked() -> None:
    view = check_view(home(linked=False, modules=[]))
    assert "/lms link &lt;learner id or e-mail&gt;" in everything(view)


# --- reminder digest --------------------------------------------------------------------------------------------------


def test_digest_groups_items_by_module_with_every_button() -> None:
    items = views.digest_items(statuses())
    assert [i.title for i in items] == ["Test 1", "Sess", "sample pff", "Assn"]  # locked modules are not nagged about
    items.append(views.DigestItem(ref(5, "M5"), "Reading", "embedLink", url="https://lms.example/reading"))
    message = check_message(
        views.reminder_digest(
            items, learner_name="Jane", lms_url_for_item=lambda i: f"https://people.zoho.com/lms/{i.item_id}"
        )
    )
    text = everything(message["blocks"])
    assert text.startswith("Hi Jane :wave: — *5 mandatory items* waiting in 2 modules.")
    assert ":computer: *Test 1* — Online test · marks —/1 · 1 of 1 attempts left" in text
    buttons = elements(message, "button")
    urls = [b["url"] for b in buttons if b["action_id"] == "reminder_open_lms"]
    assert urls[0] == "https://people.zoho.com/lms/100004000000045021" and urls[-1] == "https://lms.example/reading"
    assert [b["value"] for b in buttons if b["action_id"] == "reminder_mute"] == ["1", "5"]
    footer = {b["action_id"]: b for b in buttons if b["action_id"].startswith(("reminder_snooze", "reminder_stop"))}
    assert set(footer) == {"reminder_snooze_1d", "reminder_snooze_1w", "reminder_stop"}
    assert footer["reminder_stop"]["value"] == "1,5" and "confirm" in footer["reminder_stop"]
    assert message["text"] == "Reminder: 5 LMS items waiting for you"


def test_digest_done_variant_strikes_items_through() -> None:
    items = views.digest_items(statuses())
    partly = check_message(views.reminder_digest(views.mark_done(items, {"100004000000045021"}), learner_name="Jane"))
    assert ":white_check_mark: ~Test 1~ — Online test" in everything(partly)
    assert "1 done already" in everything(partly)
    assert len(elements(partly, "button")) == 4  # mute + snooze x2 + stop; no URL without a link
    everything_done = views.mark_done(items, {i.item_id for i in items if i.item_id})
    finished = check_message(views.reminder_digest(everything_done, learner_name="Jane"))
    assert everything(finished["blocks"]).startswith(":tada: All done, Jane!")
    assert elements(finished, "button") == [] and finished["text"] == "All your LMS items are done"


def test_digest_of_300_items_stays_within_limits() -> None:
    items = [
        views.DigestItem(ref(i // 20, f"M{i // 20}"), f"Item {i}", "assignment", url=f"https://x/{i}")
        for i in range(300)
    ]
    message = check_message(views.reminder_digest(items))
    shown_modules = len([b for b in elements(message, "button") if b["action_id"] == "reminder_mute"])
    assert more_count(message) == 12  # "…and 12 more items in this module" for the first module shown
    assert f"…and {15 - shown_modules} more modules" in everything(message)


def test_every_export_is_callable_or_a_constant() -> None:
    for name in views.__all__:
        assert hasattr(views, name), name
    assert views.SLASH_COMMAND == "/lms"


def test_home_does_not_list_a_completed_module_as_locked() -> None:
    """Zoho keeps reporting a date lock set after the learner finished: done is done, not locked."""
    finished = ModuleProgress.model_validate(
        {
            "moduleId": "100004000000038033",
            "moduleName": "Finished module",
            "isLocked": True,
            "moduleProgress": [
                {
                    "type": "offlineTest",
                    "entityId": "1",
                    "entityName": "Quiz",
                    "isMandatory": True,
                    "status": "Completed",
                }
            ],
        }
    )
    locked = ModuleStatus(ref(9, "done"), progress=finished, module=module(lockType="1", lockUntil="31-12-2026"))
    view = check_view(home(modules=[locked]))
    learning = json.dumps(view).split("Your learning", 1)[1].split("*Reminders*", 1)[0]
    assert "Locked modules" not in learning and "locked" not in learning.lower()


def test_home_says_what_could_not_be_checked_instead_of_nothing_due() -> None:
    stale = Freshness(fetched_at=FETCHED, stale=True, reason="Zoho is rate-limited for 4 more minutes")
    done = ModuleProgress.model_validate({"moduleId": "1", "moduleName": "Done", "moduleProgress": []})
    modules = [
        ModuleStatus(ref(1, "M1"), progress=done, freshness=stale),
        ModuleStatus(ref(4, "M4"), error="Zoho did not answer in time."),
    ]
    shown = json.dumps(check_view(home(modules=modules)), ensure_ascii=False)
    when = f"<!date^{int(FETCHED.timestamp())}^{{time}}|09:12 UTC>"
    assert f"couldn't check 2 modules — showing what we had at {when}" in shown
    assert "Nothing mandatory is waiting" not in shown and "Nothing due in the modules we could check" in shown


def test_home_settings_and_welcome_controls_are_valid_block_kit() -> None:
    view = check_view(home(welcome=True, linked=False, note="Reminders will come Mondays."))
    ids = {e.get("action_id") for b in view["blocks"] for e in [*b.get("elements", []), b.get("accessory") or {}]}
    assert {"home_link_me", "remind_days", "remind_quiet", "remind_snooze_1d", "remind_snooze_until"} <= ids
    assert "Welcome to lmsbot" in json.dumps(view) and "Reminders will come Mondays." in json.dumps(view)
