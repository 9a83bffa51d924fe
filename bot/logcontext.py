"""Who and what a log line is about: the request id, the workspace, the Slack user and the job id.

One `ContextVar` holds the current context. The web app gives every incoming request an id at arrival
(`bot.observability.RequestContext`), Bolt's middleware adds the workspace and the user, and the scheduler names
each job run; tasks started meanwhile (Bolt's lazy listeners, a sweep's per-learner jobs) copy the context
when they are created, so every line a request or a job causes carries them. `bot.logsetup` puts the context
on each log record as it is made.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

# The names as they appear in logs (JSON: under "context"; plain text: after the message).
FIELDS = ("request_id", "workspace", "slack_user", "job_id")

_context: ContextVar[Mapping[str, str] | None] = ContextVar("lmsbot_log_context", default=None)


def current() -> Mapping[str, str]:
    """The context of the code running now (empty outside any request or job)."""
    return _context.get() or {}


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def _clean(fields: Mapping[str, str | None]) -> dict[str, str]:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    return {key: value for key, value in fields.items() if value}


def _merged(fields: Mapping[str, str | None]) -> dict[str, str]:
    return {**current(), **_clean(fields)}


@contextmanager
def bound(**fields: str | None) -> Iterator[Mapping[str, str]]:
    """Add `fields` (empty values are left out) to the context for the block, then restore the previous one."""
    merged = _merged(fields)
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


def bind(**fields: str | None) -> None:
    """Add `fields` for the rest of the current task (and the tasks it starts). For code that runs in a task of
    its own (a sweep's per-learner job): the task's context ends with it."""
    _context.set(_merged(fields))


def replace(**fields: str | None) -> None:
    """Set the context to exactly `fields` for the rest of the current task (a new request: nothing of an
    earlier one is kept)."""
    _context.set(_clean(fields))
