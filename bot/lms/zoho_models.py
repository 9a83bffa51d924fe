"""Typed Zoho People LMS records, parsed once from the API's JSON.

Field names follow the documented samples; Python names are snake_case. Values the LMS writes loosely
("null", "", numbers as strings, IDs as big JSON numbers) are normalised here and nowhere else.
"""

from __future__ import annotations

from datetime import datetime, time
from enum import IntEnum, StrEnum
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SerializeAsAny, ValidationInfo, field_validator

from bot.lms.types import (
    DurationMinutes,
    LmsDate,
    LmsDateTime,
    LmsId,
    LmsModel,
    LmsTime,
    LooseBool,
    OptionalFloat,
    OptionalId,
    OptionalInt,
    OptionalStr,
)


class EntityType(StrEnum):
    ONLINE_TEST = "onlineTest"
    OFFLINE_TEST = "offlineTest"
    ASSIGNMENT = "assignment"
    SESSION = "session"
    EMBED_LINK = "embedLink"


class LockType(IntEnum):
    UNLOCKED = 0
    UNTIL_DATE = 1
    UNTIL_PREVIOUS_COMPLETED = 2


class CourseType(IntEnum):
    SELF_PACED = 1
    BLENDED = 2
    E_MATERIAL = 3


_DONE_WORDS = frozenset({"completed", "complete", "passed", "pass", "submitted", "attended", "present", "done"})


def _status_done(status: str | None) -> bool:
    return status is not None and status.strip().lower() in _DONE_WORDS


# --- module-wise entity progress -------------------------------------------------------------------


class Entity(LmsModel):
    """One item of a module (test, assignment, link, session…). Subclasses add the type's own fields."""

    entity_id: LmsId = Field(alias="entityId")
    name: str = Field(default="", alias="entityName")
    type: str
    is_mandatory: LooseBool = Field(default=False, alias="isMandatory")

    label: ClassVar[str] = "Item"

    @property
    def is_complete(self) -> bool:
        """Whether the learner is done with it; unknown types count as done so we never nag wrongly."""
        return True


class OnlineTest(Entity):
    type: Literal["onlineTest"] = "onlineTest"
    label: ClassVar[str] = "Online test"
    duration_minutes: DurationMinutes = Field(default=None, alias="duration")
    user_mark: OptionalFloat = Field(default=None, alias="userMark")
    test_mark: OptionalFloat = Field(default=None, alias="testMark")
    attempts_taken: int = Field(default=0, alias="numberOfAttemptsTaken")
    max_attempts: OptionalInt = Field(default=None, alias="maximumAttemptsAllowed")
    attempts: list[Any] = Field(default_factory=list)
    status: OptionalStr = None

    @property
    def attempts_left(self) -> int | None:
        if self.max_attempts is None or self.max_attempts <= 0:
            return None  # unlimited or not stated
        return max(0, self.max_attempts - self.attempts_taken)

    @property
    def is_complete(self) -> bool:
        # The samples show no pass/fail flag: an explicit status wins. Otherwise a scored attempt counts, except
        # a score below the test's mark while attempts are left ("not passed, attempts left" is still to do).
        if self.status is not None:
            return _status_done(self.status)
        if self.attempts_taken == 0 or self.user_mark is None:
            return False
        below = self.test_mark is not None and self.user_mark < self.test_mark
        return not (below and (self.attempts_left or 0) > 0)


class OfflineTest(Entity):
    type: Literal["offlineTest"] = "offlineTest"
    label: ClassVar[str] = "Offline test"
    duration_minutes: DurationMinutes = Field(default=None, alias="duration")
    user_mark: OptionalFloat = Field(default=None, alias="userMark")
    test_mark: OptionalFloat = Field(default=None, alias="testMark")
    status: OptionalStr = None

    @property
    def is_complete(self) -> bool:
        return _status_done(self.status) or (self.status is None and self.user_mark is not None)


class Assignment(Entity):
    type: Literal["assignment"] = "assignment"
    label: ClassVar[str] = "Assignment"
    assign_mark: OptionalFloat = Field(default=None, alias="assignMark")
    user_mark: OptionalFloat = Field(default=None, alias="userMark")
    submission_type: OptionalStr = Field(default=None, alias="submissionType")
    submission_status: OptionalStr = Field(default=None, alias="submissionStatus")
    submitted_on: OptionalStr = Field(default=None, alias="submittedOn")

    @property
    def is_complete(self) -> bool:
        if self.submission_status is not None:
            return _status_done(self.submission_status) or self.submission_status.lower() in (
                "evaluated",
                "accepted",
                "graded",
            )
        return self.submitted_on is not None


class SessionEntity(Entity):
    type: Literal["session"] = "session"
    label: ClassVar[str] = "Session"
    duration_minutes: DurationMinutes = Field(default=None, alias="duration")
    start_date: LmsDate = Field(default=None, alias="sessionStartDate")
    start_time: LmsTime = Field(default=None, alias="sessionStartTime")
    end_time: LmsTime = Field(default=None, alias="sessionEndTime")
    attendance: OptionalStr = Field(default=None, alias="sessionAttendance")

    @property
    def starts_at(self) -> datetime | None:
        """Naive local start (the LMS sends no zone); callers attach the account's time zone."""
        if self.start_date is None:
            return None
        return datetime.combine(self.start_date, self.start_time or time(0, 0))

    @property
    def is_complete(self) -> bool:
        return _status_done(self.attendance)


class EmbedLink(Entity):
    type: Literal["embedLink"] = "embedLink"
    label: ClassVar[str] = "Link"
    status: OptionalStr = None

    @property
    def is_complete(self) -> bool:
        return _status_done(self.status)


class UnknownEntity(Entity):
    """A type the samples do not show: kept whole (extra fields are retained), never dropped."""

    label: ClassVar[str] = "Item"


ENTITY_TYPES: dict[str, type[Entity]] = {
    EntityType.ONLINE_TEST: OnlineTest,
    EntityType.OFFLINE_TEST: OfflineTest,
    EntityType.ASSIGNMENT: Assignment,
    EntityType.SESSION: SessionEntity,
    EntityType.EMBED_LINK: EmbedLink,
}


def parse_entity(raw: Any, context: dict[str, Any] | None = None) -> Entity:
    if isinstance(raw, Entity):
        return raw
    if not isinstance(raw, dict):
        raise ValueError(f"an entity must be an object, got {type(raw).__name__}")
    model = ENTITY_TYPES.get(str(raw.get("type", "")), UnknownEntity)
    data = raw if "type" in raw else {**raw, "type": "unknown"}
    return model.model_validate(data, context=context)


class ModuleProgress(LmsModel):
    """A learner's progress in one module, entity by entity."""

    module_id: LmsId = Field(alias="moduleId")
    module_name: str = Field(default="", alias="moduleName")
    is_locked: LooseBool = Field(default=False, alias="isLocked")
    # SerializeAsAny: dumping (e.g. into the cache) keeps each entity's own fields, not just the base ones.
    entities: list[SerializeAsAny[Entity]] = Field(default_factory=list, alias="moduleProgress")
    has_more_records: LooseBool = Field(default=False, alias="hasMoreRecords")
    message: OptionalStr = None

    @field_validator("entities", mode="before")
    @classmethod
    def _entities(cls, value: Any, info: ValidationInfo) -> list[Entity]:
        if value is None or value == "":
            return []
        context = info.context if isinstance(info.context, dict) else None
        return [parse_entity(item, context) for item in value]

    @property
    def pending_mandatory(self) -> list[Entity]:
        return [e for e in self.entities if e.is_mandatory and not e.is_complete]


# --- learning plans -----------------------------------------------------------------------------------


class PlanUserInfo(LmsModel):
    planuser_id: OptionalId = Field(default=None, alias="planuserId")
    user_id: OptionalId = Field(default=None, alias="userId")
    joined: LooseBool = Field(default=False, alias="isUserJoinedPlan")
    completed: LooseBool = Field(default=False, alias="isUserCompletedPlan")
    user_type: OptionalStr = Field(default=None, alias="userType")
    is_plan_admin: LooseBool = Field(default=False, alias="isPlanAdmin")
    enrolled_time: LmsDateTime = Field(default=None, alias="enrolledTime")


class PlanInfo(LmsModel):
    plan_id: OptionalId = Field(default=None, alias="planId")
    name: str = Field(default="", alias="planName")
    duration: OptionalInt = None
    duration_type: OptionalStr = Field(default=None, alias="durationType")
    publish_state: OptionalStr = Field(default=None, alias="publishState")
    active_course_count: OptionalInt = Field(default=None, alias="activeCourseCount")
    mandatory_course_count: OptionalInt = Field(default=None, alias="mandatoryCourseCount")
    created_time: LmsDateTime = Field(default=None, alias="createdTime")
    disabled: LooseBool = False
    is_plan_owner: LooseBool = Field(default=False, alias="isPlanOwner")
    image: dict[str, Any] | None = Field(default=None, alias="planImageInfo")


class LearningPlanProgress(LmsModel):
    plan_id: LmsId = Field(alias="planId")
    info: PlanInfo = Field(default_factory=PlanInfo, alias="planInfo")
    user: PlanUserInfo = Field(default_factory=PlanUserInfo, alias="userInfo")

    @property
    def name(self) -> str:
        return self.info.name


# --- sessions --------------------------------------------------------------------------------------------


class Session(LmsModel):
    """A session of a module in a blended-learning batch."""

    session_id: LmsId = Field(alias="sessionId")
    name: str = Field(default="", alias="sessionName")
    description: OptionalStr = None
    start_date: LmsDate = Field(default=None, alias="sessionStartDate")
    start_time: LmsTime = Field(default=None, alias="sessionStartTime")
    end_time: LmsTime = Field(default=None, alias="sessionEndTime")
    session_type: OptionalStr = Field(default=None, alias="sessionType")
    room: OptionalStr = Field(default=None, alias="sessionRoom")
    room_id: OptionalId = Field(default=None, alias="roomId")
    trainer: OptionalStr = Field(default=None, alias="sessionTrainer")
    trainer_erecno: OptionalId = Field(default=None, alias="trainerErecno")
    module_id: OptionalId = Field(default=None, alias="moduleId")
    is_locked: LooseBool = Field(default=False, alias="isLocked")
    lock_until: LmsDate = Field(default=None, alias="lockUntil")
    is_completed: LooseBool = Field(default=False, alias="isSessionCompleted")
    total_learners: OptionalInt = Field(default=None, alias="totalLearnersCount")
    # "presentLeanersCount" (sic) is how the API spells it.
    present_learners: OptionalInt = Field(
        default=None, validation_alias=AliasChoices("presentLeanersCount", "presentLearnersCount")
    )
    resources: list[Any] = Field(default_factory=list)

    @property
    def starts_at(self) -> datetime | None:
        if self.start_date is None:
            return None
        return datetime.combine(self.start_date, self.start_time or time(0, 0))


# --- courses, batches, modules (picker lists; shapes tolerant since the docs show no sample) ----------------


class Course(LmsModel):
    course_id: LmsId = Field(validation_alias=AliasChoices("courseId", "id", "course_id"))
    name: str = Field(default="", validation_alias=AliasChoices("courseName", "name", "title"))
    course_type: OptionalInt = Field(default=None, validation_alias=AliasChoices("type", "courseType"))

    @property
    def is_blended(self) -> bool:
        return self.course_type == CourseType.BLENDED


class Batch(LmsModel):
    batch_id: LmsId = Field(validation_alias=AliasChoices("batchId", "id", "batch_id"))
    name: str = Field(default="", validation_alias=AliasChoices("batchName", "name", "title"))
    start_date: LmsDate = Field(default=None, validation_alias=AliasChoices("startDate", "batchStartDate"))
    end_date: LmsDate = Field(default=None, validation_alias=AliasChoices("endDate", "batchEndDate"))


class Module(LmsModel):
    """A module as the single-module, module-list and Update Modules responses describe it."""

    module_id: LmsId = Field(validation_alias=AliasChoices("moduleId", "id", "module_id"))
    name: str = Field(default="", validation_alias=AliasChoices("moduleName", "name", "title"))
    description: OptionalStr = None
    duration_minutes: DurationMinutes = Field(default=None, validation_alias=AliasChoices("duration"))
    lock_type: LockType = Field(default=LockType.UNLOCKED, validation_alias=AliasChoices("lockType"))
    lock_until: LmsDate = Field(default=None, validation_alias=AliasChoices("lockUntil"))
    is_locked: LooseBool = Field(default=False, validation_alias=AliasChoices("isLocked"))

    @field_validator("lock_type", mode="before")
    @classmethod
    def _lock_type(cls, value: Any) -> Any:
        if value is None or value == "":
            return LockType.UNLOCKED
        return int(str(value).strip())
