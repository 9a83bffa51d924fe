"""Typed iSpring Learn records and the learners' module results filter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from bot.lms.dates import format_rfc3339
from bot.lms.types import (
    LmsDateTime,
    LmsId,
    LmsModel,
    LooseBool,
    OptionalFloat,
    OptionalId,
    OptionalInt,
    OptionalStr,
)


class CompletionStatus(StrEnum):
    """The documented completionStatuses values (results keep unknown ones as plain strings)."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"
    COMPLETE = "complete"
    PASSED = "passed"
    ACCEPTED = "accepted"
    INCOMPLETE = "incomplete"
    FAILED = "failed"
    DECLINED = "declined"


DONE_STATUSES = frozenset({CompletionStatus.COMPLETE, CompletionStatus.PASSED, CompletionStatus.ACCEPTED})


class UserStatus(StrEnum):
    ACTIVE = "1"
    BLOCKED = "3"


class ModuleResult(LmsModel):
    """One learner's result in one course module."""

    user_id: LmsId = Field(alias="userId")
    course_id: OptionalId = Field(default=None, alias="courseId")
    module_id: OptionalId = Field(default=None, alias="moduleId")
    module_title: str = Field(default="", alias="moduleTitle")
    course_item_id: OptionalId = Field(default=None, alias="courseItemId")
    enrollment_id: OptionalId = Field(default=None, alias="enrollmentId")
    access_date: LmsDateTime = Field(default=None, alias="accessDate")
    due_date: LmsDateTime = Field(default=None, alias="dueDate")
    expiration_date: LmsDateTime = Field(default=None, alias="expirationDate")
    completion_date: LmsDateTime = Field(default=None, alias="completionDate")
    time_spent: OptionalInt = Field(default=None, alias="timeSpent")
    completion_status: str = Field(default="", alias="completionStatus")
    progress: OptionalFloat = None
    is_overdue: LooseBool = Field(default=False, alias="isOverdue")
    views_count: OptionalInt = Field(default=None, alias="viewsCount")

    @property
    def is_done(self) -> bool:
        return self.completion_status in DONE_STATUSES


class UserProfile(LmsModel):
    """A user from GET /users, reduced to what linking needs (the profile's field list is kept as extra)."""

    user_id: LmsId = Field(alias="userId")
    email: OptionalStr = None
    login: OptionalStr = None
    first_name: OptionalStr = None
    last_name: OptionalStr = None
    department_id: OptionalId = Field(default=None, alias="departmentId")
    status: OptionalStr = None

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or (self.email or self.user_id)


@dataclass(frozen=True, slots=True)
class DateRange:
    """iSpring lets either end be open ("can be limited only by one point")."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResultsFilter:
    """Every documented filter of GET /learners/modules/results."""

    user_ids: tuple[str, ...] = ()
    course_ids: tuple[str, ...] = ()
    module_ids: tuple[str, ...] = ()
    course_item_ids: tuple[str, ...] = ()
    enrollment_ids: tuple[str, ...] = ()
    access_date: DateRange | None = None
    due_date: DateRange | None = None
    completion_date: DateRange | None = None
    completion_statuses: tuple[str, ...] = ()
    department_ids: tuple[str, ...] = ()
    user_statuses: tuple[str, ...] = ()
    page_size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_params(self) -> list[tuple[str, str]]:
        """Query parameters in iSpring's `name[]=value` array form."""
        params: list[tuple[str, str]] = []
        arrays = (
            ("userIds", self.user_ids),
            ("courseIds", self.course_ids),
            ("moduleIds", self.module_ids),
            ("courseItemIds", self.course_item_ids),
            ("enrollmentIds", self.enrollment_ids),
            ("completionStatuses", self.completion_statuses),
            ("departmentIds", self.department_ids),
            ("userStatuses", self.user_statuses),
        )
        for name, values in arrays:
            params.extend((f"{name}[]", str(v)) for v in values)
        for name, span in (
            ("accessDate", self.access_date),
            ("dueDate", self.due_date),
            ("completionDate", self.completion_date),
        ):
            if span is None:
                continue
            if span.start is not None:
                params.append((f"{name}[startDate]", format_rfc3339(span.start)))
            if span.end is not None:
                params.append((f"{name}[endDate]", format_rfc3339(span.end)))
        if self.page_size is not None:
            params.append(("pageSize", str(self.page_size)))
        params.extend((k, str(v)) for k, v in self.extra.items())
        return params


class Department(LmsModel):
    """A department from GET /department: who supervises it (iSpring user ids) and where it sits.

    `subordinationType` is "manual" (supervisorId given), "inherit" (the parent's supervisor) or
    "no_supervisor"; supervisors of `subordination` and of `coSubordination` (functional managers) both count.
    """

    department_id: LmsId = Field(alias="departmentId")
    name: OptionalStr = None
    code: OptionalStr = None
    parent_department_id: OptionalId = Field(default=None, alias="parentDepartmentId")
    subordination_type: OptionalStr = Field(default=None, alias="subordinationType")
    supervisor_ids: tuple[str, ...] = Field(default=(), alias="supervisorIds")
