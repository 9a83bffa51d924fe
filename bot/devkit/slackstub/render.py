"""Block Kit and Web API calls as readable terminal text, for the console mode and test failure output.

Pure functions. mrkdwn is converted lightly: *bold*, _italics_ and ~strike~ become terminal styles (or plain
text), <@U…> mentions become @handle through a `Directory` (the stub's Workspace is one), links become
"text (url)". Interactive elements show their action_id so a console user knows what to "click".

Size (~500 lines): one renderer per Block Kit element type; they call one another (blocks hold elements).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.devkit.slackstub.state import RESPONSE_URL_METHOD, ApiCall

Json = dict[str, Any]


class Directory(Protocol):
    def user_name(self, user_id: str) -> str | None: ...

    def channel_name(self, channel_id: str) -> str | None: ...

    def dm_user(self, channel_id: str) -> str | None: ...


@dataclass(frozen=True)
class Style:
    """Plain text by default (tests, logs); `ansi=True` for a terminal. `zone` (an IANA name): show <!date>
    tokens as Slack shows them to a reader in that zone (naming the zone after each time), not their fallback."""

    ansi: bool = False
    width: int = 72
    zone: str | None = None

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.ansi and text else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def italic(self, text: str) -> str:
        return self._wrap("3", text)

    def strike(self, text: str) -> str:
        return self._wrap("9", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def color(self, name: str, text: str) -> str:
        codes = {"red": "31", "green": "32", "yellow": "33", "cyan": "36"}
        return self._wrap(codes[name], text)


PLAIN = Style()
_ANSI_RE = re.compile(r"\033\[[0-9;]*m")
_TOKEN_RE = re.compile(r"(<[^<>\n]+>|`[^`\n]+`)")
_BOLD_RE = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC_RE = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE_RE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_EMOJI = {
    ":white_check_mark:": "✅",
    ":heavy_check_mark:": "✔",
    ":x:": "❌",
    ":warning:": "⚠",
    ":hourglass_flowing_sand:": "⏳",
    ":calendar:": "📅",
    ":books:": "📚",
    ":tada:": "🎉",
    ":bell:": "🔔",
    ":lock:": "🔒",
}


def visible_len(text: str) -> int:
    return len(_ANSI_RE.sub("", text))


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_DATE_RE = re.compile(r"\{(\w+)\}")
_PRETTY = {-1: "yesterday", 0: "today", 1: "tomorrow"}


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def slack_date(stamp: int, template: str, zone: str, now: datetime | None = None) -> str:
    """A <!date^stamp^template> token as Slack shows it to a reader in `zone` (24-hour clock), with the zone's
    abbreviation after each time so a transcript says whose time it is."""
    tz = ZoneInfo(zone)
    moment = datetime.fromtimestamp(stamp, tz)
    pretty = _PRETTY.get((moment.date() - (now or datetime.now(tz)).astimezone(tz).date()).days)
    forms = {
        "date_num": f"{moment:%Y-%m-%d}",
        "date": f"{moment:%B} {_ordinal(moment.day)}, {moment.year}",
        "date_short": f"{moment:%b} {moment.day}, {moment.year}",
        "date_long": f"{moment:%A, %B} {_ordinal(moment.day)}, {moment.year}",
        "time": f"{moment:%H:%M %Z}",
        "time_secs": f"{moment:%H:%M:%S %Z}",
    }

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.endswith("_pretty") and pretty is not None:
            return pretty.capitalize() if match.start() == 0 else pretty
        return forms.get(name.removesuffix("_pretty"), match.group(0))

    return _DATE_RE.sub(one, template)


def _date_token(special: str, zone: str | None) -> str | None:
    parts = special.split("^")
    if zone is None or len(parts) < 3 or parts[0] != "date" or not parts[1].lstrip("-").isdigit():
        return None
    return slack_date(int(parts[1]), parts[2], zone)


def _token(token: str, directory: Directory | None, style: Style = PLAIN) -> str:
    if token.startswith("`"):
        return _unescape(token)  # Slack's &lt; &gt; &amp; escapes apply inside code spans too
    inner = token[1:-1]
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        name = directory.user_name(target[1:]) if directory else None
        return "@" + (name or label.lstrip("@") or target[1:])
    if target.startswith("#"):
        name = directory.channel_name(target[1:]) if directory else None
        return "#" + (label or name or target[1:])
    if target.startswith("!"):
        special = target[1:]
        if special in ("here", "channel", "everyone"):
            return "@" + special
        if (shown := _date_token(special, style.zone)) is not None:
            return shown
        return label or special  # <!date^…|fallback>, <!subteam^S…|@team>
    if target.startswith("mailto:"):
        return label or target[len("mailto:") :]
    return f"{_unescape(label)} ({target})" if label else target


def mrkdwn(text: str, directory: Directory | None = None, style: Style = PLAIN) -> str:
    out: list[str] = []
    for i, part in enumerate(_TOKEN_RE.split(text)):
        if i % 2:  # tokens: links, mentions, code spans
            out.append(_token(part, directory, style))
            continue
        part = _BOLD_RE.sub(lambda m: style.bold(m.group(1)), part)
        part = _ITALIC_RE.sub(lambda m: style.italic(m.group(1)), part)
        part = _STRIKE_RE.sub(lambda m: style.strike(m.group(1)), part)
        for code, glyph in _EMOJI.items():
            part = part.replace(code, glyph)
        out.append(_unescape(part))
    return "".join(out)


def text_of(obj: Any, directory: Directory | None = None, style: Style = PLAIN) -> str:
    """A text object (plain_text or mrkdwn) or a bare string."""
    if obj is None:
        return ""
    if isinstance(obj, str):
        return mrkdwn(obj, directory, style)
    text = str(obj.get("text", ""))
    return text if obj.get("type") == "plain_text" else mrkdwn(text, directory, style)


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


# -- elements -----------------------------------------------------------------------------------------------
def _aid(element: Json, style: Style) -> str:
    return style.dim(f"({element.get('action_id', '?')})")


def _option_text(option: Json | None, directory: Directory | None, style: Style) -> str:
    return text_of(option.get("text"), directory, style) if option else ""


def _options(element: Json) -> list[tuple[str | None, Json]]:
    """(group label or None, option) in display order."""
    found: list[tuple[str | None, Json]] = [(None, o) for o in element.get("options") or []]
    for group in element.get("option_groups") or []:
        label = str((group.get("label") or {}).get("text", ""))
        found.extend((label, o) for o in group.get("options") or [])
    return found


def _choices(element: Json, marks: tuple[str, str], directory: Directory | None, style: Style) -> list[str]:
    chosen = {o.get("value") for o in element.get("initial_options") or []}
    if element.get("initial_option"):
        chosen.add(element["initial_option"].get("value"))
    lines: list[str] = []
    group: str | None = None
    for label, option in _options(element):
        if label is not None and label != group:
            group = label
            lines.append(style.dim(label + ":"))
        mark = marks[0] if option.get("value") in chosen else marks[1]
        line = f"{mark} {_option_text(option, directory, style)}"
        if option.get("description"):
            line += " " + style.dim("— " + text_of(option["description"], directory, style))
        lines.append(line)
    return lines


def _box(content: str, element: Json, style: Style, icon: str = "") -> str:
    if not content and element.get("placeholder"):
        content = style.dim(text_of(element["placeholder"]) + "…")
    return "[ " + " ".join(p for p in (content, icon) if p) + " ]" if content or icon else "[ ]"


def render_element(element: Json, directory: Directory | None = None, style: Style = PLAIN) -> str:
    kind = element.get("type")
    if kind == "button":
        label = text_of(element.get("text"), directory, style)
        if element.get("url"):
            label += f" ↗ {element['url']}"
        button = f"[ {label} ]"
        if element.get("style") == "primary":
            button = style.color("green", style.bold(button))
        elif element.get("style") == "danger":
            button = style.color("red", button)
        return f"{button} {_aid(element, style)}"
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind in ("plain_text_input", "url_text_input", "email_text_input", "number_input"):
        return f"{_box(str(element.get('initial_value') or ''), element, style)} {_aid(element, style)}"
    if kind == "rich_text_input":
        initial = element.get("initial_value")
        content = _rich_text(initial, directory, style) if isinstance(initial, dict) else ""
        return f"{_box(content, element, style)} {_aid(element, style)}"
    if kind == "radio_buttons":
        return "\n".join([_aid(element, style), *_choices(element, ("(•)", "( )"), directory, style)])
    if kind == "checkboxes":
        return "\n".join([_aid(element, style), *_choices(element, ("[x]", "[ ]"), directory, style)])
    if kind in ("static_select", "multi_static_select"):
        chosen = [element["initial_option"]] if element.get("initial_option") else element.get("initial_options") or []
        shown = ", ".join(_option_text(o, directory, style) for o in chosen)
        head = f"{_box(shown, element, style, '▾')} {_aid(element, style)}"
        return "\n".join([head, *_indent("\n".join(_choices(element, ("●", "○"), directory, style))).split("\n")])
    if kind in ("external_select", "multi_external_select"):
        chosen = [element["initial_option"]] if element.get("initial_option") else element.get("initial_options") or []
        shown = ", ".join(_option_text(o, directory, style) for o in chosen)
        return f"{_box(shown, element, style, '▾')} {_aid(element, style)} {style.dim('options from the app')}"
    if kind == "overflow":
        choices = " | ".join(_option_text(o, directory, style) for _, o in _options(element))
        return f"[ ⋯ ] {_aid(element, style)} {choices}"
    if kind == "datepicker":
        return f"{_box(str(element.get('initial_date') or ''), element, style, '📅')} {_aid(element, style)}"
    if kind == "timepicker":
        return f"{_box(str(element.get('initial_time') or ''), element, style, '🕑')} {_aid(element, style)}"
    if kind in ("users_select", "multi_users_select"):
        ids = element.get("initial_users") or ([element["initial_user"]] if element.get("initial_user") else [])
        shown = ", ".join("@" + ((directory.user_name(u) if directory else None) or u) for u in ids)
        return f"{_box(shown, element, style, '▾')} {_aid(element, style)}"
    if kind in ("conversations_select", "channels_select", "multi_conversations_select", "multi_channels_select"):
        ids = [element[k] for k in ("initial_conversation", "initial_channel") if element.get(k)]
        ids += element.get("initial_conversations") or element.get("initial_channels") or []
        shown = ", ".join("#" + ((directory.channel_name(c) if directory else None) or c) for c in ids)
        return f"{_box(shown, element, style, '▾')} {_aid(element, style)}"
    if kind in ("plain_text", "mrkdwn"):
        return text_of(element, directory, style)
    return f"[{kind}] {_aid(element, style)}"


# -- blocks -------------------------------------------------------------------------------------------------
def _columns(fields: list[str], style: Style) -> str:
    left_width = min(
        max((visible_len(line) for f in fields[::2] for line in f.split("\n")), default=0), style.width // 2
    )
    rows: list[str] = []
    for i in range(0, len(fields), 2):
        left = fields[i].split("\n")
        right = fields[i + 1].split("\n") if i + 1 < len(fields) else []
        for n in range(max(len(left), len(right))):
            a = left[n] if n < len(left) else ""
            b = right[n] if n < len(right) else ""
            rows.append((a + " " * max(0, left_width - visible_len(a)) + "   " + b).rstrip() if b else a)
    return "\n".join(rows)


def _rich_text(block: Json, directory: Directory | None, style: Style) -> str:
    def inline(elements: list[Json]) -> str:
        parts: list[str] = []
        for el in elements:
            kind = el.get("type")
            text = str(el.get("text", ""))
            if kind == "text":
                marks = el.get("style") or {}
                text = style.bold(text) if marks.get("bold") else text
                text = style.italic(text) if marks.get("italic") else text
                parts.append(text)
            elif kind == "link":
                parts.append(f"{text} ({el.get('url')})" if text else str(el.get("url")))
            elif kind == "user":
                parts.append("@" + ((directory.user_name(el["user_id"]) if directory else None) or el["user_id"]))
            elif kind == "channel":
                parts.append(
                    "#" + ((directory.channel_name(el["channel_id"]) if directory else None) or el["channel_id"])
                )
            elif kind == "emoji":
                parts.append(_EMOJI.get(f":{el.get('name')}:", f":{el.get('name')}:"))
            else:
                parts.append(text)
        return "".join(parts)

    lines: list[str] = []
    for el in block.get("elements") or []:
        kind = el.get("type")
        if kind == "rich_text_list":
            for n, item in enumerate(el.get("elements") or [], 1):
                bullet = f"{n}." if el.get("style") == "ordered" else "•"
                lines.append(f"{'  ' * int(el.get('indent', 0))}{bullet} {inline(item.get('elements') or [])}")
        elif kind == "rich_text_quote":
            lines.append("> " + inline(el.get("elements") or []))
        elif kind == "rich_text_preformatted":
            lines.append(inline(el.get("elements") or []))
        else:
            lines.append(inline(el.get("elements") or []))
    return "\n".join(lines)


def render_block(
    block: Json, directory: Directory | None = None, style: Style = PLAIN, error: str | None = None
) -> str:
    kind = block.get("type")
    out: str
    if kind == "header":
        title = text_of(block.get("text"), directory, style)
        out = style.bold(title) + "\n" + "═" * min(max(visible_len(title), 3), style.width)
    elif kind == "section":
        parts: list[str] = []
        if block.get("text"):
            parts.append(text_of(block["text"], directory, style))
        if block.get("fields"):
            parts.append(_columns([text_of(f, directory, style) for f in block["fields"]], style))
        if block.get("accessory"):
            parts.append(_indent(render_element(block["accessory"], directory, style), "  ↳ "))
        out = "\n".join(parts)
    elif kind == "context":
        items = [
            render_element(e, directory, style) if e.get("type") == "image" else text_of(e, directory, style)
            for e in block.get("elements") or []
        ]
        out = style.dim("  ".join(items))
    elif kind == "divider":
        out = "─" * style.width
    elif kind == "actions":
        out = "\n".join(render_element(e, directory, style) for e in block.get("elements") or [])
        if all(e.get("type") == "button" for e in block.get("elements") or []):
            out = "  ".join(render_element(e, directory, style) for e in block.get("elements") or [])
    elif kind == "input":
        label = text_of(block.get("label"), directory, style)
        label += style.dim(" (optional)") if block.get("optional") else ""
        lines = [style.bold(label), _indent(render_element(block.get("element") or {}, directory, style))]
        if block.get("hint"):
            lines.append(_indent(style.dim(text_of(block["hint"], directory, style))))
        out = "\n".join(lines)
    elif kind == "image":
        title = text_of(block.get("title"), directory, style)
        out = f"[image: {block.get('alt_text', '')}]" + (f" {title}" if title else "")
    elif kind == "rich_text":
        out = _rich_text(block, directory, style)
    elif kind == "markdown":
        out = str(block.get("text", ""))
    elif kind == "video":
        out = f"[video: {text_of(block.get('title'), directory, style)}]"
    else:
        out = f"[{kind} block]"
    if error:
        out += "\n" + _indent(style.color("red", f"⚠ {error}"))
    return out


def render_blocks(
    blocks: list[Json],
    directory: Directory | None = None,
    style: Style = PLAIN,
    errors: dict[str, str] | None = None,
) -> str:
    errors = errors or {}
    return "\n".join(render_block(b, directory, style, errors.get(str(b.get("block_id")))) for b in blocks)


def render_message(message: Json, directory: Directory | None = None, style: Style = PLAIN) -> str:
    """A message or a response_url body: blocks if any, else its text; attachments as a side bar."""
    parts: list[str] = []
    if message.get("blocks"):
        parts.append(render_blocks(message["blocks"], directory, style))
    elif message.get("text"):
        parts.append(mrkdwn(str(message["text"]), directory, style))
    for attachment in message.get("attachments") or []:
        inner = render_blocks(attachment["blocks"], directory, style) if attachment.get("blocks") else ""
        inner = inner or mrkdwn(str(attachment.get("text") or attachment.get("fallback") or ""), directory, style)
        parts.append(_indent(inner, "▌ "))
    return "\n".join(parts)


def render_view(
    view: Json, directory: Directory | None = None, style: Style = PLAIN, errors: dict[str, str] | None = None
) -> str:
    """A modal (title, blocks, close/submit buttons) or a home tab; `errors` marks refused inputs."""
    blocks = render_blocks(view.get("blocks") or [], directory, style, errors)
    if view.get("type") == "home":
        return "\n".join([style.bold("⌂ Home"), "─" * style.width, blocks])
    title = text_of(view.get("title"), directory, style)
    callback = view.get("callback_id")
    head = style.bold(f"▣ {title}") + (" " + style.dim(f"({callback})") if callback else "")
    buttons = [f"[ {text_of(view.get('close'), directory, style) or 'Cancel'} ]"]
    if view.get("submit"):
        buttons.append(style.bold(f"[ {text_of(view['submit'], directory, style)} ]"))
    return "\n".join([head, "─" * style.width, blocks, "─" * style.width, "  ".join(buttons)])


# -- Web API calls ------------------------------------------------------------------------------------------
def _who(user_id: str | None, directory: Directory | None) -> str:
    if not user_id:
        return "?"
    return "@" + ((directory.user_name(user_id) if directory else None) or user_id)


def _where(channel: str | None, directory: Directory | None) -> str:
    if not channel:
        return "?"
    if channel.startswith("D"):
        user = directory.dm_user(channel) if directory else None
        return f"DM with {_who(user, directory)}" if user else f"DM {channel}"
    return "#" + ((directory.channel_name(channel) if directory else None) or channel)


def _dm_or_channel(channel: str | None, directory: Directory | None) -> str:
    where = _where(channel, directory)
    return "DM to " + where.removeprefix("DM with ") if where.startswith("DM with ") else f"message in {where}"


def _response_url_head(args: Json) -> str:
    if args.get("delete_original"):
        return "original message deleted"
    if args.get("replace_original"):
        return "original message replaced"
    return "reply in channel" if args.get("response_type") == "in_channel" else "ephemeral reply"


def _lookup_args(args: Json) -> str:
    keys = ("channel", "user", "users", "email", "user_id", "cursor", "limit")
    return " ".join(f"{k}={args[k]}" for k in keys if args.get(k) not in (None, ""))


def render_call(call: ApiCall, directory: Directory | None = None, style: Style = PLAIN) -> str:
    """One readable block per call: "→ DM to @ada (chat.postMessage)" and what it showed."""
    method, args, response = call.method, call.args, call.response
    if not call.ok:
        status = f" [HTTP {call.status}]" if call.status != 200 else ""
        return style.color("red", f"✗ {method} failed: {response.get('error')}{status}")
    body = ""
    view = response.get("view") or {}
    heads: dict[str, Callable[[], str]] = {
        "chat.postMessage": lambda: _dm_or_channel(response.get("channel"), directory),
        "chat.postEphemeral": lambda: (
            f"ephemeral to {_who(args.get('user'), directory)}"
            + (f" in {_where(args.get('channel'), directory)}" if str(args.get("channel", "")).startswith("C") else "")
        ),
        "chat.update": lambda: f"message updated in {_where(response.get('channel'), directory)}",
        "chat.delete": lambda: f"message deleted in {_where(response.get('channel'), directory)}",
        "views.open": lambda: f"modal opened: {text_of(view.get('title'))}",
        "views.push": lambda: f"modal pushed: {text_of(view.get('title'))}",
        "views.update": lambda: (
            f"modal updated: {text_of(view.get('title'))}" if view.get("type") == "modal" else "home tab updated"
        ),
        "views.publish": lambda: f"home tab for {_who(args.get('user_id'), directory)}",
        RESPONSE_URL_METHOD: lambda: _response_url_head(args),
        "files.completeUploadExternal": lambda: (
            f"file {', '.join(str(f.get('name')) for f in response.get('files') or [])} shared in "
            f"{_where(args.get('channel_id'), directory)}"
        ),
    }
    if method not in heads:
        return style.dim(f"· {method} {_lookup_args(args)}".rstrip())
    head = style.bold(f"→ {heads[method]()}") + " " + style.dim(f"({method})")
    if method in ("chat.postMessage", "chat.update"):
        body = render_message(response.get("message") or {}, directory, style)
    elif method in ("chat.postEphemeral", RESPONSE_URL_METHOD) and not args.get("delete_original"):
        body = render_message(args, directory, style)
    elif method.startswith("views."):
        body = render_view(view, directory, style)
    return head + ("\n" + _indent(body) if body else "")
