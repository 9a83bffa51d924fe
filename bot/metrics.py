"""What lmsbot does, as Prometheus metrics (prometheus-client, the process's default registry).

The metric objects live here, with the few helpers their call sites use, so instrumenting a module is one line.
`GET /metrics` serves them from the web process and from `lmsbot scheduler --metrics-port P`
(bot/observability.py).

Labels are a small, fixed set of values: LMS provider and endpoint *names* (never URLs or ids), outcomes, Slack
method names, request kinds, reasons. Never a user id, a team id or a secret. The one per-account label, on the
daily-budget gauges, is the rate limiter's account key (`zoho:<12 hex>`, a hash: no client id, no token), and
there is one per connected LMS account.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import aiohttp
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from bot.lms.ratelimit import DailyQuota, RateLimiter

log = logging.getLogger(__name__)

# --- LMS calls ---------------------------------------------------------------------------------------------------

LMS_REQUESTS = Counter(
    "lmsbot_lms_requests",
    "HTTP requests sent to an LMS (token requests included), by provider, endpoint name and outcome.",
    ["provider", "endpoint", "outcome"],
)
LMS_RATELIMIT_WAITS = Counter(
    "lmsbot_lms_ratelimit_waits",
    "Times a call waited for rate-limit budget before it was sent (reason: window, locked, daily).",
    ["provider", "endpoint", "reason"],
)
LMS_RATELIMIT_WAIT_SECONDS = Counter(
    "lmsbot_lms_ratelimit_wait_seconds",
    "Seconds calls spent waiting for rate-limit budget.",
    ["provider", "endpoint", "reason"],
)
LMS_RATELIMIT_REFUSALS = Counter(
    "lmsbot_lms_ratelimit_refusals",
    "Calls not sent because the wait for budget would be too long (window, locked) or the daily budget is spent.",
    ["provider", "endpoint", "reason"],
)
LMS_LOCKS = Counter(
    "lmsbot_lms_locks",
    "Rate-limit locks an LMS reported (Zoho's 5-minute lock, a 429): the endpoint is paused.",
    ["provider", "endpoint"],
)
LMS_DAILY_USED = Gauge(
    "lmsbot_lms_daily_budget_used",
    "Calls made over the last 24 hours against an LMS account's daily budget (read when scraped).",
    ["account"],
)
LMS_DAILY_REMAINING = Gauge(
    "lmsbot_lms_daily_budget_remaining",
    "Calls left in an LMS account's daily budget (read when scraped).",
    ["account"],
)
LMS_DAILY_LIMIT = Gauge("lmsbot_lms_daily_budget_limit", "An LMS account's daily budget.", ["account"])
CACHE_LOOKUPS = Counter(
    "lmsbot_lms_cache_lookups",
    "LMS answers looked up in the shared cache (hit: a fresh copy was used; miss: the LMS was asked; "
    "stale: of those misses, the LMS failed and an older copy was served).",
    ["result"],
)

# --- reminders ---------------------------------------------------------------------------------------------------

MESSAGE_KINDS = frozenset({"digest", "manager-digest", "session", "trainer"})
DIGESTS_SENT = Counter("lmsbot_digests_sent", "Reminder messages posted to Slack, by kind.", ["kind"])
DIGESTS_UPDATED = Counter(
    "lmsbot_digests_updated", "Reminder messages edited in place (items ticked off), by kind.", ["kind"]
)
DIGESTS_SKIPPED = Counter(
    "lmsbot_digests_skipped",
    "Daily digests not sent: nothing_due (once a day: nothing pending), or held past their send time by "
    "quiet_hours or snoozed (counted at each sweep that holds them).",
    ["reason"],
)
DUPLICATES_PREVENTED = Counter(
    "lmsbot_digests_duplicates_prevented",
    "Reminder messages not sent twice: claimed (already sent in the period, or another worker is sending it) or "
    "found_in_slack (an earlier attempt had reached Slack; confirmed, not re-sent).",
    ["reason"],
)
SWEEP_SECONDS = Histogram(
    "lmsbot_sweep_duration_seconds",
    "How long one reminder sweep over every workspace took.",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200),
)
DIGEST_LATENESS = Histogram(
    "lmsbot_digest_lateness_seconds",
    "How long after its send time (the learner's, in their zone) a daily digest reached Slack.",
    buckets=(5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400),
)

# --- Slack -------------------------------------------------------------------------------------------------------

SLACK_CALLS = Counter(
    "lmsbot_slack_api_calls",
    "Slack Web API calls, by method and outcome (ok, error, ratelimited, http_error, unreachable).",
    ["method", "outcome"],
)
ACK_SECONDS = Histogram(
    "lmsbot_slack_ack_seconds",
    "From a Slack request's arrival to the HTTP answer (the ack), by kind (command, action, view_submission, "
    "view_closed, shortcut, options, event, other). Slack gives up after 3 s.",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
)

_OK = re.compile(rb'^\s*\{\s*"ok"\s*:\s*true')
_RATELIMITED = re.compile(rb'"error"\s*:\s*"ratelimited"')
_HEAD_BYTES = 512
_SLACK_METHOD = re.compile(r"[a-z][A-Za-z]*(?:\.[A-Za-z]+)+")
_PROVIDERS = {"zoho": "zoho", "ispring": "ispring"}


def provider_label(provider: str) -> str:
    return _PROVIDERS.get(provider.lower(), "other")


def lms_request(provider: str, endpoint: str | None, outcome: str) -> None:
    LMS_REQUESTS.labels(provider_label(provider), endpoint or "other", outcome).inc()


def lms_outcome_for_status(status: int) -> str:
    if status < 400:
        return "ok"
    if status == 401:
        return "unauthorized"
    if status == 429:
        return "rate_limited"
    return "client_error" if status < 500 else "server_error"


def lms_outcome_for_error(exc: BaseException) -> str:
    from bot.lms.errors import DeadlineExceededError, LMSError, UnreachableError

    if isinstance(exc, DeadlineExceededError):
        return "timeout"
    if isinstance(exc, UnreachableError):
        return "unreachable"
    if isinstance(exc, LMSError):
        return "invalid_response"
    return "error"


def key_labels(key: str) -> tuple[str, str]:
    """(provider, endpoint) of a rate-limit key (`<provider>:<account hash>:<endpoint>`)."""
    parts = key.split(":")
    if len(parts) < 3:
        return "other", "other"
    return provider_label(parts[0]), parts[-1]


def ratelimit_wait(key: str, reason: str, seconds: float) -> None:
    provider, endpoint = key_labels(key)
    LMS_RATELIMIT_WAITS.labels(provider, endpoint, reason).inc()
    LMS_RATELIMIT_WAIT_SECONDS.labels(provider, endpoint, reason).inc(max(0.0, seconds))


def ratelimit_refused(key: str, reason: str) -> None:
    LMS_RATELIMIT_REFUSALS.labels(*key_labels(key), reason).inc()


def lms_lock(key: str) -> None:
    LMS_LOCKS.labels(*key_labels(key)).inc()


# Daily quotas seen by each rate limiter, so a scrape can read how much of each is used. Weak: a limiter (and
# the backend it holds) goes when its services do; only the scraping process's own limiter is read.
_quotas: weakref.WeakKeyDictionary[RateLimiter, dict[str, int]] = weakref.WeakKeyDictionary()


def saw_daily(limiter: RateLimiter, quota: DailyQuota) -> None:
    seen = _quotas.get(limiter)
    if seen is None:
        seen = _quotas[limiter] = {}
    seen[quota.key] = quota.limit


async def refresh_daily(limiter: RateLimiter, timeout: float = 2.0) -> None:
    """Set the daily-budget gauges from the limiter's backend (one read per account this process has used)."""
    from bot.lms.ratelimit import DailyQuota

    for key, limit in list(_quotas.get(limiter, {}).items()):
        try:
            async with asyncio.timeout(timeout):
                usage = await limiter.daily_usage(DailyQuota(key, limit))
        except Exception as exc:  # noqa: BLE001 - a scrape still answers; the gauge keeps its last value
            log.info("metrics: daily budget of %s unavailable: %s", key, exc)
            continue
        LMS_DAILY_USED.labels(key).set(usage.used)
        LMS_DAILY_REMAINING.labels(key).set(usage.remaining)
        LMS_DAILY_LIMIT.labels(key).set(usage.limit)


def cache_lookup(result: str) -> None:
    CACHE_LOOKUPS.labels(result).inc()


def message_kind(item_key: str) -> str:
    kind = item_key.split(":", 1)[0]
    return kind if kind in MESSAGE_KINDS else "other"


def reminder_sent(item_key: str) -> None:
    DIGESTS_SENT.labels(message_kind(item_key)).inc()


def reminder_updated(item_key: str) -> None:
    DIGESTS_UPDATED.labels(message_kind(item_key)).inc()


def digest_skipped(reason: str | None) -> None:
    if reason is not None:
        DIGESTS_SKIPPED.labels(reason).inc()


def duplicate_prevented(reason: str) -> None:
    DUPLICATES_PREVENTED.labels(reason).inc()


def slack_call(method: str, outcome: str) -> None:
    SLACK_CALLS.labels(method if _SLACK_METHOD.fullmatch(method) else "other", outcome).inc()


def slack_request_kind(body: Mapping[str, Any]) -> str:
    """What kind of Slack request a body is (a label for the ack histogram)."""
    if body.get("command"):
        return "command"
    kind = body.get("type")
    return {
        "block_actions": "action",
        "interactive_message": "action",
        "view_submission": "view_submission",
        "view_closed": "view_closed",
        "shortcut": "shortcut",
        "message_action": "shortcut",
        "block_suggestion": "options",
        "dialog_suggestion": "options",
        "event_callback": "event",
    }.get(str(kind), "other")


# --- Slack Web API calls, seen on the shared aiohttp session ----------------------------------------------------


def _slack_method(url: Any) -> str | None:
    path = str(getattr(url, "path", ""))
    if "/api/" not in path:
        return None  # a response_url or webhook post, not a Web API method
    return path.rsplit("/", 1)[-1]


async def _on_request_end(_: aiohttp.ClientSession, __: SimpleNamespace, params: aiohttp.TraceRequestEndParams) -> None:
    method = _slack_method(params.url)
    if method is None:
        return
    response = params.response
    if response.status == 429:
        outcome = "ratelimited"
    elif response.status >= 400:
        outcome = "http_error"
    else:
        # Slack says ok or not in the body, "ok" first: its head is read (aiohttp keeps the body for slack_sdk's
        # own read), not parsed twice.
        try:
            head = (await response.read())[:_HEAD_BYTES]
        except Exception:  # noqa: BLE001 - the connection went mid-body: slack_sdk sees it too
            head = b""
        if _OK.search(head):
            outcome = "ok"
        elif _RATELIMITED.search(head):
            outcome = "ratelimited"
        else:
            outcome = "error"
    slack_call(method, outcome)


async def _on_request_exception(
    _: aiohttp.ClientSession, __: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
) -> None:
    method = _slack_method(params.url)
    if method is not None:
        slack_call(method, "unreachable")


def slack_trace() -> aiohttp.TraceConfig:
    """An aiohttp trace for the Slack session: every Web API call counted by method and outcome."""
    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(_on_request_end)
    trace.on_request_exception.append(_on_request_exception)
    return trace


# --- the endpoint ------------------------------------------------------------------------------------------------


def render() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
