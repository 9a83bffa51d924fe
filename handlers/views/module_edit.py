"""The module-edit modal: pick a tracked module, edit it, see what was saved.

Flow: `module_picker_modal` (no module chosen; its select sends `module_edit_pick` with the tracked id) →
`module_edit_modal` (callback `module_edit`, tracked id in private_metadata) → on submit the handler runs
`validate_module_update(**module_edit_values(view["state"]["values"]))`, answers field errors inline with
`module_edit_errors(exc.field_errors)`, or `response_action: update` with `module_edit_saving_view` and later
`module_edit_done_view` / `module_edit_failed_view`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Final, TypedDict

from bot.lms.module_update import DESCRIPTION_MAX_CHARS, DURATION_MAX_MINUTES, LOCK_TYPE_LABELS, NAME_MAX_CHARS
from bot.lms.zoho_models import LockType, Module
from bot.services.types import ModuleEditForm, TrackedModuleRef
from handlers.views import kit, limits
from handlers.views.formatting import WARNING, esc, provider_name, tracked_title, tracked_where
from handlers.views.kit import Element, SlackView
from handlers.views.limits import Block
from handlers.views.notices import module_facts
from handlers.views.state import StateValues, submitted_value

MODULE_EDIT_CALLBACK_ID: Final = "module_edit"
MODULE_PICKER_CALLBACK_ID: Final = "module_edit_picker"
MODULE_PICK_ACTION: Final = "module_edit_pick"  # selected_option.value = tracked id
MODULE_PICK_BLOCK: Final = "module_edit_pick"

NAME_BLOCK: Final = "module_edit_name"
DURATION_BLOCK: Final = "module_edit_duration"
DESCRIPTION_BLOCK: Final = "module_edit_description"
LOCK_TYPE_BLOCK: Final = "module_edit_lock_type"
LOCK_UNTIL_BLOCK: Final = "module_edit_lock_until"

# ModuleUpdateError.field_errors keys -> the input block that shows the message.
MODULE_EDIT_BLOCK_IDS: Final[Mapping[str, str]] = {
    "name": NAME_BLOCK,
    "duration": DURATION_BLOCK,
    "description": DESCRIPTION_BLOCK,
    "lock_type": LOCK_TYPE_BLOCK,
    "lock_until": LOCK_UNTIL_BLOCK,
}
_LOCK_HINTS: dict[LockType, str] = {
    LockType.UNLOCKED: "Learners can open it any time.",
    LockType.UNTIL_DATE: "Opens on the date below.",
    LockType.UNTIL_PREVIOUS_COMPLETED: "Opens when the learner completes the module before it.",
}


class ModuleEditValues(TypedDict):
    """Raw modal values, named as `validate_module_update` takes them."""

    name: str | None
    duration: str | None
    description: str | None
    lock_type: str | None
    lock_until: str | None  # YYYY-MM-DD from the datepicker; parse_date reads ISO dates


# --- step 1: pick a module ----------------------------------------------------------------------------------


def _pick_option(tracked: TrackedModuleRef) -> Element:
    where = f"{provider_name(tracked.provider)} · module {tracked.module_id}"
    return kit.option(tracked.label, str(tracked.id), description=where)


def _grouped_options(tracked: Sequence[TrackedModuleRef]) -> tuple[list[Element], int]:
    """Option groups by course, 100 options a group and 100 groups at most; returns them and how many were left."""
    by_course: dict[tuple[str, str], list[TrackedModuleRef]] = {}  # (provider, course id)
    for ref in tracked:
        by_course.setdefault((ref.provider, ref.course_id), []).append(ref)
    groups: list[Element] = []
    shown = 0
    for (_provider, course_id), refs in by_course.items():
        for start in range(0, len(refs), limits.SELECT_OPTIONS):
            if len(groups) == limits.SELECT_OPTION_GROUPS:
                return groups, len(tracked) - shown
            chunk = refs[start : start + limits.SELECT_OPTIONS]
            part = f" ({start // limits.SELECT_OPTIONS + 1})" if len(refs) > limits.SELECT_OPTIONS else ""
            label = f"{provider_name(refs[0].provider)} course {course_id}{part}"
            groups.append(kit.option_group(label, [_pick_option(r) for r in chunk]))
            shown += len(chunk)
    return groups, 0


def module_picker_modal(tracked: Sequence[TrackedModuleRef]) -> SlackView:
    """Step 1 when `/lms edit-module` names no module: a select of tracked modules (value = tracked id)."""
    if not tracked:
        blocks = [kit.section("No modules are tracked yet."), kit.context("Admins add one with `/lms track`.")]
        return kit.modal(MODULE_PICKER_CALLBACK_ID, "Edit module", blocks, close="Close")
    if len(tracked) <= limits.SELECT_OPTIONS:
        select = kit.static_select(
            MODULE_PICK_ACTION, placeholder="Choose a module", options=[_pick_option(t) for t in tracked]
        )
        hidden = 0
    else:
        groups, hidden = _grouped_options(tracked)
        select = kit.static_select(MODULE_PICK_ACTION, placeholder="Choose a module", option_groups=groups)
    blocks = [kit.section("Which module do you want to edit?", accessory=select, block_id=MODULE_PICK_BLOCK)]
    if hidden:
        blocks.append(
            kit.context(
                f"{limits.more_line(hidden, 'modules')} not listed — use `/lms edit-module &lt;alias or id&gt;`."
            )
        )
    return kit.modal(MODULE_PICKER_CALLBACK_ID, "Edit module", blocks, close="Cancel")


# --- step 2: the form ----------------------------------------------------------------------------------------


def _lock_option(lock: LockType) -> Element:
    return kit.option(LOCK_TYPE_LABELS[lock], str(int(lock)), description=_LOCK_HINTS[lock])


def _duration_input(duration: float | None) -> Element:
    # Whole minutes normally; a duration the LMS already holds as a fraction stays editable as it is,
    # because Slack refuses a view whose initial value the input itself would not accept.
    known = duration is not None and duration > 0
    whole = not known or float(duration or 0).is_integer()
    initial = None if not known else (str(int(duration or 0)) if whole else f"{duration:g}")
    return kit.number_input(
        "duration",
        decimal=not whole,
        initial=initial,
        min_value="1" if whole else None,
        max_value=str(DURATION_MAX_MINUTES),
        placeholder="e.g. 45",
    )


def _capped_text_input(action_id: str, initial: str | None, cap: int, *, multiline: bool = False) -> Element:
    # A value the LMS already holds beyond the cap is shown whole (never silently cut on save): the check on
    # submit then asks for a shorter one.
    limit = min(max(cap, len(initial or "")), limits.TEXT_INPUT_MAX_LENGTH)
    return kit.plain_text_input(action_id, initial=initial, multiline=multiline, max_length=limit)


def module_edit_modal(form: ModuleEditForm) -> SlackView:
    """The form, prefilled from the LMS. The tracked id rides in private_metadata (`module_edit_tracked_id`)."""
    try:
        initial_lock: Element | None = _lock_option(LockType(form.lock_type))
    except ValueError:
        initial_lock = None  # a type the LMS added later: preselecting one could silently change it on save
    blocks: list[Block] = [
        kit.context(tracked_where(form.tracked)),
        kit.input_block(NAME_BLOCK, "Name", _capped_text_input("name", form.name, NAME_MAX_CHARS)),
        kit.input_block(DURATION_BLOCK, "Duration (minutes)", _duration_input(form.duration_minutes), optional=True),
        kit.input_block(
            DESCRIPTION_BLOCK,
            "Description",
            _capped_text_input("description", form.description, DESCRIPTION_MAX_CHARS, multiline=True),
            optional=True,
            hint="An empty description is saved as empty.",
        ),
        kit.input_block(
            LOCK_TYPE_BLOCK,
            "Lock",
            kit.radio_buttons("lock_type", [_lock_option(t) for t in LockType], initial=initial_lock),
        ),
        kit.input_block(
            LOCK_UNTIL_BLOCK,
            "Locked until",
            kit.datepicker("lock_until", initial=form.lock_until, placeholder="Pick a date"),
            optional=True,
            hint=f"Needed only for “{LOCK_TYPE_LABELS[LockType.UNTIL_DATE]}”.",
        ),
    ]
    return kit.modal(
        MODULE_EDIT_CALLBACK_ID,
        "Edit module",
        blocks,
        submit="Save",
        private_metadata={"tracked_id": form.tracked.id},
    )


def module_edit_tracked_id(private_metadata: str) -> int | None:
    """The tracked id `module_edit_modal` stored; None when the metadata is not ours."""
    try:
        data = json.loads(private_metadata or "{}")
    except ValueError:
        return None
    value = data.get("tracked_id") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def module_edit_values(values: StateValues) -> ModuleEditValues:
    """`view["state"]["values"]` -> kwargs for `validate_module_update`.

    An emptied description comes back as "" (not None): what the form shows is what gets saved.
    """
    return {
        "name": submitted_value(values, NAME_BLOCK),
        "duration": submitted_value(values, DURATION_BLOCK),
        "description": submitted_value(values, DESCRIPTION_BLOCK) or "",
        "lock_type": submitted_value(values, LOCK_TYPE_BLOCK),
        "lock_until": submitted_value(values, LOCK_UNTIL_BLOCK),
    }


def module_edit_errors(field_errors: Mapping[str, str]) -> dict[str, str]:
    """ModuleUpdateError.field_errors -> `{block_id: message}` for `ack(response_action="errors", errors=…)`.

    A field the modal has no input for is shown on the name input, so Slack never gets an unknown block_id.
    """
    errors: dict[str, str] = {}
    for field, text in field_errors.items():
        block_id = MODULE_EDIT_BLOCK_IDS.get(field)
        if block_id is None:
            block_id, text = NAME_BLOCK, f"{field}: {text}"
        errors[block_id] = f"{errors[block_id]} {text}" if block_id in errors else text
    return errors


# --- after submit --------------------------------------------------------------------------------------------


def module_edit_saving_view(form: ModuleEditForm, name: str | None = None) -> SlackView:
    """Shown at once with `response_action: update` while the LMS call runs (Slack wants an answer in 3 s)."""
    what = esc(name or form.name or form.tracked.label)
    blocks = [kit.section(f":hourglass_flowing_sand: Saving *{what}* to {provider_name(form.tracked.provider)}…")]
    return kit.modal(MODULE_EDIT_CALLBACK_ID, "Edit module", blocks, close="Close")


def module_edit_done_view(module: Module, tracked: TrackedModuleRef) -> SlackView:
    """The module as the LMS returned it after the update."""
    blocks = [
        kit.section(f":white_check_mark: *Module updated* — {tracked_title(tracked, module.name)}"),
        kit.fields_section(module_facts(module)),
        kit.context(tracked_where(tracked)),
    ]
    return kit.modal(MODULE_EDIT_CALLBACK_ID, "Module updated", blocks, close="Done")


def module_edit_failed_view(tracked: TrackedModuleRef, problem: str) -> SlackView:
    blocks = [
        kit.section(f"{WARNING} The module was not updated: {esc(problem)}"),
        kit.context(f"{tracked_where(tracked)} · try again with `/lms edit-module {tracked.label}`"),
    ]
    return kit.modal(MODULE_EDIT_CALLBACK_ID, "Edit module", blocks, close="Close")
