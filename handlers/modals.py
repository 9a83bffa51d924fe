"""Modals: editing a module, tracking a module, connecting iSpring.

A trigger_id is good for 3 seconds, and Zoho may take longer than that to answer: so a modal opens at once
with a "Loading…" view, and is updated with the prefilled form when Zoho has answered.

Size (~370 lines): the three modals share that open-at-once, update-when-Zoho-answers flow and its error
handling; each modal's views are in handlers/views.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.lms.dates import DateOrder
from bot.lms.errors import LMSError
from bot.lms.module_update import ModuleUpdateError, validate_module_update
from bot.services.connections import ConnectError, ConnectionService
from bot.services.module_edit import ModuleEditService
from bot.services.roles import Role, RoleService
from bot.services.tracking import TrackError, TrackingService
from bot.services.types import ModuleEditForm, Provider
from handlers.context import dm, team_of, user_of
from handlers.errors import guarded, message_for
from handlers.views import (
    EDIT_MODULE_ACTION,
    MODULE_EDIT_BLOCK_IDS,
    MODULE_EDIT_CALLBACK_ID,
    MODULE_PICK_ACTION,
    TRACK_BATCH_PICK_ACTION,
    TRACK_BLOCK_IDS,
    TRACK_CALLBACK_ID,
    TRACK_COURSE_PICK_ACTION,
    TRACK_PROVIDER_PICK_ACTION,
    UNTRACK_ACTION,
    module_edit_done_view,
    module_edit_errors,
    module_edit_failed_view,
    module_edit_modal,
    module_edit_saving_view,
    module_edit_tracked_id,
    module_edit_values,
    module_picker_modal,
    module_updated_message,
    track_module_metadata,
    track_module_modal,
    track_module_values,
)
from handlers.views.connect import (
    CONNECT_ISPRING_CALLBACK_ID,
    CONNECT_ZOHO_OPEN_ACTION,
    connect_ispring_modal,
    ispring_connected_text,
)
from handlers.views.notices import field_text, loading_modal, notice_modal, problem_modal, refusal
from handlers.views.problems import problem_text, unchecked_note
from handlers.views.tracking import track_result_message, untracked_text

log = logging.getLogger(__name__)

TRACK_CHECK_SECONDS = 2.0  # of Slack's 3 s for a view_submission answer
EDIT_MODULES = refusal(Role.EDITOR, "edit modules")
TRACK_MODULES = refusal(Role.ADMIN, "track modules")


@dataclass(frozen=True, slots=True)
class ModalServices:
    """What the module-edit, track and connect-iSpring modals use."""

    roles: RoleService
    tracking: TrackingService
    module_edit: ModuleEditService
    connections: ConnectionService
    lms_now: Callable[[], datetime]  # now, in the LMS's zone: "today" for a lock-until date


# --- module edit ------------------------------------------------------------------------------------------


async def open_module_edit(
    s: ModalServices, client: AsyncWebClient, trigger_id: str, team_id: str, ref: str | int | None
) -> None:
    if ref is None:
        await client.views_open(trigger_id=trigger_id, view=module_picker_modal(await s.tracking.list(team_id)))
        return
    opened = await client.views_open(trigger_id=trigger_id, view=loading_modal("Edit module", "Loading it from Zoho…"))
    await _show_form(s, client, str(opened["view"]["id"]), team_id, ref)


async def _show_form(s: ModalServices, client: AsyncWebClient, view_id: str, team_id: str, ref: str | int) -> None:
    try:
        form = await s.module_edit.form(team_id, ref)
    except Exception as exc:  # noqa: BLE001 - said in the "Loading…" modal, which a command's reply cannot reach
        await client.views_update(view_id=view_id, view=problem_modal("Edit module", message_for(exc)))
        return
    await client.views_update(view_id=view_id, view=module_edit_modal(form))


async def _submit_module_edit(s: ModalServices, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    team_id, user_id = team_of(body), user_of(body)
    view = body["view"]
    tracked_id = module_edit_tracked_id(view.get("private_metadata", ""))
    values = module_edit_values(view["state"]["values"])
    roles = await s.roles.roles(team_id, user_id)
    first_block = MODULE_EDIT_BLOCK_IDS["name"]
    if not roles.can_edit_modules:
        await ack(response_action="errors", errors={first_block: EDIT_MODULES})
        return
    if tracked_id is None:
        await ack(response_action="errors", errors={first_block: "This form lost track of its module; open it again."})
        return
    try:  # validate before acking: field errors show inline, and nothing is sent to Zoho
        update = validate_module_update(**values, date_order=DateOrder.DMY, today=s.lms_now().date())
    except ModuleUpdateError as exc:
        await ack(response_action="errors", errors=module_edit_errors(exc.field_errors))
        return
    tracked = await s.tracking.get(team_id, tracked_id)
    if tracked is None:
        await ack(response_action="errors", errors={first_block: "This module is no longer tracked."})
        return
    form = ModuleEditForm(
        tracked, update.name, update.duration, update.description, int(update.lock_type), update.lock_until
    )
    await ack(response_action="update", view=module_edit_saving_view(form))
    view_id = str(view["id"])
    try:
        edited = await s.module_edit.submit(team_id, user_id, tracked_id, **values)
    except (LMSError, ModuleUpdateError) as exc:  # the form's own "not saved" view; anything else: the boundary
        problem = message_for(exc)["text"]
        await client.views_update(view_id=view_id, view=module_edit_failed_view(tracked, problem))
        return
    await client.views_update(view_id=view_id, view=module_edit_done_view(edited.module, edited.tracked))
    try:
        await dm(client, user_id, module_updated_message(edited.module, edited.tracked))
    except Exception as exc:  # noqa: BLE001 - the module is saved; the DM is a courtesy
        log.warning("could not DM the module update confirmation: %s", exc)


# --- tracking ---------------------------------------------------------------------------------------------


async def open_track(s: ModalServices, client: AsyncWebClient, trigger_id: str, team_id: str) -> None:
    opened = await client.views_open(trigger_id=trigger_id, view=loading_modal("Track a module", "Loading courses…"))
    lists = await s.tracking.picker_lists(team_id)
    await client.views_update(view_id=str(opened["view"]["id"]), view=track_module_modal(courses=lists.courses))


async def _track_pick(s: ModalServices, body: dict[str, Any], client: AsyncWebClient) -> None:
    """The LMS, a course or a batch was picked: show the next list, keeping the choices so far (another LMS
    starts again from its own course list)."""
    view = body["view"]
    chosen = track_module_metadata(view.get("private_metadata", ""))
    values = track_module_values(view["state"]["values"])
    provider = Provider(values.get("provider") or chosen.get("provider") or Provider.ZOHO)
    course_id = values.get("course_id") or chosen.get("course_id")
    batch_id = values.get("batch_id") or chosen.get("batch_id")
    if provider.value != (chosen.get("provider") or Provider.ZOHO.value):
        course_id = batch_id = None  # the other LMS's ids mean nothing here
    lists = await s.tracking.picker_lists(team_of(body), course_id, batch_id, provider=provider)
    updated = track_module_modal(
        provider=provider,
        courses=lists.courses,
        batches=lists.batches,
        modules=lists.modules,
        course_id=course_id,
        batch_id=batch_id,
        alias=values.get("alias"),
    )
    await client.views_update(view_id=str(view["id"]), hash=view.get("hash"), view=updated)


async def _submit_track(s: ModalServices, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    team_id, user_id = team_of(body), user_of(body)
    view = body["view"]
    chosen = track_module_metadata(view.get("private_metadata", ""))
    values = track_module_values(view["state"]["values"])
    course_id = values.get("course_id") or chosen.get("course_id")
    module_id = values.get("module_id")
    errors: dict[str, str] = {}
    if not course_id:
        errors[TRACK_BLOCK_IDS["course_id"]] = "Choose or type a course."
    if not module_id:
        errors[TRACK_BLOCK_IDS["module_id"]] = "Choose or type a module."
    roles = await s.roles.roles(team_id, user_id)
    if not roles.admin:
        errors = {TRACK_BLOCK_IDS["course_id"]: TRACK_MODULES}
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    track = partial(
        s.tracking.track,
        team_id,
        user_id,
        course_id=course_id or "",
        module_id=module_id or "",
        batch_id=values.get("batch_id") or chosen.get("batch_id"),
        alias=values.get("alias"),
        provider=Provider(values.get("provider") or Provider.ZOHO),
    )
    # Slack waits 3 s for this answer: when Zoho checks the ids quickly, a mistake is shown on the form
    # itself; when it is slow, the form closes and the result comes as a DM.
    try:
        result = await asyncio.wait_for(track(), timeout=TRACK_CHECK_SECONDS)
    except TrackError as exc:  # under the field it concerns (an alias taken: under the alias)
        field = TRACK_BLOCK_IDS.get(exc.field, TRACK_BLOCK_IDS["module_id"])
        await ack(response_action="errors", errors={field: field_text(problem_text(exc))})
        return
    except TimeoutError:
        await ack()
        try:
            result = await track()
        except Exception as exc:  # noqa: BLE001 - the modal is closed; tell them in a DM
            await dm(client, user_id, message_for(exc))
            return
    except Exception as exc:  # noqa: BLE001 - an LMS or storage failure, in plain words on the form
        problem = field_text(message_for(exc)["text"])
        await ack(response_action="errors", errors={TRACK_BLOCK_IDS["module_id"]: problem})
        return
    else:
        await ack()
    note = unchecked_note(result.unchecked) if result.unchecked else None
    shown = track_result_message(result.module_name, result.tracked, changed=result.changed, note=note)
    await dm(client, user_id, shown)


# --- iSpring ------------------------------------------------------------------------------------------------


async def open_connect_ispring(client: AsyncWebClient, trigger_id: str) -> None:
    await client.views_open(trigger_id=trigger_id, view=connect_ispring_modal())


async def _submit_connect_ispring(
    s: ModalServices, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
) -> None:
    team_id, user_id = team_of(body), user_of(body)
    values = body["view"]["state"]["values"]
    client_id = (values.get("ispring_client_id", {}).get("value", {}) or {}).get("value") or ""
    secret = (values.get("ispring_client_secret", {}).get("value", {}) or {}).get("value") or ""
    roles = await s.roles.roles(team_id, user_id)
    if not roles.admin:
        await ack(response_action="errors", errors={"ispring_client_id": refusal(Role.ADMIN, "connect an LMS")})
        return
    connect = partial(s.connections.connect_ispring, team_id, user_id, client_id=client_id, client_secret=secret)
    # Slack waits 3 s for this answer: a key iSpring refuses within that is shown on the form itself, with
    # what was typed kept; when iSpring is slow, the form becomes a "checking" notice and then the result.
    task = asyncio.ensure_future(connect())
    try:
        connection = await asyncio.wait_for(asyncio.shield(task), timeout=TRACK_CHECK_SECONDS)
    except (ConnectError, LMSError) as exc:
        await ack(response_action="errors", errors={"ispring_client_secret": field_text(_refused(exc))})
        return
    except TimeoutError:
        await ack(response_action="update", view=loading_modal("Connect iSpring", "Checking the key with iSpring…"))
        view_id = str(body["view"]["id"])
        try:
            connection = await task
        except (ConnectError, LMSError) as exc:  # the form again, with what was typed (but the secret) kept
            await client.views_update(view_id=view_id, view=connect_ispring_modal(client_id.strip(), _refused(exc)))
            return
        done = notice_modal("Connect iSpring", ispring_connected_text(connection.client_id))
        await client.views_update(view_id=view_id, view=done)
        return
    await ack(
        response_action="update", view=notice_modal("Connect iSpring", ispring_connected_text(connection.client_id))
    )


def _refused(exc: ConnectError | LMSError) -> str:
    """Why iSpring's key was not saved: our sentence, or what iSpring said (with the endpoint)."""
    return problem_text(exc) if isinstance(exc, ConnectError) else str(exc)


async def _refuse(client: AsyncWebClient, body: dict[str, Any], title: str, text: str) -> None:
    """A refusal in a modal of the person's own (from their trigger_id): never in the view the payload names,
    which may be someone else's."""
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=notice_modal(title, text))
    except SlackApiError as exc:
        log.info("could not show a refusal to %s: %s", user_of(body), exc.response.get("error"))


def register(app: AsyncApp, services: ModalServices) -> None:
    async def open_for_editor(body: dict[str, Any], client: AsyncWebClient, ref: str | int | None) -> None:
        team_id, user_id = team_of(body), user_of(body)
        roles = await services.roles.roles(team_id, user_id)
        if not roles.can_edit_modules:
            await client.views_open(trigger_id=body["trigger_id"], view=notice_modal("Edit module", EDIT_MODULES))
            return
        await open_module_edit(services, client, body["trigger_id"], team_id, ref)

    @app.action(EDIT_MODULE_ACTION)
    @guarded
    async def edit_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        value = (body.get("actions") or [{}])[0].get("value") or ""
        await open_for_editor(body, client, int(value) if value.isdigit() else value)

    @app.action(MODULE_PICK_ACTION)
    @guarded
    async def module_picked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if not (await services.roles.roles(team_of(body), user_of(body))).can_edit_modules:
            await _refuse(client, body, "Edit module", EDIT_MODULES)
            return
        selected = ((body.get("actions") or [{}])[0].get("selected_option") or {}).get("value", "")
        view_id = str(body["view"]["id"])
        await client.views_update(view_id=view_id, view=loading_modal("Edit module", "Loading it from Zoho…"))
        await _show_form(services, client, view_id, team_of(body), int(selected) if selected.isdigit() else selected)

    @app.view(MODULE_EDIT_CALLBACK_ID)
    @guarded
    async def module_edit_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await _submit_module_edit(services, ack, body, client)

    @app.shortcut("edit_module")
    @guarded
    async def edit_shortcut(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await open_for_editor(body, client, None)

    @app.action(TRACK_PROVIDER_PICK_ACTION)
    @app.action(TRACK_COURSE_PICK_ACTION)
    @app.action(TRACK_BATCH_PICK_ACTION)
    @guarded
    async def track_picked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if not (await services.roles.roles(team_of(body), user_of(body))).admin:
            await _refuse(client, body, "Track a module", TRACK_MODULES)
            return
        await _track_pick(services, body, client)  # a failure: the boundary says it in this modal

    @app.view(TRACK_CALLBACK_ID)
    @guarded
    async def track_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await _submit_track(services, ack, body, client)

    @app.action(UNTRACK_ACTION)
    @guarded
    async def untrack_clicked(ack: AsyncAck, body: dict[str, Any], respond: Any) -> None:
        await ack()
        team_id, user_id = team_of(body), user_of(body)
        value = (body.get("actions") or [{}])[0].get("value") or ""
        roles = await services.roles.roles(team_id, user_id)
        if not roles.admin:
            text = refusal(Role.ADMIN, "untrack modules")
        else:
            removed = await services.tracking.untrack(team_id, user_id, f"#{value}")
            text = untracked_text(removed.label if removed else None)
        await respond(text=text, response_type="ephemeral", replace_original=False)

    @app.view(CONNECT_ISPRING_CALLBACK_ID)
    @guarded
    async def ispring_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await _submit_connect_ispring(services, ack, body, client)

    @app.action(CONNECT_ZOHO_OPEN_ACTION)
    @guarded
    async def url_button(ack: AsyncAck) -> None:
        await ack()  # Slack sends block_actions for link buttons too; the browser does the rest
