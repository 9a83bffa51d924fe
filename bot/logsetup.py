"""Logging for every lmsbot process, with secrets scrubbed from whatever a library decides to log.

Our own code never logs a token; some libraries do at DEBUG (slack_sdk logs whole Web API responses,
oauth.v2.access's bot token included). A filter on the handlers redacts anything shaped like a credential.
"""

from __future__ import annotations

import logging
import re

_SECRETS = [
    re.compile(r"xox[a-z]-[A-Za-z0-9-]+"),  # Slack bot/user/refresh tokens
    re.compile(r"xapp-[A-Za-z0-9-]+"),  # Slack app-level tokens
    re.compile(r"(?i)(Zoho-oauthtoken|Bearer)\s+[^\s'\",]+"),  # Authorization headers
    re.compile(r"1000\.[0-9a-f]{8,}\.[0-9a-f]{8,}"),  # Zoho access and refresh tokens
    re.compile(
        r"(?i)([\"']?(?:access_token|refresh_token|client_secret|code|bot_token)[\"']?\s*[:=]\s*[\"']?)[^\s&'\",}]+"
    ),
]


def redact(text: str) -> str:
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: (m.group(1) + " " if m.lastindex else "") + "[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    # slack_sdk's DEBUG is whole request/response bodies: useful to no one, risky to keep.
    logging.getLogger("slack_sdk").setLevel(max(level, logging.INFO))
