"""Ticking finished work off sent digests as soon as fresher data arrives, whichever surface fetched it.

The shared LMS cache tells this service whenever a learner's module progress was freshly read from Zoho
(`/lms progress`, App Home, a module picker), or their own iSpring results; an iSpring webhook says so too.
The work runs in the background, so the person's reply never waits for it, and at most once more per learner
however many modules arrived meanwhile. What "ticking off" means (re-rendering the digest, chat.update) is
the reminder engine's: it is handed in by the composition root as the `Updater`, so services never import the
engine's views.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine

from bot.lms.ispring_models import ModuleResult
from bot.services.cache import LmsCache
from bot.services.lms_queries import RESULTS, ispring_key_learner, progress_key_learner
from storage.repositories.links import LinkRepository

log = logging.getLogger(__name__)

# (team, Slack user, iSpring results just read for them or None) -> ticks off what is done.
Updater = Callable[[str, str, list[ModuleResult] | None], Awaitable[object]]
_Key = tuple[str, str]  # (team, Slack user)


class TickOff:
    def __init__(self, links: LinkRepository, cache: LmsCache | None = None) -> None:
        self.links = links
        self.cache = cache  # where a learner's freshly read iSpring results are taken from
        self._updater: Updater | None = None
        self._running: dict[_Key, asyncio.Task[None]] = {}
        self._again: dict[_Key, list[ModuleResult] | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # strong references: the loop keeps only weak ones
        self._looking_up: set[tuple[str, str]] = set()  # (team, Zoho learner) whose Slack user is being looked up

    def set_updater(self, updater: Updater) -> None:
        self._updater = updater

    def stored(self, key: str) -> None:
        """The cache's listener: a Zoho module-progress answer (or one learner's iSpring results) was freshly
        stored."""
        if self._updater is None:
            return
        ispring = ispring_key_learner(key)
        if ispring is not None:
            self._spawn(self._ispring_learner(*ispring, key))
            return
        found = progress_key_learner(key)
        if found is None:
            return
        if found in self._looking_up:  # the lookup under way ends in a tick-off that reads this answer too
            return
        self._looking_up.add(found)
        self._spawn(self._zoho_learner(*found))

    def learner(self, team_id: str, user_id: str, ispring: list[ModuleResult] | None = None) -> None:
        """Fresher data for this Slack user arrived: tick off their recent digests in the background."""
        if self._updater is None:
            return
        key = (team_id, user_id)
        if key in self._running:
            self._again[key] = ispring if ispring is not None else self._again.get(key)
            return
        self._running[key] = self._spawn(self._run(key, ispring))

    async def idle(self) -> None:
        """Wait until no tick-off is running, nor about to start for an answer still being stored (tests,
        shutdown)."""
        while True:
            if self.cache is not None:  # answers served before they were stored tell this service once stored
                await self.cache.drain()
            if not self._tasks:
                return
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, job: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _zoho_learner(self, team_id: str, learner_id: str) -> None:
        try:
            link = await self.links.by_learner(team_id, "zoho", learner_id)
        finally:
            self._looking_up.discard((team_id, learner_id))
        if link is not None:
            self.learner(team_id, link.slack_user_id)

    async def _ispring_learner(self, team_id: str, learner_id: str, key: str) -> None:
        link = await self.links.by_learner(team_id, "ispring", learner_id)
        stored = await self.cache.peek(key, RESULTS) if self.cache is not None else None
        if link is not None and stored is not None:
            self.learner(team_id, link.slack_user_id, ispring=stored[0])

    async def _run(self, key: _Key, ispring: list[ModuleResult] | None) -> None:
        try:
            while True:
                assert self._updater is not None
                try:
                    await self._updater(key[0], key[1], ispring)
                except Exception:  # the sweep reconciles later; a person's reply never fails for this
                    log.exception("tick-off for %s in %s failed", key[1], key[0])
                if key not in self._again:
                    return
                ispring = self._again.pop(key)
        finally:
            self._running.pop(key, None)
