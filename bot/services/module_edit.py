"""Editing a tracked module: the form prefilled from Zoho, and the Update Modules PATCH on submit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.errors import Problem
from bot.lms.dates import DateOrder
from bot.lms.module_update import ModuleUpdate, validate_module_update
from bot.lms.zoho_models import Module
from bot.services.cache import LmsCache
from bot.services.learning import NeedsSetup
from bot.services.lms_queries import MODULE, module_key
from bot.services.registry import LmsRegistry
from bot.services.tracking import TrackingService
from bot.services.types import INTERACTIVE_MAX_WAIT, ModuleEditForm, Provider, TrackedModuleRef
from storage.repositories.audit import AuditRepository


@dataclass(frozen=True, slots=True)
class ModuleEdited:
    tracked: TrackedModuleRef
    module: Module  # as the LMS returned it after the PATCH
    update: ModuleUpdate


class ModuleEditService:
    def __init__(
        self,
        settings: Settings,
        registry: LmsRegistry,
        tracking: TrackingService,
        cache: LmsCache,
        audit: AuditRepository,
        *,
        lms_now: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.lms_now = lms_now  # the one clock, read in the LMS's zone (bot.clock.wall_time)
        self.registry = registry
        self.tracking = tracking
        self.cache = cache
        self._audit = audit

    async def tracked(self, team_id: str, ref: str | int) -> TrackedModuleRef:
        found = (
            await self.tracking.get(team_id, ref)
            if isinstance(ref, int)
            else await self.tracking.find(team_id, str(ref))
        )
        if found is None:
            raise NeedsSetup(Problem.NO_SUCH_MODULE, ref=str(ref))
        if found.provider is not Provider.ZOHO:
            raise NeedsSetup(Problem.ONLY_ZOHO_EDITABLE)
        return found

    async def form(self, team_id: str, ref: str | int) -> ModuleEditForm:
        """Current values, fresh from Zoho (an editor must not overwrite changes made since a cached read)."""
        tracked = await self.tracked(team_id, ref)
        lms = await self.registry.for_team(team_id)
        module = await lms.zoho.module(
            tracked.course_id, tracked.module_id, batch_id=tracked.batch_id, max_wait=INTERACTIVE_MAX_WAIT
        )
        await self.cache.put(module_key(team_id, tracked), module, MODULE)
        return ModuleEditForm(
            tracked=tracked,
            name=module.name,
            duration_minutes=module.duration_minutes,
            description=module.description,
            lock_type=int(module.lock_type),
            lock_until=module.lock_until,
        )

    async def submit(
        self,
        team_id: str,
        actor: str,
        tracked_id: int,
        *,
        name: object,
        duration: object = None,
        description: object = None,
        lock_type: object = None,
        lock_until: object = None,
    ) -> ModuleEdited:
        """Validate (ModuleUpdateError lists bad fields, nothing is sent), PATCH, audit, refresh the cache."""
        update = validate_module_update(
            name=name,
            duration=duration,
            description=description,
            lock_type=lock_type,
            lock_until=lock_until,
            date_order=DateOrder.DMY,  # typed dates are DD-MM-YYYY (the datepicker sends ISO); never MDY
            today=self.lms_now().date(),
        )
        tracked = await self.tracked(team_id, tracked_id)
        lms = await self.registry.for_team(team_id)
        before = await self.cache.peek(module_key(team_id, tracked), MODULE)
        module = await lms.zoho.update_module(tracked.course_id, tracked.module_id, update, batch_id=tracked.batch_id)
        await self.cache.put(module_key(team_id, tracked), module, MODULE)
        await self._audit.record(
            team_id,
            actor,
            "update_module",
            f"module:{tracked.module_id}",
            _audit_values(before[0]) if before else None,
            {**update.to_module_data(), "course_id": tracked.course_id, "batch_id": tracked.batch_id},
        )
        return ModuleEdited(tracked, module, update)


def _audit_values(module: Module) -> dict[str, object]:
    return {
        "name": module.name,
        "duration": module.duration_minutes,
        "description": module.description,
        "lockType": int(module.lock_type),
        "lockUntil": module.lock_until.strftime("%d-%m-%Y") if module.lock_until else None,
    }
