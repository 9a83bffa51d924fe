"""Each Slack delivery runs once: a replayed signed request and a redelivered event are recognised.

A request is known by its signature (an HMAC of its timestamp and body, so a replay carries the same one);
an event by its `event_id`, which Slack keeps across redeliveries (new timestamp, new signature) and which
Socket Mode delivers too, without Slack's retry headers. Both are remembered in the database, so every web
process agrees. Rows are kept for an hour: longer than Slack's 5-minute signature window and its retries.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from storage.repositories.deliveries import DeliveryRepository

log = logging.getLogger(__name__)

KEEP_FOR = timedelta(hours=1)


def _key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"  # fixed length, whatever was sent


class DeliveryLedger:
    def __init__(self, repo: DeliveryRepository) -> None:
        self._repo = repo

    async def first_time(self, *, signature: str | None = None, event_id: str | None = None) -> bool:
        """Record the delivery (one short transaction, shared with the claims that arrive together); False if the
        request or the event was seen before."""
        keys = [_key("request", signature)] if signature else []
        if event_id:
            keys.append(_key("event", event_id))
        if not keys:
            return True
        try:
            return await self._repo.claim(keys)
        except Exception as exc:  # noqa: BLE001 - no database: serve the request rather than drop it
            log.warning(
                "could not record a Slack delivery (%s); handling it without the replay check", type(exc).__name__
            )
            return True

    async def purge(self) -> int:
        return await self._repo.purge(older_than=KEEP_FOR)
