"""Small builders for Block Kit JSON (plain dicts, ready for Bolt). Each one clips its texts to Slack's limit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal, TypedDict

from handlers.views import limits
from handlers.views.limits import Block, clip, require_fits

Element = dict[str, Any]
TextObject = dict[str, Any]
SlackView = dict[str, Any]  # a modal or Home tab view, for views_open / views_update / views_publish
ButtonStyle = Literal["primary", "danger"]


class SlackMessage(TypedDict):
    """A message for `say(**m)`, `respond(**m)` or `chat_postMessage(channel=…, **m)`: blocks plus the fallback."""

    text: str
    blocks: list[Block]


def _non_empty(text: str) -> str:
    # Slack refuses empty text objects; an LMS name can be "".
    return text if text.strip() else "—"


def plain(text: str, limit: int) -> TextObject:
    return {"type": "plain_text", "text": clip(_non_empty(text), limit), "emoji": True}


def mrkdwn(text: str, limit: int = limits.SECTION_TEXT) -> TextObject:
    return {"type": "mrkdwn", "text": clip(_non_empty(text), limit)}


# --- blocks --------------------------------------------------------------------------------------------------


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, limits.HEADER_TEXT)}


def section(text: str, *, accessory: Element | None = None, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id is not None:
        block["block_id"] = require_fits(block_id, limits.BLOCK_ID, "block_id")
    return block


def fields_section(fields: Sequence[str], *, text: str | None = None) -> Block:
    if not 0 < len(fields) <= limits.SECTION_FIELDS:
        raise ValueError(f"a section holds 1 to {limits.SECTION_FIELDS} fields, got {len(fields)}")
    block: Block = {"type": "section", "fields": [mrkdwn(f, limits.FIELD_TEXT) for f in fields]}
    if text is not None:
        block["text"] = mrkdwn(text)
    return block


def context(*texts: str) -> Block:
    if not 0 < len(texts) <= limits.CONTEXT_ELEMENTS:
        raise ValueError(f"a context block holds 1 to {limits.CONTEXT_ELEMENTS} elements, got {len(texts)}")
    return {"type": "context", "elements": [mrkdwn(t) for t in texts]}


def divider() -> Block:
    return {"type": "divider"}


def actions(elements: Sequence[Element], *, block_id: str | None = None) -> Block:
    if not 0 < len(elements) <= limits.ACTIONS_ELEMENTS:
        raise ValueError(f"an actions block holds 1 to {limits.ACTIONS_ELEMENTS} elements, got {len(elements)}")
    block: Block = {"type": "actions", "elements": list(elements)}
    if block_id is not None:
        block["block_id"] = require_fits(block_id, limits.BLOCK_ID, "block_id")
    return block


def input_block(
    block_id: str,
    label: str,
    element: Element,
    *,
    optional: bool = False,
    hint: str | None = None,
    dispatch_action: bool = False,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": require_fits(block_id, limits.BLOCK_ID, "block_id"),
        "label": plain(label, limits.INPUT_LABEL),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, limits.INPUT_HINT)
    if dispatch_action:
        block["dispatch_action"] = True
    return block


# --- elements --------------------------------------------------------------------------------------------------


def confirm_dialog(title: str, text: str, *, confirm: str, deny: str = "Cancel", danger: bool = False) -> Element:
    dialog: Element = {
        "title": plain(title, limits.CONFIRM_TITLE),
        "text": mrkdwn(text, limits.CONFIRM_TEXT),
        "confirm": plain(confirm, limits.CONFIRM_BUTTON),
        "deny": plain(deny, limits.CONFIRM_BUTTON),
    }
    if danger:
        dialog["style"] = "danger"
    return dialog


def button(
    text: str,
    action_id: str,
    *,
    value: str | None = None,
    url: str | None = None,
    style: ButtonStyle | None = None,
    confirm: Element | None = None,
) -> Element:
    element: Element = {
        "type": "button",
        "action_id": require_fits(action_id, limits.ACTION_ID, "action_id"),
        "text": plain(text, limits.BUTTON_TEXT),
    }
    if value is not None:
        element["value"] = require_fits(value, limits.BUTTON_VALUE, "button value")
    if url is not None:
        element["url"] = require_fits(url, limits.BUTTON_URL, "button url")
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def option(text: str, value: str, *, description: str | None = None) -> Element:
    opt: Element = {
        "text": plain(text, limits.OPTION_TEXT),
        "value": require_fits(value, limits.OPTION_VALUE, "option value"),
    }
    if description:
        opt["description"] = plain(description, limits.OPTION_DESCRIPTION)
    return opt


def option_group(label: str, options: Sequence[Element]) -> Element:
    if not 0 < len(options) <= limits.SELECT_OPTIONS:
        raise ValueError(f"an option group holds 1 to {limits.SELECT_OPTIONS} options, got {len(options)}")
    return {"label": plain(label, limits.OPTION_GROUP_LABEL), "options": list(options)}


def static_select(
    action_id: str,
    *,
    placeholder: str,
    options: Sequence[Element] = (),
    option_groups: Sequence[Element] = (),
    initial_option: Element | None = None,
) -> Element:
    """A select of `options` or of `option_groups` (Slack takes one or the other; 100 of either at most)."""
    if bool(options) == bool(option_groups):
        raise ValueError("give either options or option_groups")
    if len(options) > limits.SELECT_OPTIONS or len(option_groups) > limits.SELECT_OPTION_GROUPS:
        raise ValueError("too many options for one select; group them or cut the list first")
    element: Element = {
        "type": "static_select",
        "action_id": require_fits(action_id, limits.ACTION_ID, "action_id"),
        "placeholder": plain(placeholder, limits.PLACEHOLDER),
    }
    if options:
        element["options"] = list(options)
    else:
        element["option_groups"] = list(option_groups)
    if initial_option is not None:
        element["initial_option"] = initial_option
    return element


def plain_text_input(
    action_id: str,
    *,
    initial: str | None = None,
    multiline: bool = False,
    placeholder: str | None = None,
    max_length: int | None = None,
) -> Element:
    element: Element = {"type": "plain_text_input", "action_id": action_id}
    if initial:
        element["initial_value"] = initial if max_length is None else initial[:max_length]
    if multiline:
        element["multiline"] = True
    if placeholder:
        element["placeholder"] = plain(placeholder, limits.PLACEHOLDER)
    if max_length is not None:
        element["max_length"] = max_length
    return element


def number_input(
    action_id: str,
    *,
    decimal: bool,
    initial: str | None = None,
    min_value: str | None = None,
    max_value: str | None = None,
    placeholder: str | None = None,
) -> Element:
    # Slack takes the numbers of a number_input as strings.
    element: Element = {"type": "number_input", "action_id": action_id, "is_decimal_allowed": decimal}
    if initial is not None:
        element["initial_value"] = initial
    if min_value is not None:
        element["min_value"] = min_value
    if max_value is not None:
        element["max_value"] = max_value
    if placeholder:
        element["placeholder"] = plain(placeholder, limits.PLACEHOLDER)
    return element


def datepicker(action_id: str, *, initial: date | None = None, placeholder: str | None = None) -> Element:
    element: Element = {"type": "datepicker", "action_id": action_id}
    if initial is not None:
        element["initial_date"] = initial.isoformat()  # Slack wants YYYY-MM-DD
    if placeholder:
        element["placeholder"] = plain(placeholder, limits.PLACEHOLDER)
    return element


def timepicker(action_id: str, *, initial: str | None = None, timezone: str | None = None) -> Element:
    element: Element = {"type": "timepicker", "action_id": action_id}
    if initial:
        element["initial_time"] = initial  # HH:mm, 24-hour
    if timezone:
        element["timezone"] = timezone
    return element


def radio_buttons(action_id: str, options: Sequence[Element], *, initial: Element | None = None) -> Element:
    if not 0 < len(options) <= limits.RADIO_OPTIONS:
        raise ValueError(f"radio buttons hold 1 to {limits.RADIO_OPTIONS} options, got {len(options)}")
    element: Element = {"type": "radio_buttons", "action_id": action_id, "options": list(options)}
    if initial is not None:
        element["initial_option"] = initial
    return element


# --- surfaces --------------------------------------------------------------------------------------------------


def message(text: str, blocks: Sequence[Block]) -> SlackMessage:
    return {
        "text": clip(_non_empty(text), limits.FALLBACK_TEXT),
        "blocks": limits.fit_blocks(blocks, limits.MESSAGE_BLOCKS),
    }


def modal(
    callback_id: str,
    title: str,
    blocks: Sequence[Block],
    *,
    submit: str | None = None,
    close: str = "Cancel",
    private_metadata: dict[str, Any] | None = None,
) -> SlackView:
    view: SlackView = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, limits.VIEW_TITLE),
        "close": plain(close, limits.VIEW_TITLE),
        "blocks": limits.fit_blocks(blocks, limits.VIEW_BLOCKS),
    }
    if submit is not None:
        view["submit"] = plain(submit, limits.VIEW_TITLE)
    if private_metadata is not None:
        encoded = json.dumps(private_metadata, separators=(",", ":"))
        view["private_metadata"] = require_fits(encoded, limits.PRIVATE_METADATA, "private_metadata")
    return view


def home(blocks: Sequence[Block]) -> SlackView:
    return {"type": "home", "blocks": limits.fit_blocks(blocks, limits.VIEW_BLOCKS)}
