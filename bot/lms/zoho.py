"""Zoho People LMS client: the four documented APIs plus the list calls a picker needs.

URLs follow Zoho's notation `/courses/<courseId>/(batches/<batchId>/)modules/...`: the batch segment is
present only for blended-learning courses, so every call takes an optional `batch_id`.

Size (~400 lines): one method per documented endpoint (four APIs and the picker's lists), over one shared URL
builder and pager; the response models are in zoho_models.py, the bulk reads in zoho_bulk.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from bot.lms.content import read_json, validated
from bot.lms.dates import DateOrder
from bot.lms.errors import InvalidResponseError, ValidationError
from bot.lms.module_update import ModuleUpdate, module_data_json
from bot.lms.options import ModuleDataTransport
from bot.lms.ratelimit import Priority
from bot.lms.transport import Listing, LmsTransport
from bot.lms.zoho_bulk import (
    BulkParseError,
    BulkProgress,
    LearnerBulkProgress,
    loads_exact,
    parse_course_progress,
    parse_learner_course_progress,
)
from bot.lms.zoho_models import Batch, Course, LearningPlanProgress, Module, ModuleProgress, Session

M = TypeVar("M", bound=pydantic.BaseModel)
PAGE_SIZE = 25  # "Upto 25 records can be fetched in single API call"
MAX_PAGES = 400  # 10,000 records: more means an LMS that keeps saying hasMoreRecords (an error, not a loop)


class Endpoint:
    """Names of Zoho APIs: each has its own 30-a-minute threshold, so they key the rate limiter."""

    MODULE_PROGRESS = "module-progress"
    LEARNING_PLANS = "learning-plans-progress"
    MODULE_SESSIONS = "module-sessions"
    UPDATE_MODULE = "update-module"
    MY_COURSES = "my-courses"
    COURSE_MODULES = "course-modules"
    SINGLE_MODULE = "single-module"
    COURSE_BATCHES = "course-batches"
    COURSE_PROGRESS = "course-progress"  # Single Course - All Learner Progress
    LEARNER_COURSE_PROGRESS = "learner-course-progress"  # Single Learner - Single Course Progress


def _seg(value: str, what: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValidationError(f"{what} is required")
    return quote(text, safe="")


def _course_path(course_id: str, batch_id: str | None) -> str:
    path = f"/api/v1/courses/{_seg(course_id, 'course id')}"
    if batch_id:
        path += f"/batches/{_seg(batch_id, 'batch id')}"
    return path


class ZohoClient:
    def __init__(
        self,
        transport: LmsTransport,
        *,
        date_order: DateOrder = DateOrder.DMY,
        module_data_transport: ModuleDataTransport = ModuleDataTransport.QUERY,
    ) -> None:
        self.transport = transport
        self.date_order = date_order
        self.module_data_transport = module_data_transport

    @property
    def _context(self) -> dict[str, Any]:
        return {"date_order": self.date_order}

    async def _get_json(
        self,
        path: str,
        endpoint: str,
        params: dict[str, Any] | None = None,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> dict[str, Any]:
        response = await self.transport.request(
            "GET", path, endpoint=endpoint, params=params, priority=priority, max_wait=max_wait
        )
        return _json_object(response, endpoint)

    async def module_progress(
        self,
        course_id: str,
        module_id: str,
        learner_id: str,
        *,
        batch_id: str | None = None,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> ModuleProgress:
        """A learner's entity-by-entity progress in one module (self-paced, or blended with `batch_id`)."""
        path = (
            f"{_course_path(course_id, batch_id)}/modules/{_seg(module_id, 'module id')}"
            f"/learners/{_seg(learner_id, 'learner id')}/progress"
        )
        listing = Listing(self.transport, Endpoint.MODULE_PROGRESS, priority)
        first = self._model(
            ModuleProgress,
            await listing.page(self._get_json, path, Endpoint.MODULE_PROGRESS, None, priority, max_wait=max_wait),
            Endpoint.MODULE_PROGRESS,
        )
        # The API carries hasMoreRecords; follow it with startIndex like the other Zoho lists.
        entities, page = list(first.entities), first
        for _ in range(MAX_PAGES):
            if not (page.has_more_records and page.entities):
                break
            params = {"startIndex": len(entities)}
            raw = await listing.page(
                self._get_json, path, Endpoint.MODULE_PROGRESS, params, priority, max_wait=max_wait
            )
            previous, page = page, self._model(ModuleProgress, raw, Endpoint.MODULE_PROGRESS)
            if page.entities == previous.entities:
                raise InvalidResponseError(
                    f"it sent the same page again for startIndex {len(entities)}",
                    endpoint=Endpoint.MODULE_PROGRESS,
                    provider="Zoho",
                )
            entities.extend(page.entities)
        else:
            if page.has_more_records and page.entities:
                raise _endless(Endpoint.MODULE_PROGRESS)
        return first.model_copy(update={"entities": entities, "has_more_records": False})

    async def learning_plans(
        self, learner_id: str, *, priority: Priority = Priority.INTERACTIVE, max_wait: float | None = None
    ) -> list[LearningPlanProgress]:
        """Every learning plan the learner is enrolled in, all pages."""
        path = f"/api/v1/learners/{_seg(learner_id, 'learner id')}/learning-plans/progress"
        return [
            self._model(LearningPlanProgress, item, Endpoint.LEARNING_PLANS)
            async for item in self._pages(path, Endpoint.LEARNING_PLANS, ("learningPlans",), priority, max_wait)
        ]

    async def module_sessions(
        self,
        course_id: str,
        batch_id: str,
        module_id: str,
        *,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> list[Session]:
        """Sessions of a module in a blended-learning batch, following hasMoreRecords to the end."""
        if not batch_id:
            raise ValidationError("sessions exist only in blended-learning batches: a batch id is required")
        path = f"{_course_path(course_id, batch_id)}/modules/{_seg(module_id, 'module id')}/sessions"
        return [
            self._model(Session, item, Endpoint.MODULE_SESSIONS)
            async for item in self._pages(path, Endpoint.MODULE_SESSIONS, ("sessions",), priority, max_wait)
        ]

    async def update_module(
        self,
        course_id: str,
        module_id: str,
        update: ModuleUpdate,
        *,
        batch_id: str | None = None,
    ) -> Module:
        """PATCH a module ("Update Modules") and return it as the LMS now describes it."""
        path = f"{_course_path(course_id, batch_id)}/modules/{_seg(module_id, 'module id')}"
        module_data = update.to_module_data()
        encoded = module_data_json(module_data)
        kwargs: dict[str, Any] = {}
        if self.module_data_transport is ModuleDataTransport.QUERY:
            kwargs["params"] = {"moduleData": encoded}
        elif self.module_data_transport is ModuleDataTransport.FORM:
            kwargs["data"] = {"moduleData": encoded}
        else:
            kwargs["json_body"] = module_data
        response = await self.transport.request("PATCH", path, endpoint=Endpoint.UPDATE_MODULE, **kwargs)
        payload = _json_object(response, Endpoint.UPDATE_MODULE)
        raw = payload.get("module")
        if not isinstance(raw, dict):
            raise InvalidResponseError(
                "the update answer has no module", endpoint=Endpoint.UPDATE_MODULE, provider="Zoho"
            )
        return self._model(Module, raw, Endpoint.UPDATE_MODULE)

    async def my_courses(
        self, *, search: str | None = None, priority: Priority = Priority.INTERACTIVE, max_wait: float | None = None
    ) -> list[Course]:
        params = {"search": search} if search else None
        return [
            self._model(Course, item, Endpoint.MY_COURSES)
            async for item in self._pages(
                "/api/v1/courses/mycourses",
                Endpoint.MY_COURSES,
                ("courses", "myCourses"),
                priority,
                max_wait,
                extra=params,
            )
        ]

    async def course_modules(
        self,
        course_id: str,
        *,
        batch_id: str | None = None,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> list[Module]:
        path = f"{_course_path(course_id, batch_id)}/modules"
        return [
            self._model(Module, item, Endpoint.COURSE_MODULES)
            async for item in self._pages(path, Endpoint.COURSE_MODULES, ("modules",), priority, max_wait)
        ]

    async def module(
        self,
        course_id: str,
        module_id: str,
        *,
        batch_id: str | None = None,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> Module:
        path = f"{_course_path(course_id, batch_id)}/modules/{_seg(module_id, 'module id')}"
        payload = await self._get_json(path, Endpoint.SINGLE_MODULE, None, priority, max_wait)
        raw = payload.get("module", payload.get("modules", payload))
        if isinstance(raw, list) and raw:
            raw = raw[0]
        if not isinstance(raw, dict):
            raise InvalidResponseError(
                "the module answer has no module", endpoint=Endpoint.SINGLE_MODULE, provider="Zoho"
            )
        return self._model(Module, raw, Endpoint.SINGLE_MODULE)

    async def course_batches(
        self, course_id: str, *, priority: Priority = Priority.INTERACTIVE, max_wait: float | None = None
    ) -> list[Batch]:
        path = f"{_course_path(course_id, None)}/batches"
        return [
            self._model(Batch, item, Endpoint.COURSE_BATCHES)
            async for item in self._pages(path, Endpoint.COURSE_BATCHES, ("batches", "batchList"), priority, max_wait)
        ]

    async def course_progress(
        self,
        course_id: str,
        *,
        batch_id: str | None = None,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> BulkProgress:
        """Every enrolled learner's progress in a course (or batch), all pages ("Single Course - All Learner
        Progress"). The body is undocumented: parsed tolerantly, BulkParseError when it cannot be read."""
        path = f"{_course_path(course_id, batch_id)}/course-progress"
        learners: dict[str, LearnerBulkProgress] = {}
        whole = False
        start = 0
        listing = Listing(self.transport, Endpoint.COURSE_PROGRESS, priority)
        for _ in range(MAX_PAGES):
            payload = await listing.page(
                self._get_exact, path, Endpoint.COURSE_PROGRESS, {"startIndex": start}, priority, max_wait=max_wait
            )
            try:
                records, more = parse_course_progress(payload)
            except BulkParseError as exc:
                exc.endpoint, exc.provider = Endpoint.COURSE_PROGRESS, "Zoho"
                raise
            fresh = [r for r in records if r.learner_id not in learners]
            if records and not fresh:
                break  # the same page again (startIndex ignored?): what was read may not be everyone
            learners.update((r.learner_id, r) for r in fresh)
            if not records or more is False or (more is None and len(records) < PAGE_SIZE):
                whole = True
                break
            start += len(records)
        return BulkProgress(course_id=str(course_id), batch_id=batch_id, learners=learners, whole=whole)

    async def learner_course_progress(
        self,
        course_id: str,
        learner_id: str,
        *,
        batch_id: str | None = None,
        mandatory_only: bool = True,
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
    ) -> LearnerBulkProgress:
        """One learner's progress in a course (or batch); `mandatory_only` sends the documented progressType=1.
        NotFoundError when the learner is not enrolled; BulkParseError when the answer cannot be read."""
        path = f"{_course_path(course_id, batch_id)}/learners/{_seg(learner_id, 'learner id')}/course-progress"
        params = {"progressType": 1 if mandatory_only else 0}
        payload = await self._get_exact(path, Endpoint.LEARNER_COURSE_PROGRESS, params, priority, max_wait)
        try:
            return parse_learner_course_progress(payload, str(learner_id))
        except BulkParseError as exc:
            exc.endpoint, exc.provider = Endpoint.LEARNER_COURSE_PROGRESS, "Zoho"
            raise

    async def _get_exact(
        self,
        path: str,
        endpoint: str,
        params: dict[str, Any] | None,
        priority: Priority,
        max_wait: float | None,
    ) -> Any:
        response = await self.transport.request(
            "GET", path, endpoint=endpoint, params=params, priority=priority, max_wait=max_wait
        )
        return loads_exact(response.content, endpoint)

    async def _pages(
        self,
        path: str,
        endpoint: str,
        keys: tuple[str, ...],
        priority: Priority = Priority.INTERACTIVE,
        max_wait: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield records page by page via startIndex.

        Stop when the LMS says hasMoreRecords false, or (where it does not say) when a page is short or empty.
        """
        start = 0
        previous: list[Any] | None = None
        listing = Listing(self.transport, endpoint, priority)  # someone waiting: every page within the deadline
        for _ in range(MAX_PAGES):
            params = {**(extra or {}), "startIndex": start}
            payload = await listing.page(self._get_json, path, endpoint, params, priority, max_wait=max_wait)
            items = _find_list(payload, keys)
            if items and items == previous:  # the same page again: it would go on to the page cap
                raise InvalidResponseError(
                    f"it sent the same page again for startIndex {start}", endpoint=endpoint, provider="Zoho"
                )
            previous = items
            for item in items:
                if isinstance(item, dict):
                    yield item
            more = payload.get("hasMoreRecords")
            if not items:
                return
            if more is not None and str(more).lower() not in ("true", "1"):
                return
            if more is None and len(items) < PAGE_SIZE:
                return
            start += len(items)
        raise _endless(endpoint)

    def _model(self, cls: type[M], raw: Any, endpoint: str) -> M:
        return validated(cls, raw, provider="Zoho", endpoint=endpoint, context=self._context)


def _endless(endpoint: str) -> InvalidResponseError:
    return InvalidResponseError(
        f"it kept saying more records follow after more than {MAX_PAGES} pages; stopped there",
        endpoint=endpoint,
        provider="Zoho",
    )


def _json_object(response: httpx.Response, endpoint: str) -> dict[str, Any]:
    payload = read_json(
        response.content, provider="Zoho", endpoint=endpoint, content_type=response.headers.get("content-type", "")
    )
    if not isinstance(payload, dict):
        raise InvalidResponseError("it is not a JSON object", endpoint=endpoint, provider="Zoho")
    return payload


def _find_list(payload: dict[str, Any], keys: tuple[str, ...]) -> list[Any]:
    """The record list, wherever this API put it (top level, or under `response.result`/`data`)."""
    for key in keys:
        value = payload.get(key)
        if isinstance(value, list):
            return value
    for wrapper in ("response", "data", "result"):
        inner = payload.get(wrapper)
        if isinstance(inner, dict):
            found = _find_list(inner, (*keys, "result", "data"))
            if found:
                return found
        if isinstance(inner, list):
            return inner
    return []
