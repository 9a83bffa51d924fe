"""Zoho's bulk progress answers ("Single Course - All Learner Progress", "Single Learner - Single Course
Progress"), parsed tolerantly into typed records.

Zoho publishes no response body for these endpoints, so nothing here is trusted on its own: the parser accepts
several plausible shapes (field-name variants, nesting under "response"/"result"/"data", lists or objects keyed
by id, ids as numbers or strings) and raises `BulkParseError` when it finds no learner records at all. What a
record leaves out stays None ("unknown"), never guessed: a percentage of 100 is not taken to mean "complete".
Whether an account's answers can be relied on is decided elsewhere (bot/services/bulk_reads.py) by comparing
them with module-progress.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.lms.dates import DateParseError, is_empty, parse_datetime
from bot.lms.errors import ProtocolError


class BulkParseError(ProtocolError):
    """The bulk answer could not be read as learner progress."""

    default_message = "the bulk progress answer could not be read"


class BulkModuleStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    module_id: str
    name: str | None = None
    complete: bool | None = None
    percentage: float | None = None
    pending: tuple[str, ...] | None = None  # pending mandatory entity ids, where the answer lists them


class LearnerBulkProgress(BaseModel):
    """One learner's progress in one course (or batch), as far as the answer says."""

    model_config = ConfigDict(frozen=True)

    learner_id: str
    complete: bool | None = None
    percentage: float | None = None
    modules: dict[str, BulkModuleStatus] = {}
    pending: tuple[str, ...] | None = None  # course-wide pending mandatory entity ids, where present
    last_updated: datetime | None = None

    def module(self, module_id: str) -> BulkModuleStatus | None:
        return self.modules.get(module_id)

    def module_complete(self, module_id: str) -> bool | None:
        """Complete per the answer: the module's own status, else the course's "complete" (which covers every
        module); None when the answer does not say."""
        status = self.modules.get(module_id)
        if status is not None and status.complete is not None:
            return status.complete
        return True if self.complete else None

    @cached_property
    def fingerprint(self) -> str:
        """Stable digest of what the record says, to tell "unchanged since the last read" (worked out once per
        record: a sweep asks it of every learner's record, and the records are kept while unchanged)."""
        text = self.model_dump_json()
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class BulkProgress(BaseModel):
    """Every learner of a course (or batch) in the all-learners answer."""

    model_config = ConfigDict(frozen=True)

    course_id: str
    batch_id: str | None = None
    learners: dict[str, LearnerBulkProgress] = {}
    # Every page was read: only then does "not in the list" mean "not enrolled".
    whole: bool = True

    def learner(self, learner_id: str) -> LearnerBulkProgress | None:
        return self.learners.get(learner_id)


# --- JSON without losing digits ------------------------------------------------------------------------------


def loads_exact(content: bytes | str, endpoint: str | None = None) -> Any:
    """JSON with integers kept exact (Python ints) and fractions as Decimal, so no id ever passes a float."""
    try:
        return json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BulkParseError("the answer was not JSON", endpoint=endpoint, provider="Zoho") from exc


# --- field names seen or plausible ---------------------------------------------------------------------------

WRAPPERS = ("response", "result", "data")
LEARNER_LISTS = (
    "learnersProgress",
    "learnerProgress",
    "learnersCourseProgress",
    "courseProgress",
    "learners",
    "learnerList",
    "users",
    "progress",
)
LEARNER_IDS = ("learnerId", "learner_id", "learnerID", "erecno", "userId", "id")
MODULE_LISTS = ("modules", "moduleProgress", "modulesProgress", "moduleWiseProgress", "moduleList")
MODULE_IDS = ("moduleId", "module_id", "moduleID", "id")
ENTITY_LISTS = ("entities", "entityProgress", "moduleProgress", "entityList")
PENDING_LISTS = ("pendingMandatoryEntities", "pendingEntities", "pendingMandatory", "pending")
ENTITY_IDS = ("entityId", "entity_id", "id")
COMPLETE = ("isCompleted", "completed", "isCourseCompleted", "isModuleCompleted", "is_completed", "isComplete")
STATUS = ("status", "completionStatus", "progressStatus", "courseStatus", "moduleStatus")
PERCENT = ("progressPercentage", "percentage", "completionPercentage", "percent", "coursePercentage", "progress")
UPDATED = ("lastUpdated", "lastUpdatedTime", "lastModifiedTime", "modifiedTime", "updatedTime", "lastAccessedTime")
HAS_MORE = "hasMoreRecords"

_DONE = frozenset({"completed", "complete", "passed", "done", "finished"})
_NOT_DONE = frozenset(
    {
        "in progress",
        "inprogress",
        "in_progress",
        "not started",
        "notstarted",
        "not_started",
        "yet to start",
        "pending",
        "locked",
        "incomplete",
        "ongoing",
        "started",
    }
)


def _first(record: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        if key in record and not is_empty(record[key]):
            return record[key]
    return None


def _id(value: Any) -> str | None:
    if is_empty(value) or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else None
    if isinstance(value, float):
        return None  # digits may already be lost: never invent an id
    text = str(value).strip()
    return text or None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if is_empty(value):
        return None
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n"):
        return False
    return None


def _status(value: Any) -> bool | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in _DONE:
        return True
    if text in _NOT_DONE:
        return False
    return None


def _percent(value: Any) -> float | None:
    if is_empty(value) or isinstance(value, bool | Mapping | list):
        return None
    try:
        number = Decimal(str(value).strip().rstrip("%").strip())
    except InvalidOperation:
        return None
    return float(number) if number.is_finite() else None


def _when(value: Any) -> datetime | None:
    if isinstance(value, Decimal):
        value = int(value)
    try:
        return parse_datetime(value)
    except (DateParseError, ValueError, OverflowError, OSError):
        return None


def _complete(record: Mapping[str, Any]) -> bool | None:
    flag = _bool(_first(record, COMPLETE))
    return flag if flag is not None else _status(_first(record, STATUS))


def _records(value: Any, id_keys: tuple[str, ...]) -> list[tuple[str | None, Mapping[str, Any]]]:
    """A list of records, or an object keyed by id: (key id or None, record)."""
    if isinstance(value, list):
        return [(None, item) for item in value if isinstance(item, Mapping)]
    if isinstance(value, Mapping):
        if any(k in value for k in id_keys):
            return [(None, value)]
        items = [(str(k), v) for k, v in value.items() if isinstance(v, Mapping)]
        if items and all(_id(k) is not None and k.strip().isdigit() for k, _ in items):
            return items  # type: ignore[return-value]
    return []


def _pending(record: Mapping[str, Any]) -> tuple[str, ...] | None:
    raw = _first(record, PENDING_LISTS)
    if isinstance(raw, list):
        ids = [_id(_first(item, ENTITY_IDS)) if isinstance(item, Mapping) else _id(item) for item in raw]
        return tuple(sorted(i for i in ids if i is not None))
    for key in ENTITY_LISTS:
        entities = record.get(key)
        if isinstance(entities, list) and entities and all(isinstance(e, Mapping) for e in entities):
            if not any(k in entities[0] for k in ENTITY_IDS):
                continue
            pending: list[str] = []
            for entity in entities:
                entity_id = _id(_first(entity, ENTITY_IDS))
                mandatory = _bool(entity.get("isMandatory"))
                done = _complete(entity)
                if entity_id is None or done is None:
                    return None  # an entity whose state is not stated: the list is not usable
                if mandatory is not False and not done:
                    pending.append(entity_id)
            return tuple(sorted(pending))
    return None


def _module(key: str | None, record: Mapping[str, Any]) -> BulkModuleStatus | None:
    module_id = _id(_first(record, MODULE_IDS)) or key
    if module_id is None:
        return None
    name = _first(record, ("moduleName", "name", "title"))
    return BulkModuleStatus(
        module_id=module_id,
        name=str(name) if isinstance(name, str) else None,
        complete=_complete(record),
        percentage=_percent(_first(record, PERCENT)),
        pending=_pending(record),
    )


def parse_learner(
    record: Mapping[str, Any], key: str | None = None, learner_id: str | None = None
) -> LearnerBulkProgress:
    """One learner's record; BulkParseError when it has no id or says nothing about progress."""
    found = _id(_first(record, LEARNER_IDS)) or key or learner_id
    if found is None:
        raise BulkParseError("a learner record has no learner id")
    modules: dict[str, BulkModuleStatus] = {}
    raw_modules = _first(record, MODULE_LISTS)
    for module_key, item in _records(raw_modules, MODULE_IDS):
        module = _module(module_key, item)
        if module is not None:
            modules[module.module_id] = module
    learner = LearnerBulkProgress(
        learner_id=found,
        complete=_complete(record),
        percentage=_percent(_first(record, PERCENT)),
        modules=modules,
        pending=None if raw_modules is not None and modules else _pending(record),
        last_updated=_when(_first(record, UPDATED)),
    )
    if learner.complete is None and learner.percentage is None and not modules and learner.pending is None:
        raise BulkParseError("a learner record says nothing about progress")
    return learner


def _unwrap(payload: Any) -> tuple[list[Any], bool | None]:
    """Candidate containers from the outside in, and hasMoreRecords wherever it was given."""
    layers: list[Any] = []
    more: bool | None = None
    current = payload
    for _ in range(6):
        layers.append(current)
        if not isinstance(current, Mapping):
            break
        if HAS_MORE in current and more is None:
            more = _bool(current[HAS_MORE])
        inner = next((current[w] for w in WRAPPERS if isinstance(current.get(w), Mapping | list)), None)
        if inner is None:
            break
        current = inner
    return layers, more


def parse_course_progress(payload: Any) -> tuple[list[LearnerBulkProgress], bool | None]:
    """One page of the all-learners answer: its learner records and hasMoreRecords (None: not said)."""
    layers, more = _unwrap(payload)
    for layer in reversed(layers):  # innermost first
        candidates: list[Any] = [layer]
        if isinstance(layer, Mapping):
            candidates = [layer[k] for k in LEARNER_LISTS if k in layer] + [layer]
        for candidate in candidates:
            if isinstance(candidate, list) and not candidate:
                return [], more  # an explicit empty list: nobody enrolled (or past the last page)
            records = _records(candidate, LEARNER_IDS)
            if records and (candidate is not layer or isinstance(layer, list) or _looks_keyed(layer)):
                return [parse_learner(item, key) for key, item in records], more
    raise BulkParseError("no learner progress records in the answer")


def _looks_keyed(layer: Any) -> bool:
    """An object whose keys are learner ids (not a wrapper that happened to hold one record)."""
    return isinstance(layer, Mapping) and bool(layer) and all(str(k).strip().isdigit() for k in layer)


def parse_learner_course_progress(payload: Any, learner_id: str) -> LearnerBulkProgress:
    """The single-learner answer: the record itself, possibly wrapped or keyed by the learner's id."""
    layers, _ = _unwrap(payload)
    for layer in reversed(layers):
        if isinstance(layer, Mapping):
            if learner_id in {str(k) for k in layer}:
                inner = next(v for k, v in layer.items() if str(k) == learner_id)
                if isinstance(inner, Mapping):
                    return parse_learner(inner, learner_id=learner_id)
            if any(k in layer for k in (*COMPLETE, *PERCENT, *MODULE_LISTS, *STATUS)):
                return parse_learner(layer, learner_id=learner_id)
        if isinstance(layer, list) and len(layer) == 1 and isinstance(layer[0], Mapping):
            return parse_learner(layer[0], learner_id=learner_id)
    raise BulkParseError("no learner progress in the answer")
