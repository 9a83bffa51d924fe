"""Modals: editing a module, tracking a module, connecting iSpring.

A trigger_id is good for 3 seconds, and Zoho may take longer than that to answer: so a modal opens at once
with a "Loading…" view, and is updated with the prefilled form when Zoho has answered.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.container import Services
from bot.lms.dates import DateOrder
from bot.lms.errors import LMSError
from bot.lms.module_update import ModuleUpdateError, validate_module_update
from bot.services.connections import ConnectError
from bot.services.tracking import TrackError
from bot.services.types import ModuleEditForm, Provider
from handlers.context import dm, team_of, user_of
from handlers.errors import message_for
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
    SlackView,
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
from handlers.views.kit import context, input_block, modal, plain, section

log = logging.getLogger(__name__)

CONNECT_ISPRING_CALLBACK_ID = "connect_ispring"
TRACK_CHECK_SECONDS = 2.0  # of Slack's 3 s for a view_submission answer
_NOTICE_CALLBACK_ID = "lmsbot_notice"


def _notice(title: str, text: str) -> SlackView:
    return modal(_NOTICE_CALLBACK_ID, title, [section(text)], close="Close")


def _loading(title: str, what: str) -> SlackView:
    return modal(_NOTICE_CALLBACK_ID, title, [section(f":hourglass_flowing_sand: {what}")], close="Cancel")


def _problem(title: str, exc: BaseException) -> SlackView:
    return modal(_NOTICE_CALLBACK_ID, title, message_for(exc)["blocks"], close="Close")


# --- module edit ------------------------------------------------------------------------------------------


async def open_module_edit(
    s: Services, client: AsyncWebClient, trigger_id: str, team_id: str, ref: str | int | None
) -> None:
    if ref is None:
        await client.views_open(trigger_id=trigger_id, view=module_picker_modal(await s.tracking.list(team_id)))
        return
    opened = await client.views_open(trigger_id=trigger_id, view=_loading("Edit module", "Loading it from Zoho…"))
    await _show_form(s, client, str(opened["view"]["id"]), team_id, ref)


async def _show_form(s: Services, client: AsyncWebClient, view_id: str, team_id: str, ref: str | int) -> None:
    try:
        form = await s.module_edit.form(team_id, ref)
    except Exception as exc:  # noqa: BLE001 - shown in the modal in plain words
        await client.views_update(view_id=view_id, view=_problem("Edit module", exc))
        return
    await client.views_update(view_id=view_id, view=module_edit_modal(form))


async def _submit_module_edit(s: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    team_id, user_id = team_of(body), user_of(body)
    view = body["view"]
    tracked_id = module_edit_tracked_id(view.get("private_metadata", ""))
    values = module_edit_values(view["state"]["values"])
    roles = await s.roles.roles(team_id, user_id)
    first_block = MODULE_EDIT_BLOCK_IDS["name"]
    if not roles.can_edit_modules:
        await ack(
            response_action="errors", errors={first_block: "Only workspace admins and trainers can edit modules."}
        )
        return
    if tracked_id is None:
        await ack(response_action="errors", errors={first_block: "This form lost track of its module; open it again."})
        return
    try:  # validate before acking: field errors show inline, and nothing is sent to Zoho
        update = validate_module_update(**values, date_order=DateOrder.DMY, today=s.settings.lms_now().date())
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
    except (LMSError, ModuleUpdateError) as exc:
        problem = message_for(exc)["text"]
        await client.views_update(view_id=view_id, view=module_edit_failed_view(tracked, problem))
        return
    except Exception as exc:  # noqa: BLE001
        await client.views_update(view_id=view_id, view=_problem("Edit module", exc))
        return
    await client.views_update(view_id=view_id, view=module_edit_done_view(edited.module, edited.tracked))
    try:
        await dm(client, user_id, module_updated_message(edited.module, edited.tracked))
    except Exception as exc:  # noqa: BLE001 - the module is saved; the DM is a courtesy
        log.warning("could not DM the module update confirmation: %s", exc)


# --- tracking ---------------------------------------------------------------------------------------------


async def open_track(s: Services, client: AsyncWebClient, trigger_id: str, team_id: str) -> None:
    opened = await client.views_open(trigger_id=trigger_id, view=_loading("Track a module", "Loading courses…"))
    lists = await s.tracking.picker_lists(team_id)
    await client.views_update(view_id=str(opened["view"]["id"]), view=track_module_modal(courses=lists.courses))


async def _track_pick(s: Services, body: dict[str, Any], client: AsyncWebClient) -> None:
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


async def _submit_track(s: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
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
        errors = {TRACK_BLOCK_IDS["course_id"]: "Only workspace admins can track modules."}
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
        await ack(response_action="errors", errors={field: _field_text(str(exc))})
        return
    except TimeoutError:
        await ack()
        try:
            result = await track()
        except Exception as exc:  # noqa: BLE001 - the modal is closed; tell them in a DM
            await dm(client, user_id, message_for(exc))
            return
    except Exception as exc:  # noqa: BLE001 - an LMS or storage failure, in plain words on the form
        problem = _field_text(message_for(exc)["text"])
        await ack(response_action="errors", errors={TRACK_BLOCK_IDS["module_id"]: problem})
        return
    else:
        await ack()
    t = result.tracked
    name = f" *{result.module_name}*" if result.module_name else ""
    text = (
        f":white_check_mark: Tracking{name} as `{t.label}` (#{t.id})."
        if result.changed
        else f"`{t.label}` was already tracked; nothing changed."
    )
    if result.note:
        text += f"\n{result.note}"
    await dm(client, user_id, {"text": text, "blocks": [section(text)]})


# --- iSpring ------------------------------------------------------------------------------------------------


def connect_ispring_modal(client_id: str | None = None, problem: str | None = None) -> SlackView:
    """The connect form; after a refused key (found too late for an inline error) it comes back with the
    client id kept and the problem said under the secret."""
    blocks = [
        section("Paste the API key from iSpring Learn (Settings → API). lmsbot checks it before saving it."),
        input_block("ispring_client_id", "Client ID", _text_input("value", client_id)),
        input_block("ispring_client_secret", "Client secret", _text_input("value")),
    ]
    if problem:
        blocks.append(context(f":warning: {problem} Paste the secret again."))
    blocks.append(context("The secret is stored encrypted and never shown again."))
    return modal(CONNECT_ISPRING_CALLBACK_ID, "Connect iSpring", blocks, submit="Connect")


async def open_connect_ispring(client: AsyncWebClient, trigger_id: str) -> None:
    await client.views_open(trigger_id=trigger_id, view=connect_ispring_modal())


def _text_input(action_id: str, initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "placeholder": plain("…", 150)}
    if initial:
        element["initial_value"] = initial
    return element


async def _submit_connect_ispring(s: Services, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    team_id, user_id = team_of(body), user_of(body)
    values = body["view"]["state"]["values"]
    client_id = (values.get("ispring_client_id", {}).get("value", {}) or {}).get("value") or ""
    secret = (values.get("ispring_client_secret", {}).get("value", {}) or {}).get("value") or ""
    roles = await s.roles.roles(team_id, user_id)
    if not roles.admin:
        await ack(response_action="errors", errors={"ispring_client_id": "Only workspace admins can connect an LMS."})
        return
    connect = partial(s.connections.connect_ispring, team_id, user_id, client_id=client_id, client_secret=secret)
    # Slack waits 3 s for this answer: a key iSpring refuses within that is shown on the form itself, with
    # what was typed kept; when iSpring is slow, the form becomes a "checking" notice and then the result.
    task = asyncio.ensure_future(connect())
    try:
        connection = await asyncio.wait_for(asyncio.shield(task), timeout=TRACK_CHECK_SECONDS)
    except (ConnectError, LMSError) as exc:
        await ack(response_action="errors", errors={"ispring_client_secret": _field_text(str(exc))})
        return
    except TimeoutError:
        await ack(response_action="update", view=_loading("Connect iSpring", "Checking the key with iSpring…"))
        view_id = str(body["view"]["id"])
        try:
            connection = await task
        except (ConnectError, LMSError) as exc:  # the form again, with what was typed (but the secret) kept
            await client.views_update(view_id=view_id, view=connect_ispring_modal(client_id.strip(), str(exc)))
            return
        text = f":white_check_mark: iSpring is connected (client `{connection.client_id}`)."
        await client.views_update(view_id=view_id, view=_notice("Connect iSpring", text))
        return
    text = f":white_check_mark: iSpring is connected (client `{connection.client_id}`)."
    await ack(response_action="update", view=_notice("Connect iSpring", text))


def _field_text(text: str) -> str:
    """An inline error is plain text of at most 150 characters (Slack shows no mrkdwn under a field)."""
    plain_text = text.replace("`", "")
    return plain_text if len(plain_text) <= 150 else plain_text[:149] + "…"


async def _refuse(client: AsyncWebClient, body: dict[str, Any], title: str, text: str) -> None:
    """A refusal in a modal of the person's own (from their trigger_id): never in the view the payload names,
    which may be someone else's."""
    try:
        await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=_notice(title, text))
    except SlackApiError as exc:
        log.info("could not show a refusal to %s: %s", user_of(body), exc.response.get("error"))


def register(app: AsyncApp, services: Services) -> None:
    async def open_for_editor(body: dict[str, Any], client: AsyncWebClient, ref: str | int | None) -> None:
        team_id, user_id = team_of(body), user_of(body)
        roles = await services.roles.roles(team_id, user_id)
        if not roles.can_edit_modules:
            refusal = _notice("Edit module", "Only workspace admins and trainers can edit modules.")
            await client.views_open(trigger_id=body["trigger_id"], view=refusal)
            return
        await open_module_edit(services, client, body["trigger_id"], team_id, ref)

    @app.action(EDIT_MODULE_ACTION)
    async def edit_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        value = (body.get("actions") or [{}])[0].get("value") or ""
        await open_for_editor(body, client, int(value) if value.isdigit() else value)

    @app.action(MODULE_PICK_ACTION)
    async def module_picked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if not (await services.roles.roles(team_of(body), user_of(body))).can_edit_modules:
            await _refuse(client, body, "Edit module", "Only workspace admins and trainers can edit modules.")
            return
        selected = ((body.get("actions") or [{}])[0].get("selected_option") or {}).get("value", "")
        view_id = str(body["view"]["id"])
        await client.views_update(view_id=view_id, view=_loading("Edit module", "Loading it from Zoho…"))
        await _show_form(services, client, view_id, team_of(body), int(selected) if selected.isdigit() else selected)

    @app.view(MODULE_EDIT_CALLBACK_ID)
    async def module_edit_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await _submit_module_edit(services, ack, body, client)

    @app.shortcut("edit_module")
    async def edit_shortcut(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await open_for_editor(body, client, None)

    @app.action(TRACK_PROVIDER_PICK_ACTION)
    @app.action(TRACK_COURSE_PICK_ACTION)
    @app.action(TRACK_BATCH_PICK_ACTION)
    async def track_picked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        if not (await services.roles.roles(team_of(body), user_of(body))).admin:
            await _refuse(client, body, "Track a module", "Only workspace admins can track modules.")
            return
        try:
            await _track_pick(services, body, client)
        except Exception as exc:  # noqa: BLE001
            await client.views_update(view_id=str(body["view"]["id"]), view=_problem("Track a module", exc))

    @app.view(TRACK_CALLBACK_ID)
    async def track_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await _submit_track(services, ack, body, client)

    @app.action(UNTRACK_ACTION)
    async def untrack_clicked(ack: AsyncAck, body: dict[str, Any], respond: Any) -> None:
        await ack()
        team_id, user_id = team_of(body), user_of(body)
        value = (body.get("actions") or [{}])[0].get("value") or ""
        roles = await services.roles.roles(team_id, user_id)
        if not roles.admin:
            text = "Only workspace admins can untrack modules."
        else:
            removed = await services.tracking.untrack(team_id, user_id, f"#{value}")
            text = f"Stopped tracking `{removed.label}`." if removed else "That module was not tracked any more."
        await respond(text=text, response_type="ephemeral", replace_original=False)

    @app.view(CONNECT_ISPRING_CALLBACK_ID)
    async def ispring_submitted(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await _submit_connect_ispring(services, ack, body, client)

    @app.action("connect_zoho_open")
    async def url_button(ack: AsyncAck) -> None:
        await ack()  # Slack sends block_actions for link buttons too; the browser does the rest
