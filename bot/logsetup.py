"""Logging for every lmsbot process, with secrets scrubbed from whatever a library decides to log.

Our own code never logs a token; some libraries do at DEBUG (slack_sdk logs whole Web API responses,
oauth.v2.access's bot token included) and uvicorn's access log records every query string (Zoho's grant code
on /connect/zoho/callback). Scrubbing happens where records are made (a LogRecord factory), so it covers every
logger and every handler, including the ones uvicorn installs from its own log config.

The same factory puts the log context (`bot.logcontext`: request id, workspace, Slack user, job id) on every
record. `LOG_FORMAT=text` (the default, for a terminal) writes one readable line with the context after the
message; `LOG_FORMAT=json` one JSON object per line (python-json-logger: extras, exceptions and odd values
serialised the way log pipelines expect), its traceback and extra fields scrubbed too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

from bot import logcontext

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
CONTEXT_ATTR = "lmsbot_context"  # the LogRecord attribute holding the context (a mapping)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

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
        setattr(record, CONTEXT_ATTR, logcontext.current())
        return record

    factory.lmsbot_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def context_of(record: logging.LogRecord) -> Mapping[str, str]:
    context = getattr(record, CONTEXT_ATTR, None)
    return context if isinstance(context, Mapping) else {}


class TextFormatter(logging.Formatter):
    """The plain line, then the context when there is one: `… message [request_id=… workspace=T1]`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = context_of(record)
        if not context:
            return line
        tags = " ".join(f"{key}={context[key]}" for key in logcontext.FIELDS if key in context)
        head, newline, rest = line.partition("\n")  # after the message, before any traceback
        return f"{head} [{tags}]{newline}{rest}"


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, context, and any extras."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            # uvicorn's coloured copy of its message; our context goes under "context" (below)
            reserved_attrs=[*JsonFormatter().reserved_attrs, CONTEXT_ATTR, "color_message"],
            json_ensure_ascii=False,
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["context"] = dict(context_of(record))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Messages are scrubbed when records are made; tracebacks (formatted anew here) and extras are scrubbed
        # here, value by value, so the line stays valid JSON.
        return {key: _scrub_value(key, value) for key, value in log_data.items()}


_SECRET_KEYS = frozenset({"access_token", "refresh_token", "client_secret", "code", "bot_token", "signing_secret"})


def _scrub_value(key: object, value: Any) -> Any:
    if isinstance(value, str):
        return "[redacted]" if isinstance(key, str) and key.lower() in _SECRET_KEYS else redact(value)
    if isinstance(value, dict):
        return {k: _scrub_value(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(None, v) for v in value]
    return value


def formatter_for(log_format: LogFormat) -> logging.Formatter:
    return JsonLineFormatter() if log_format == "json" else TextFormatter()


def parse_log_format(value: str | None) -> LogFormat:
    """LOG_FORMAT's value: text (also when unset) or json; anything else is refused in plain words."""
    text = (value or "text").strip().lower()
    for known in LOG_FORMATS:
        if text == known:
            return known
    raise ValueError(f"LOG_FORMAT must be one of: {', '.join(LOG_FORMATS)} (got {value!r})")


_current_format: LogFormat = "text"


def current_format() -> LogFormat:
    return _current_format


def configure_logging(level: int, log_format: LogFormat = "text") -> None:
    """Scrubbing and context on every record; one handler on the root writing `log_format` to stderr.

    Called again (with the settings' LOG_FORMAT once they are read) it replaces its own handler.
    """
    global _current_format
    install_redaction()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "lmsbot_handler", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler()
    handler.lmsbot_handler = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter_for(log_format))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for other in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in other.filters):
            other.addFilter(RedactingFilter())
    _current_format = log_format
    # slack_sdk's DEBUG is whole request/response bodies, aiosqlite's every statement with its parameters (the
    # OAuth state, people's e-mails): useful to no one, risky to keep.
    for name in ("slack_sdk", "aiosqlite"):
        logging.getLogger(name).setLevel(max(level, logging.INFO))


def uvicorn_log_config() -> dict[str, Any] | None:
    """What `uvicorn.run(log_config=…)` gets: its own config for plain text (as before); with JSON, none, so
    its loggers (server messages, the access log) propagate to the root handler and are written as JSON."""
    if _current_format != "json":
        from uvicorn.config import LOGGING_CONFIG

        return LOGGING_CONFIG
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    return None
