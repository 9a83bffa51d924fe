"""Tracked modules: the (course, batch, module)s a workspace follows, with friendly aliases."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from bot.errors import Problem, UserError
from bot.lms.errors import LMSError, NotFoundError, RateLimitedError, ServerError, UnreachableError
from bot.lms.zoho_models import Batch, Course, Module
from bot.services.registry import LmsRegistry
from bot.services.types import INTERACTIVE_MAX_WAIT, Provider, TrackedModuleRef
from storage.errors import AliasConflict, AmbiguousReference
from storage.repositories.audit import AuditRepository
from storage.repositories.modules import TrackedModule, TrackedModuleRepository


@dataclass(frozen=True, slots=True)
class PickerLists:
    """What the track modal can offer for the choices made so far (empty lists: type the ids instead)."""

    courses: list[Course]
    batches: list[Batch]
    modules: list[Module]


log = logging.getLogger(__name__)


class TrackError(UserError):
    """A tracking request that cannot be carried out: its Problem says why, `field` which input it concerns."""

    def __init__(self, problem: Problem | str, field: str = "module_id", **details: str) -> None:
        super().__init__(problem, **details)
        self.field = field  # "course_id", "batch_id", "module_id" or "alias"


@dataclass(frozen=True, slots=True)
class Unchecked:
    """The LMS could not be asked whether the module exists (rate-limited, down): what it said."""

    provider: Provider
    lms_message: str


@dataclass(frozen=True, slots=True)
class TrackResult:
    tracked: TrackedModuleRef
    changed: bool
    module_name: str | None = None
    unchecked: Unchecked | None = None  # the LMS could not check the ids just now: tracked anyway


def to_ref(row: TrackedModule) -> TrackedModuleRef:
    return TrackedModuleRef(
        id=row.id,
        provider=Provider(row.provider),
        course_id=row.course_id,
        batch_id=row.batch_id,
        module_id=row.module_id,
        alias=row.alias,
    )


class TrackingService:
    def __init__(self, modules: TrackedModuleRepository, audit: AuditRepository, registry: LmsRegistry) -> None:
        self._modules = modules
        self._audit = audit
        self.registry = registry

    async def track(
        self,
        team_id: str,
        actor: str,
        *,
        course_id: str,
        module_id: str,
        batch_id: str | None = None,
        alias: str | None = None,
        provider: Provider = Provider.ZOHO,
        verify: bool = True,
    ) -> TrackResult:
        """Follow a module. With `verify`, Zoho is asked first so a typo is caught before it is saved."""
        name: str | None = None
        unchecked: Unchecked | None = None
        if verify and provider is Provider.ZOHO:
            lms = await self.registry.for_team(team_id)
            try:
                module = await lms.zoho.module(course_id, module_id, batch_id=batch_id, max_wait=INTERACTIVE_MAX_WAIT)
                name = module.name
            except NotFoundError as exc:
                raise TrackError(
                    Problem.ZOHO_NO_MODULE, module_id=module_id, course_id=course_id, batch_id=batch_id or ""
                ) from exc
            except (RateLimitedError, UnreachableError, ServerError) as exc:
                unchecked = Unchecked(Provider.ZOHO, exc.message)
        elif verify and provider is Provider.ISPRING:
            name, unchecked = await self._check_ispring(team_id, course_id, module_id)
        try:
            row, changed = await self._modules.track(
                team_id, provider, course_id, batch_id, module_id, alias=alias, created_by=actor
            )
        except AliasConflict as exc:
            raise TrackError(Problem.ALIAS_TAKEN, "alias", alias=exc.alias) from exc
        except ValueError as exc:
            field = "alias" if "alias" in str(exc).lower() else "module_id"
            raise TrackError(str(exc), field) from exc
        if changed:
            await self._audit.record(
                team_id,
                actor,
                "track",
                f"module:{module_id}",
                None,
                {"course_id": course_id, "batch_id": batch_id, "alias": row.alias},
            )
        return TrackResult(to_ref(row), changed, name, unchecked)

    async def _check_ispring(self, team_id: str, course_id: str, module_id: str) -> tuple[str | None, Unchecked | None]:
        """(module title, what kept it unchecked): iSpring is asked for the course's modules, so a typo is caught
        before saving."""
        lms = await self.registry.for_team(team_id)
        if not lms.has_ispring:
            raise TrackError(Problem.ISPRING_NOT_CONNECTED_TRACK, "course_id")
        try:
            listed = await lms.ispring.course_modules(course_id, max_wait=INTERACTIVE_MAX_WAIT)
        except NotFoundError as exc:
            raise TrackError(Problem.ISPRING_NO_COURSE, "course_id", course_id=course_id) from exc
        except (RateLimitedError, UnreachableError, ServerError) as exc:
            return None, Unchecked(Provider.ISPRING, exc.message)
        modules = {m.module_id: m.title for m in listed}
        if module_id not in modules:
            raise TrackError(Problem.ISPRING_NO_MODULE, course_id=course_id, module_id=module_id)
        return modules[module_id] or None, None

    async def picker_lists(
        self,
        team_id: str,
        course_id: str | None = None,
        batch_id: str | None = None,
        *,
        provider: Provider = Provider.ZOHO,
    ) -> PickerLists:
        """Courses, then a blended course's batches, then the modules, as the admin picks (Zoho only).

        When Zoho cannot list them (rate-limited, down, or the list endpoints refused), the lists are empty
        and the modal falls back to typed ids, so tracking never depends on the picker.
        """
        lms = await self.registry.for_team(team_id)
        if provider is not Provider.ZOHO or not lms.has_zoho:  # iSpring: its ids are typed (and checked on submit)
            return PickerLists([], [], [])
        try:
            wait = INTERACTIVE_MAX_WAIT
            courses = await lms.zoho.my_courses(max_wait=wait)
            course = next((c for c in courses if c.course_id == course_id), None)
            blended = course_id and course and course.is_blended
            batches = await lms.zoho.course_batches(course_id, max_wait=wait) if course_id and blended else []
            modules: list[Module] = []
            if course_id and (batch_id or not batches):
                modules = await lms.zoho.course_modules(course_id, batch_id=batch_id, max_wait=wait)
        except LMSError as exc:
            log.info("picker lists unavailable, falling back to typed ids: %s", exc)
            return PickerLists([], [], [])
        return PickerLists(courses, batches, modules)

    async def untrack(self, team_id: str, actor: str, ref: str) -> TrackedModuleRef | None:
        row = await self._guard(self._modules.untrack(team_id, ref))
        if row is not None:
            await self._audit.record(
                team_id,
                actor,
                "untrack",
                f"module:{row.module_id}",
                {"alias": row.alias, "course_id": row.course_id},
                None,
            )
        return to_ref(row) if row else None

    async def find(self, team_id: str, ref: str) -> TrackedModuleRef | None:
        row = await self._guard(self._modules.find(team_id, ref))
        return to_ref(row) if row else None

    async def get(self, team_id: str, tracked_id: int) -> TrackedModuleRef | None:
        row = await self._modules.get(team_id, tracked_id)
        return to_ref(row) if row else None

    async def list(self, team_id: str, provider: Provider | None = None) -> list[TrackedModuleRef]:
        refs = [to_ref(row) for row in await self._modules.list(team_id)]
        return [r for r in refs if provider is None or r.provider is provider]

    @staticmethod
    async def _guard(pending: Awaitable[TrackedModule | None]) -> TrackedModule | None:
        try:
            return await pending
        except AmbiguousReference as exc:
            ids = ",".join(str(i) for i in exc.candidates)
            raise TrackError(Problem.MODULE_TRACKED_TWICE, candidates=ids) from exc
