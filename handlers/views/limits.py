"""Slack's Block Kit limits, and the one place that cuts text and lists to fit them.

The numbers are Slack's documented limits (slack_sdk's model validators mirror them;
the sources are in docs/references.md). Builders in `kit.py` clip every text through here, and list views
cut long lists here with a visible "…and N more" line — nothing is ever dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

Block = dict[str, Any]

MESSAGE_BLOCKS: Final = 50
VIEW_BLOCKS: Final = 100  # modals and the Home tab
SECTION_TEXT: Final = 3000
SECTION_FIELDS: Final = 10
FIELD_TEXT: Final = 2000
HEADER_TEXT: Final = 150
CONTEXT_ELEMENTS: Final = 10
ACTIONS_ELEMENTS: Final = 25
BUTTON_TEXT: Final = 75
BUTTON_VALUE: Final = 2000
BUTTON_URL: Final = 3000
OPTION_TEXT: Final = 75
OPTION_VALUE: Final = 150
OPTION_DESCRIPTION: Final = 75
OPTION_GROUP_LABEL: Final = 75
SELECT_OPTIONS: Final = 100
SELECT_OPTION_GROUPS: Final = 100
RADIO_OPTIONS: Final = 10
INPUT_LABEL: Final = 2000
INPUT_HINT: Final = 2000
PLACEHOLDER: Final = 150
CONFIRM_TITLE: Final = 100
CONFIRM_TEXT: Final = 300
CONFIRM_BUTTON: Final = 30
VIEW_TITLE: Final = 24  # also the submit and close labels
PRIVATE_METADATA: Final = 3000
TEXT_INPUT_MAX_LENGTH: Final = 3000  # the largest max_length a plain_text_input takes
BLOCK_ID: Final = 255
ACTION_ID: Final = 255

# Not a documented limit: Slack answers `msg_blocks_too_long` well below 50 x 3000 characters
# (slackapi/bolt-js#2509 saw it near 13,000). Messages keep all their block text under this budget.
MESSAGE_TEXT_BUDGET: Final = 11_000
# Our choice, not Slack's: the notification/fallback `text` stays short enough to read in a banner.
FALLBACK_TEXT: Final = 3000

ELLIPSIS: Final = "…"
_OPEN_ENTITY = re.compile(r"&[#\w]{0,8}$")  # a cut "&amp;" would show as "&am…"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with a trailing "…", never splitting an escape or a <link|token>."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ELLIPSIS), 0)]
    if (opened := cut.rfind("<")) > cut.rfind(">"):
        cut = cut[:opened]
    cut = _OPEN_ENTITY.sub("", cut)
    return cut.rstrip() + ELLIPSIS


def require_fits(value: str, limit: int, what: str) -> str:
    """IDs and values must never be cut (a clipped ID points somewhere else), so refuse instead."""
    if len(value) > limit:
        raise ValueError(f"{what} is {len(value)} characters; Slack allows {limit}")
    return value


def more_line(hidden: int, noun: str) -> str:
    return f"{ELLIPSIS}and {hidden} more {noun}"


def text_size(node: object) -> int:
    """Characters of every `text` string inside a block (what Slack counts towards a message's size)."""
    if isinstance(node, dict):
        own = len(node["text"]) if isinstance(node.get("text"), str) else 0
        return own + sum(text_size(v) for v in node.values())
    if isinstance(node, list):
        return sum(text_size(v) for v in node)
    return 0


def _more_block(hidden: int, noun: str, hint: str | None) -> Block:
    words = more_line(hidden, noun) + (f" — {hint}" if hint else "")
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(words, SECTION_TEXT)}]}


def _pack(lines: Sequence[str], max_blocks: int, max_chars: int) -> tuple[list[str], int]:
    """Greedily pack lines into at most `max_blocks` section texts; returns the texts and how many lines fit."""
    chunks: list[str] = []
    used = 0
    for count, raw in enumerate(lines):
        line = clip(raw, SECTION_TEXT)
        if used + len(line) + 1 > max_chars:
            return chunks, count
        if chunks and len(chunks[-1]) + 1 + len(line) <= SECTION_TEXT:
            chunks[-1] += "\n" + line
        elif len(chunks) < max_blocks:
            chunks.append(line)
        else:
            return chunks, count
        used += len(line) + 1
    return chunks, len(lines)


def list_blocks(
    lines: Sequence[str],
    *,
    noun: str,
    max_blocks: int,
    max_chars: int = MESSAGE_TEXT_BUDGET,
    max_lines: int | None = None,
    total: int | None = None,
    hint: str | None = None,
) -> list[Block]:
    """Lines packed into as few sections as fit; ends with "…and N more {noun}" when any are left out.

    `total` is the real number of items when the caller passes fewer lines than it has (N counts them too).
    The result never has more than `max_blocks` blocks or `max_chars` characters of text.
    """
    total = len(lines) if total is None else total
    shown = list(lines[:max_lines]) if max_lines is not None else list(lines)
    if max_blocks <= 0:
        return []
    chunks, fitted = _pack(shown, max_blocks, max_chars)
    if fitted < total:
        reserve = len(more_line(total, noun)) + (len(hint) + 3 if hint else 0)
        chunks, fitted = _pack(shown, max_blocks - 1, max_chars - reserve)
    blocks: list[Block] = [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in chunks]
    if fitted < total:
        blocks.append(_more_block(total - fitted, noun, hint))
    return blocks


def fit_groups(
    groups: Sequence[Sequence[Block]],
    *,
    noun: str,
    max_blocks: int,
    max_chars: int = MESSAGE_TEXT_BUDGET,
    hint: str | None = None,
) -> list[Block]:
    """Whole groups (e.g. all blocks of one module) while they fit; then "…and N more {noun}"."""
    out: list[Block] = []
    used = 0
    for index, group in enumerate(groups):
        size = text_size(list(group))
        left = len(groups) - index
        reserve_blocks = 1 if left > 1 else 0
        reserve_chars = 120 if left > 1 else 0
        if len(out) + len(group) + reserve_blocks > max_blocks or used + size + reserve_chars > max_chars:
            if max_blocks - len(out) >= 1:
                out.append(_more_block(left, noun, hint))
            return out
        out.extend(group)
        used += size
    return out


def fit_blocks(blocks: Sequence[Block], limit: int) -> list[Block]:
    """Last-resort guard for a whole surface: views budget their lists, so this should never cut anything."""
    if len(blocks) <= limit:
        return list(blocks)
    return [*blocks[: limit - 1], _more_block(len(blocks) - limit + 1, "sections not shown", None)]
