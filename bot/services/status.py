"""`/lms status` and the admin part of App Home: connections, the caller's links, tracked modules, the LMS
request budget left, and the last reminder sweep."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import pydantic

from bot.config import Settings
from bot.lms.factory import LmsClients, zoho_credentials
from bot.services.bulk_reads import BulkReads
from bot.services.cache import LmsCache
from bot.services.connections import ConnectionService
from bot.services.learning import LearningService, daily_line
from bot.services.links import LinkService
from bot.services.tracking import TrackingService
from bot.services.types import AccountBudget, ConnectionState, DailyBudgetLine, Provider, StatusReport


def sweep_key(team_id: str) -> str:
    """Where the reminder sweep leaves its summary for this workspace (in the shared LMS cache table)."""
    return f"{team_id}:sweep:last"


def item_link_templates(
    settings: Settings, connected: Collection[Provider]
) -> tuple[dict[Provider, bool] | None, str | None]:
    """Whether REMINDER_ZOHO_ITEM_URL / REMINDER_ISPRING_ITEM_URL are set, for the connected LMSs (as the
    scheduler reads them); (None, why) when the REMINDER_* settings are invalid."""
    try:
        config = settings.reminders
    except pydantic.ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = "REMINDER_" + "_".join(str(p) for p in first["loc"]).upper() if first["loc"] else "REMINDER_*"
        return None, f"{where} {str(first['msg']).removeprefix('Value error, ')}"
    templates = {Provider.ZOHO: config.zoho_item_url, Provider.ISPRING: config.ispring_item_url}
    return {p: bool(templates.get(p)) for p in Provider if p in connected}, None


def connected(connections: dict[Provider, ConnectionState]) -> list[Provider]:
    return [p for p, state in connections.items() if state.connected]


class StatusService:
    def __init__(
        self,
        settings: Settings,
        connections: ConnectionService,
        links: LinkService,
        tracking: TrackingService,
        learning: LearningService,
        cache: LmsCache,
        bulk_reads: BulkReads | None = None,
    ) -> None:
        self.settings = settings
        self.connections = connections
        self.links = links
        self.tracking = tracking
        self.learning = learning
        self.cache = cache
        self.bulk_reads = bulk_reads

    async def report(self, team_id: str, user_id: str, *, admin: bool = False) -> StatusReport:
        """What `/lms status` shows; `admin` adds the Zoho account's daily API budget."""
        linked_as: dict[Provider, str] = {}
        for provider in Provider:
            link = await self.links.learner_for(team_id, user_id, provider)
            if link is not None:
                linked_as[provider] = link.learner_id
        last_sweep, summary = await self.last_sweep(team_id)
        connections = await self.connections.describe(team_id)
        item_links, item_links_error = (
            item_link_templates(self.settings, connected(connections)) if admin else (None, None)
        )
        return StatusReport(
            connections=connections,
            linked_as=linked_as,
            tracked=await self.tracking.list(team_id),
            budgets=await self.learning.budgets(team_id),
            last_sweep=last_sweep,
            last_sweep_summary=summary,
            zoho_bulk_reads=await self.bulk_line(team_id),
            daily=await self.learning.daily_budget(team_id) if admin else None,
            item_links=item_links,
            item_links_error=item_links_error,
        )

    async def bulk_line(self, team_id: str) -> str | None:
        """How this workspace's Zoho account reads progress: "on (verified …)", "off: …", or not checked yet."""
        if self.bulk_reads is None or not (await self.connections.registry.for_team(team_id)).has_zoho:
            return None
        verdict = await self.bulk_reads.verdict(team_id)
        return verdict.line() if verdict is not None else "not checked yet (module by module until then)"

    async def account_budgets(self) -> list[AccountBudget]:
        """Every Zoho account lmsbot calls (each connected workspace's, and the environment's), with its daily
        budget as the shared rate-limit store counts it."""
        registry = self.learning.registry
        found: dict[str, tuple[list[str], DailyBudgetLine]] = {}

        async def add(lms: LmsClients, user: str) -> None:
            line = await daily_line(lms)
            if line is not None:
                found.setdefault(lms.zoho.transport.account, ([], line))[0].append(user)

        stored = await self.connections.connections.list()
        for team in sorted({c.team_id for c in stored if c.provider == "zoho"}):
            lms = await registry.for_team(team)
            if lms.has_zoho:
                await add(lms, team)
        settings = registry.settings
        if zoho_credentials(settings) is not None:
            await add(LmsClients(settings, limiter=registry.limiter, http=registry.http), "environment")
        return [AccountBudget(account, tuple(users), line) for account, (users, line) in sorted(found.items())]

    async def last_sweep(self, team_id: str) -> tuple[datetime | None, str | None]:
        stored = await self.cache.store.get(sweep_key(team_id))
        if stored is None:
            return None, None
        payload, at = stored
        summary = payload.get("summary") if isinstance(payload, dict) else None
        return at.astimezone(UTC), str(summary) if summary else None

    async def record_sweep(self, team_id: str, summary: str, details: dict[str, Any] | None = None) -> None:
        await self.cache.store.put(sweep_key(team_id), {"summary": summary, **(details or {})})
