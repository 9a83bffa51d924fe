"""iSpring Learn webhooks in: a completion ticks the learner's sent digest off within seconds.

iSpring signs each delivery with `X-Hub-Signature` = sha256(body + secret) (not an HMAC; its own words in
iSpring's webhook help pages, docs/references.md), resends anything not answered 200 for a day, and may drop
events after that, so the daily sweep stays the reconciliation. The route answers 200 as soon as the signature
is checked and the delivery recorded; the work (one iSpring read per learner, then the tick-off) runs in the
background. A redelivered body is recognised by its hash (the delivery ledger) and not processed again; the
tick-off is idempotent besides.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from typing import Any

from bot.lms.ispring_models import ResultsFilter
from bot.lms.ratelimit import Priority
from bot.services.cache import LmsCache
from bot.services.deliveries import DeliveryLedger
from bot.services.lms_queries import RESULTS, ispring_results_key
from bot.services.registry import LmsRegistry
from bot.services.tickoff import TickOff
from storage.repositories.links import LinkRepository

log = logging.getLogger(__name__)

# Events after which a learner's results may have changed to done.
COMPLETION_EVENTS = frozenset(
    {"COURSE_COMPLETED_SUCCESSFULLY", "COURSE_ITEM_COMPLETED_SUCCESSFULLY", "COURSE_STATUS_CHANGED"}
)
CONFIRMATION = "CONFIRMATION"
MAX_BODY_BYTES = 256 * 1024  # iSpring batches events of one type; far more than any batch a sweep misses


def signature_of(body: bytes, secret: str) -> str:
    return hashlib.sha256(body + secret.encode()).hexdigest()


def signed(body: bytes, header: str | None, secret: str) -> bool:
    """Whether `header` is iSpring's signature of `body` with `secret` (constant-time comparison)."""
    if not header:
        return False
    given = header.strip().lower().removeprefix("sha256=")
    return hmac.compare_digest(given.encode(), signature_of(body, secret).encode())


def confirmation_key(team_id: str, event: str | None) -> str:
    """Where the web process leaves a confirmation code for `lmsbot ispring webhooks register` to post back
    (one subscriber per event type, told apart by the `event` query parameter of its callback URL)."""
    return f"{team_id}:ispring:webhook-confirmation:{event or '-'}"


def _learner_ids(payloads: Any) -> Iterator[str]:
    """Learner ids in an event's payloads; the shapes are not documented, so read them tolerantly."""
    for payload in payloads if isinstance(payloads, list) else []:
        if not isinstance(payload, dict):
            continue
        for name in ("learnerId", "userId"):
            value = payload.get(name)
            if isinstance(value, str | int) and str(value):
                yield str(value)
        many = payload.get("learnerIds") or payload.get("userIds")
        if isinstance(many, list):
            yield from (str(v) for v in many if isinstance(v, str | int) and str(v))


class ISpringWebhooks:
    def __init__(
        self,
        registry: LmsRegistry,
        links: LinkRepository,
        cache: LmsCache,
        tickoff: TickOff,
        deliveries: DeliveryLedger,
    ) -> None:
        self.registry = registry
        self.links = links
        self.cache = cache
        self.tickoff = tickoff
        self.deliveries = deliveries
        self._tasks: set[asyncio.Task[None]] = set()

    async def accept(self, team_id: str, body: bytes, event: str | None = None) -> bool:
        """A signed delivery arrived: record it, and process it in the background. False: seen before."""
        digest = hashlib.sha256(team_id.encode() + b"\0" + body).hexdigest()
        if not await self.deliveries.first_time(signature=f"ispring-webhook:{digest}"):
            return False
        task = asyncio.get_running_loop().create_task(self.process(team_id, body, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def process(self, team_id: str, body: bytes, event_param: str | None = None) -> None:
        try:
            event = json.loads(body)
        except ValueError:
            log.info("iSpring webhook for %s: the body is not JSON; ignored", team_id)
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == CONFIRMATION:
            await self._confirmation(team_id, event_param, event.get("payloads"))
            return
        if kind not in COMPLETION_EVENTS:
            log.info("iSpring webhook for %s: %s not handled", team_id, kind)
            return
        for learner_id in sorted(set(_learner_ids(event.get("payloads")))):
            try:
                await self._learner(team_id, learner_id)
            except Exception as exc:  # noqa: BLE001 - the daily read reconciles what a webhook could not
                log.warning("iSpring webhook for %s: learner %s not updated now: %s", team_id, learner_id, exc)

    async def _learner(self, team_id: str, learner_id: str) -> None:
        link = await self.links.by_learner(team_id, "ispring", learner_id)
        if link is None:
            return  # not a learner this workspace reminds
        lms = await self.registry.for_team(team_id)
        if not lms.has_ispring:
            return
        # The event says something changed; the learner's own results say what (one paged read).
        flt = ResultsFilter(user_ids=(learner_id,))
        results = await lms.ispring.module_results(flt, priority=Priority.BACKGROUND, max_wait=None)
        # Kept where `/lms progress` and Home read them, so they agree with the digest ticked off now.
        await self.cache.put(ispring_results_key(team_id, flt), results, RESULTS)
        self.tickoff.learner(team_id, link.slack_user_id, ispring=results)

    async def _confirmation(self, team_id: str, event: str | None, payloads: Any) -> None:
        """Keep the confirmation code for the CLI that registered this URL (it posts it back to iSpring)."""
        first = payloads[0] if isinstance(payloads, list) and payloads else None
        code: Any = first
        if isinstance(first, str):
            try:
                code = json.loads(first)
            except ValueError:
                code = first
        if isinstance(code, dict):
            code = code.get("code") or code.get("confirmationCode")
        if isinstance(code, str | int) and str(code):
            await self.cache.store.put(confirmation_key(team_id, event), {"code": str(code)})
            log.info("iSpring webhook confirmation code received for %s", team_id)
