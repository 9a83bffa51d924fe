"""`/lms track` (a modal: course, batch, module and alias — typed, or picked from LMS lists) and `/lms untrack`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Final, TypedDict

from bot.lms.zoho_models import Batch, Course, CourseType, Module
from bot.services.types import Provider, TrackedModuleRef
from handlers.views import kit, limits
from handlers.views.formatting import code, day, minutes, plural, provider_name, tracked_where
from handlers.views.kit import Element, SlackMessage, SlackView
from handlers.views.limits import Block
from handlers.views.state import StateValues, submitted_value

TRACK_CALLBACK_ID: Final = "track_module"
TRACK_PROVIDER_BLOCK: Final = "track_provider"
TRACK_COURSE_BLOCK: Final = "track_course"
TRACK_BATCH_BLOCK: Final = "track_batch"
TRACK_MODULE_BLOCK: Final = "track_module"
TRACK_ALIAS_BLOCK: Final = "track_alias"
# Picking a course or batch from a list sends block_actions, so the handler can load the next list
# and `views.update` this modal with it.
TRACK_PROVIDER_PICK_ACTION: Final = "track_provider_pick"  # choosing the LMS reloads the course list
TRACK_COURSE_PICK_ACTION: Final = "track_course_pick"
TRACK_BATCH_PICK_ACTION: Final = "track_batch_pick"
TRACK_MODULE_PICK_ACTION: Final = "track_module_pick"
TRACK_BLOCK_IDS: Final[Mapping[str, str]] = {
    "provider": TRACK_PROVIDER_BLOCK,
    "course_id": TRACK_COURSE_BLOCK,
    "batch_id": TRACK_BATCH_BLOCK,
    "module_id": TRACK_MODULE_BLOCK,
    "alias": TRACK_ALIAS_BLOCK,
}
UNTRACK_ACTION: Final = "module_untrack"  # value: tracked id
ALIAS_MAX_LENGTH: Final = 40
_COURSE_TYPES: dict[int, str] = {
    CourseType.SELF_PACED: "Self-paced",
    CourseType.BLENDED: "Blended",
    CourseType.E_MATERIAL: "E-material",
}


class TrackModuleValues(TypedDict):
    provider: str | None
    course_id: str | None
    batch_id: str | None
    module_id: str | None
    alias: str | None


def _select_choices(options: Sequence[Element], noun: str) -> tuple[dict[str, list[Element]], int]:
    """`options` as they fit one static_select: flat up to 100, else groups of 100; returns them and how many
    did not fit at all (100 groups of 100)."""
    if len(options) <= limits.SELECT_OPTIONS:
        return {"options": list(options)}, 0
    size = limits.SELECT_OPTIONS
    groups = [
        kit.option_group(f"{noun.title()} {start + 1}–{min(start + size, len(options))}", options[start : start + size])
        for start in range(0, min(len(options), size * limits.SELECT_OPTION_GROUPS), size)
    ]
    return {"option_groups": groups}, max(0, len(options) - size * limits.SELECT_OPTION_GROUPS)


def _id_input(
    block_id: str,
    label: str,
    *,
    choices: Sequence[Element],
    noun: str,
    pick_action: str,
    text_action: str,
    selected: str | None,
    optional: bool,
    hint: str | None,
    dispatch: bool,
) -> list[Block]:
    """A select when the LMS gave a list, else a text input for the ID; plus a note if the list was cut."""
    if not choices:
        element = kit.plain_text_input(text_action, initial=selected, placeholder=f"The {noun} ID from the LMS")
        return [kit.input_block(block_id, label, element, optional=optional, hint=hint)]
    fitted, hidden = _select_choices(choices, noun + "s")
    initial = next((c for c in choices if c["value"] == selected), None)
    element = kit.static_select(
        pick_action,
        placeholder=f"Choose a {noun}",
        options=fitted.get("options", ()),
        option_groups=fitted.get("option_groups", ()),
        initial_option=initial,
    )
    blocks = [kit.input_block(block_id, label, element, optional=optional, hint=hint, dispatch_action=dispatch)]
    if hidden:
        blocks.append(kit.context(f"{limits.more_line(hidden, noun + 's')} not listed — type its ID instead."))
    return blocks


def course_option(course: Course) -> Element:
    kind = _COURSE_TYPES.get(course.course_type) if course.course_type is not None else None
    return kit.option(course.name or course.course_id, course.course_id, description=kind)


def batch_option(batch: Batch) -> Element:
    span = " – ".join(day(d) for d in (batch.start_date, batch.end_date) if d is not None) or None
    return kit.option(batch.name or batch.batch_id, batch.batch_id, description=span)


def module_option(module: Module) -> Element:
    duration = minutes(module.duration_minutes) if module.duration_minutes else None
    return kit.option(module.name or module.module_id, module.module_id, description=duration)


def track_module_modal(
    *,
    provider: Provider = Provider.ZOHO,
    courses: Sequence[Course] = (),
    batches: Sequence[Batch] = (),
    modules: Sequence[Module] = (),
    course_id: str | None = None,
    batch_id: str | None = None,
    module_id: str | None = None,
    alias: str | None = None,
) -> SlackView:
    """Text inputs for the IDs, or selects when lists are given. Re-render it with the next list (and the
    choices so far) after `track_course_pick` / `track_batch_pick`; private_metadata keeps the choices."""
    providers = [kit.option(provider_name(p), p.value) for p in Provider]
    blocks: list[Block] = [
        kit.input_block(
            TRACK_PROVIDER_BLOCK,
            "LMS",
            kit.radio_buttons(
                TRACK_PROVIDER_PICK_ACTION, providers, initial=kit.option(provider_name(provider), provider.value)
            ),
            dispatch_action=True,
        ),
        *_id_input(
            TRACK_COURSE_BLOCK,
            "Course",
            choices=[course_option(c) for c in courses],
            noun="course",
            pick_action=TRACK_COURSE_PICK_ACTION,
            text_action="course_id",
            selected=course_id,
            optional=False,
            hint=None,
            dispatch=True,
        ),
        *_id_input(
            TRACK_BATCH_BLOCK,
            "Batch",
            choices=[batch_option(b) for b in batches],
            noun="batch",
            pick_action=TRACK_BATCH_PICK_ACTION,
            text_action="batch_id",
            selected=batch_id,
            optional=True,
            hint="Only for blended-learning courses.",
            dispatch=True,
        ),
        *_id_input(
            TRACK_MODULE_BLOCK,
            "Module",
            choices=[module_option(m) for m in modules],
            noun="module",
            pick_action=TRACK_MODULE_PICK_ACTION,
            text_action="module_id",
            selected=module_id,
            optional=False,
            hint=None,
            dispatch=False,
        ),
        kit.input_block(
            TRACK_ALIAS_BLOCK,
            "Alias",
            kit.plain_text_input("alias", initial=alias, max_length=ALIAS_MAX_LENGTH, placeholder="e.g. onboarding"),
            optional=True,
            hint="A short name people can type, as in /lms progress onboarding",
        ),
    ]
    metadata = {"provider": provider.value, "course_id": course_id, "batch_id": batch_id}
    return kit.modal(TRACK_CALLBACK_ID, "Track a module", blocks, submit="Track", private_metadata=metadata)


def track_module_values(values: StateValues) -> TrackModuleValues:
    """`view["state"]["values"]` -> raw strings (stripped; empty -> None), whether typed or picked."""

    def clean(block_id: str) -> str | None:
        raw = submitted_value(values, block_id)
        return raw.strip() or None if raw is not None else None

    return {
        "provider": clean(TRACK_PROVIDER_BLOCK),
        "course_id": clean(TRACK_COURSE_BLOCK),
        "batch_id": clean(TRACK_BATCH_BLOCK),
        "module_id": clean(TRACK_MODULE_BLOCK),
        "alias": clean(TRACK_ALIAS_BLOCK),
    }


def track_module_metadata(private_metadata: str) -> dict[str, str | None]:
    """The choices `track_module_modal` stored, for re-rendering it after a pick."""
    try:
        data = json.loads(private_metadata or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        k: (str(v) if v is not None else None) for k, v in data.items() if k in ("provider", "course_id", "batch_id")
    }


# --- untrack -------------------------------------------------------------------------------------------------------


def _untrack_block(tracked: TrackedModuleRef) -> Block:
    confirm = kit.confirm_dialog(
        "Stop tracking?",
        f"Stop tracking {code(tracked.label)}? Progress and reminders for it stop for everyone.",
        confirm="Untrack",
        danger=True,
    )
    button = kit.button("Untrack", UNTRACK_ACTION, value=str(tracked.id), style="danger", confirm=confirm)
    return kit.section(f"{code(tracked.label)}\n{tracked_where(tracked)}", accessory=button)


def untrack_message(tracked: Sequence[TrackedModuleRef]) -> SlackMessage:
    """Every tracked module with an "Untrack" button (value = tracked id, with a confirm dialog)."""
    if not tracked:
        return kit.message("No modules are tracked.", [kit.section("No modules are tracked, so none to untrack.")])
    head: list[Block] = [kit.header("Tracked modules"), kit.section(f"{plural(len(tracked), 'module')} tracked.")]
    body = limits.fit_groups(
        [[_untrack_block(t)] for t in tracked],
        noun="modules",
        max_blocks=limits.MESSAGE_BLOCKS - len(head),
        max_chars=limits.MESSAGE_TEXT_BUDGET - limits.text_size(head),
    )
    return kit.message(f"{plural(len(tracked), 'tracked module')}", [*head, *body])


def track_result_message(
    module_name: str | None, tracked: TrackedModuleRef, *, changed: bool, note: str | None
) -> SlackMessage:
    """The DM after the track form: what is tracked now (and a note, e.g. "not checked with Zoho")."""
    name = f" *{module_name}*" if module_name else ""
    text = (
        f":white_check_mark: Tracking{name} as `{tracked.label}` (#{tracked.id})."
        if changed
        else f"`{tracked.label}` was already tracked; nothing changed."
    )
    if note:
        text += f"\n{note}"
    return {"text": text, "blocks": [kit.section(text)]}


def untracked_text(label: str | None, asked: str | None = None) -> str:
    """After `/lms untrack <ref>` (`asked`) or the Untrack button: `label` of what stopped, None for nothing."""
    if label is not None:
        return f"Stopped tracking `{label}`."
    return f"`{asked}` was not tracked; nothing changed." if asked else "That module was not tracked any more."


def untracked_message(label: str | None, asked: str) -> SlackMessage:
    text = untracked_text(label, asked)
    return kit.message(text, [kit.section(text)])
