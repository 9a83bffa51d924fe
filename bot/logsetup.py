"""Logging for every lmsbot process, with secrets scrubbed from whatever a library decides to log.

Our own code never logs a token; some libraries do at DEBUG (slack_sdk logs whole Web API responses,
oauth.v2.access's bot token included) and uvicorn's access log records every query string (Zoho's grant code
on /connect/zoho/callback). Scrubbing happens where records are made (a LogRecord factory), so it covers every
logger and every handler, including the ones uvicorn installs from its own log config.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_DONE = r"(?!\[redacted\])"  # never redact a redaction again: scrubbing twice changes nothing
_SECRETS = [
    re.compile(r"xox[a-z]-[A-Za-z0-9-]+"),  # Slack bot/user/refresh tokens
    re.compile(r"xapp-[A-Za-z0-9-]+"),  # Slack app-level tokens
    re.compile(r"(?i)(Zoho-oauthtoken|Bearer)\s+" + _DONE + r"[^\s'\",]+"),  # Authorization headers
    re.compile(r"1000\.[0-9a-f]{8,}\.[0-9a-f]{8,}"),  # Zoho access and refresh tokens, grant codes
    re.compile(
        r"(?i)([\"']?(?<![\w-])(?:access_token|refresh_token|client_secret|code|bot_token|signing_secret)"
        r"[\"']?\s*[:=]\s*[\"']?)" + _DONE + r"[^\s&'\",}]+"
    ),
    re.compile(r"([?&]state=)" + _DONE + r"[^\s&'\"]+"),  # the single-use OAuth state in a URL
    # Slack's response_url and webhook URLs: anyone holding one can post as the bot.
    re.compile(r"(https?://[^/\s'\"]+/(?:commands|actions|services)/)" + _DONE + r"[^\s'\",}]+"),
]


def redact(text: str) -> str:
    for pattern in _SECRETS:
        text = pattern.sub(_replacement, text)
    return text


def _replacement(match: re.Match[str]) -> str:
    kept = match.group(1) if match.lastindex else ""
    return kept + (" " if kept[-1:].isalnum() else "") + "[redacted]"


def scrub(record: logging.LogRecord) -> None:
    """Redact a record's message (and its traceback) in place.

    The arguments stay a tuple where that suffices: uvicorn's access formatter unpacks them.
    """
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string: logging itself reports it when emitting
        return
    if redact(message) != message:
        args = record.args
        cleaned_args: Any = None
        if isinstance(args, tuple) and isinstance(record.msg, str):
            cleaned_args = tuple(redact(a) if isinstance(a, str) else a for a in args)
            try:
                formatted = record.msg % cleaned_args
            except (TypeError, ValueError):
                formatted = None
            if formatted is None or redact(formatted) != formatted:
                cleaned_args = None
        if cleaned_args is not None:
            record.args = cleaned_args
        else:
            record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        # Formatters use exc_text when it is set: render the traceback once, scrubbed.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True


def install_redaction() -> None:
    """Scrub every log record as it is made, whichever logger makes it and whichever handler writes it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "lmsbot_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        scrub(record)
        return record

    factory.lmsbot_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: int) -> None:
    install_redaction()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    # slack_sdk's DEBUG is whole request/response bodies, aiosqlite's every statement with its parameters (the
    # OAuth state, people's e-mails): useful to no one, risky to keep.
    for name in ("slack_sdk", "aiosqlite"):
        logging.getLogger(name).setLevel(max(level, logging.INFO))
