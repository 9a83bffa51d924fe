"""Connecting an LMS: the "Connect Zoho People" link and the iSpring API-key form."""

from __future__ import annotations

from typing import Any

from handlers.views import kit
from handlers.views.kit import SlackMessage, SlackView
from handlers.views.limits import Block

CONNECT_ISPRING_CALLBACK_ID = "connect_ispring"
CONNECT_ZOHO_OPEN_ACTION = "connect_zoho_open"


def connect_zoho_message(url: str) -> SlackMessage:
    """`/lms connect zoho`: the one-time authorization link, as a button."""
    text = "Connect Zoho People: open the link below and approve access (it works once, for 10 minutes)."
    blocks: list[Block] = [
        kit.section(text),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": CONNECT_ZOHO_OPEN_ACTION,
                    "text": {"type": "plain_text", "text": "Connect Zoho People"},
                    "url": url,
                    "style": "primary",
                }
            ],
        },
    ]
    return kit.message(text, blocks)


def connect_ispring_modal(client_id: str | None = None, problem: str | None = None) -> SlackView:
    """The connect form; after a refused key (found too late for an inline error) it comes back with the
    client id kept and the problem said under the secret."""
    blocks = [
        kit.section("Paste the API key from iSpring Learn (Settings → API). lmsbot checks it before saving it."),
        kit.input_block("ispring_client_id", "Client ID", _text_input("value", client_id)),
        kit.input_block("ispring_client_secret", "Client secret", _text_input("value")),
    ]
    if problem:
        blocks.append(kit.context(f":warning: {problem} Paste the secret again."))
    blocks.append(kit.context("The secret is stored encrypted and never shown again."))
    return kit.modal(CONNECT_ISPRING_CALLBACK_ID, "Connect iSpring", blocks, submit="Connect")


def ispring_connected_text(client_id: str) -> str:
    return f":white_check_mark: iSpring is connected (client `{client_id}`)."


def _text_input(action_id: str, initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "placeholder": kit.plain("…", 150)}
    if initial:
        element["initial_value"] = initial
    return element
