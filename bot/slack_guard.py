"""What /slack/events lets through to Bolt: at most 1 MB, signed by Slack, well-formed, and not seen before.

Bolt parses a body before it checks the signature, so garbage from anyone became a 500 and a traceback.
Here the order is: size (413, from Content-Length and by counting while reading, so an endless body is never
read whole), then the signature (401), then the shape (400: a signed body Bolt could not parse), then the
delivery ledger (a replayed request or a redelivered event is acknowledged and not run again). Refusals are
one log line each, never a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.request.internals import extract_content_type, parse_body
from slack_sdk.signature import SignatureVerifier
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from bot.services.deliveries import DeliveryLedger

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_WINDOW_SECONDS = 5 * 60  # as slack_sdk's verifier and Slack's docs
# Set on the Bolt request when this guard has already recorded the event_id, so the event middleware (which
# covers Socket Mode) does not record it a second time.
RECORDED_EVENT_ID = "lmsbot_recorded_event_id"


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit():
            raise Refused(400, "bad Content-Length")
        if int(declared) > limit:
            raise Refused(413, f"body over {limit} bytes")
    received = bytearray()
    try:
        async for chunk in request.stream():
            received += chunk
            if len(received) > limit:
                raise Refused(413, f"body over {limit} bytes")
    except ClientDisconnect as exc:
        raise Refused(400, "the client went away mid-body") from exc
    return bytes(received)


def verify(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> str:
    """The request's signature, if Slack made it for this body within the window; else 401."""
    timestamp = headers.get("x-slack-request-timestamp") or ""
    signature = headers.get("x-slack-signature") or ""
    if not signature or not (timestamp.isascii() and timestamp.isdigit()):
        raise Refused(401, "missing or malformed signature headers")
    try:
        valid = verifier.is_valid(body.decode("utf-8"), timestamp, signature)
    except UnicodeDecodeError:
        # slack_sdk signs text; Slack signs bytes. These bytes are not text: check them the same way.
        fresh = abs(verifier.clock.now() - int(timestamp)) <= SIGNATURE_WINDOW_SECONDS
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(verifier.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        valid = fresh and hmac.compare_digest(expected, signature)
    if not valid:
        raise Refused(401, "invalid or expired signature")
    return signature


def parse(request: Request, body: bytes) -> AsyncBoltRequest:
    """The Bolt request, built as Bolt's Starlette adapter builds it, once the body is known to parse."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "the body is not UTF-8") from exc
    content_type = extract_content_type({"content-type": [request.headers.get("content-type", "")]})
    try:
        parsed: Any = parse_body(text, content_type)  # Bolt's own reading: JSON, form, or form with payload=
    except ValueError as exc:
        raise Refused(400, "the body or its payload is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise Refused(400, "the body or its payload is not a JSON object")
    try:
        return to_async_bolt_request(request, body)
    except Exception as exc:  # any other shape Bolt cannot read: the sender's mistake
        raise Refused(400, f"not a Slack payload ({type(exc).__name__})") from exc


def event_id_of(body: Mapping[str, Any]) -> str | None:
    event_id = body.get("event_id") if body.get("type") == "event_callback" else None
    return event_id if isinstance(event_id, str) and event_id else None


class SlackGuard:
    def __init__(self, app: AsyncApp, signing_secret: str, deliveries: DeliveryLedger) -> None:
        self.app = app
        self.verifier = SignatureVerifier(signing_secret)
        self.deliveries = deliveries

    async def handle(self, request: Request) -> Response:
        try:
            body = await read_body(request)
            signature = verify(self.verifier, body, request.headers)
            bolt_request = parse(request, body)
        except Refused as refused:
            log.info("refused a request to /slack/events: %s (%s)", refused.reason, refused.status)
            return PlainTextResponse(refused.reason, status_code=refused.status)
        event_id = event_id_of(bolt_request.body)
        if not await self.deliveries.first_time(signature=signature, event_id=event_id):
            retry = request.headers.get("x-slack-retry-num")
            log.info("ignored a Slack delivery already taken in%s", f" (retry {retry})" if retry else "")
            return Response(status_code=200)  # acknowledged, so Slack stops redelivering it
        if event_id is not None:
            bolt_request.context[RECORDED_EVENT_ID] = event_id
        return to_starlette_response(await self.app.async_dispatch(bolt_request))
