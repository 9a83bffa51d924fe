"""Zoho People LMS endpoints, shaped field for field like the vendor doc samples (docs/references.md).

Documented shapes: module progress, learning-plan progress, module sessions, update module.

Sandbox assumptions (the docs show no sample body for these; clients should be tolerant):
- my-courses   GET /api/v1/courses/mycourses?startIndex&type&search
    {"code": 200, "message": "success", "hasMoreRecords": bool,
     "courses": [{"courseId": "<id>", "courseName": str, "type": "1"|"2", "description": str,
                  "state": "published"}]}
- course-modules GET /api/v1/courses/{c}(/batches/{b})/modules?startIndex
    {"code": 200, "message": "success", "hasMoreRecords": bool, "modules": [<module>...]}
- single-module GET /api/v1/courses/{c}(/batches/{b})/modules/{m}
    {"code": 200, "message": "success", "module": <module>}
  where <module> is the update-module response's module object:
    {"duration": "30 Mins", "lockUntil": "DD-MM-YYYY"|"", "isLocked": bool, "moduleName": str,
     "description": str, "lockType": "0"|"1"|"2", "moduleId": "<id>"}
- course-batches GET /api/v1/courses/{c}/batches?startIndex  (code is the STRING "200", as the docs note)
    {"code": "200", "message": "success", "hasMoreRecords": bool,
     "batches": [{"batchId": "<id>", "batchName": str, "startDate": "22-Dec-2021", "endDate": "..."}]}
- onlineTest "attempts" items: {"attemptNumber": int, "userMark": number, "attemptedOn": "DD-MM-YYYY"}.
- offlineTest status "Pending"|"Completed"; assignment submissionStatus ""|"Submitted"|"Evaluated",
  submittedOn ""|"22-Dec-2021"; an onlineTest counts as completed once attempted.
- update-module: fields left out keep their value, except lockType (documented default 0); lockUntil is
  cleared unless lockType is 1.
- course-progress GET /api/v1/courses/{c}(/batches/{b})/course-progress?startIndex  ("Single Course - All
  Learner Progress"; no body is published). Default shape, 25 learners a page:
    {"code": 200, "message": "success", "hasMoreRecords": bool,
     "learnersProgress": [{"learnerId": "<id>", "learnerName": str, "emailId": str, "progressPercentage": int,
        "isCompleted": bool, "lastAccessedTime": "<millis>"|"",
        "modules": [{"moduleId": "<id>", "moduleName": str, "progressPercentage": int,
                     "status": "Completed"|"In Progress"|"Not Started"|"Locked"}]}]}
- learner-course-progress GET /api/v1/courses/{c}(/batches/{b})/learners/{l}/course-progress?progressType=0|1
  ("Single Learner - Single Course Progress"; 1: mandatory entities only): 404 when not enrolled, else
    {"code": 200, "message": "success", "courseId": "<id>", "learnerId": "<id>", "progressPercentage": int,
     "isCompleted": bool, "modules": [<module as above> + "entities": [{"entityId": "<id>", "entityName": str,
        "type": str, "isMandatory": bool, "status": "Completed"|"Pending"}]]}
  `state.bulk_shape` switches both to another plausible shape ("alt": under response.result, learners keyed by
  numeric id, modules keyed by id, "completed": "true"), to an unreadable answer ("unparseable"), or to one
  that disagrees with module-progress ("disagree": every module "Completed").
- An entity counts as done for these summaries as module-progress presents it: an online test once passed or
  out of attempts; a module once unlocked with every mandatory item done.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from bot.devkit.sandbox.common import (
    PAGE,
    ApiError,
    ApiRequest,
    display_date,
    dmy,
    loads_object,
    num,
    parse_id,
    start_index,
    twelve_hour,
)
from bot.devkit.sandbox.state import Course, Entity, Module, SandboxState


def _resolve(req: ApiRequest, state: SandboxState) -> tuple[Course, int | None, Module | None]:
    """Validate ids (400 before 404), the batch segment against the course type, and look them up."""
    ids = {k: parse_id(v) for k, v in req.params.items()}
    course = state.courses.get(ids["c"])
    if course is None:
        raise ApiError(404)
    batch_id = ids.get("b")
    if course.blended != (batch_id is not None):
        raise ApiError(400)  # batch segment on a self-paced course, or missing on a blended one
    if batch_id is not None and batch_id not in course.batches:
        raise ApiError(404)
    module = None
    if "m" in ids:
        module = next((m for m in course.modules if m.module_id == ids["m"]), None)
        if module is None:
            raise ApiError(404)
    return course, batch_id, module


def module_json(state: SandboxState, module: Module) -> dict[str, Any]:
    return {
        "duration": f"{num(module.duration)} Mins",
        "lockUntil": dmy(module.lock_until),
        "isLocked": state.module_locked_now(module),
        "moduleName": module.name,
        "description": module.description,
        "lockType": str(module.lock_type),
        "moduleId": str(module.module_id),
    }


def _entity_json(state: SandboxState, learner_id: int, e: Entity) -> dict[str, Any]:
    p = state.entity_progress(learner_id, e.entity_id)
    mark: Any = num(p.user_mark) if p.user_mark is not None else ""
    if e.type == "onlineTest":
        attempts = [{"attemptNumber": a.number, "userMark": num(a.mark), "attemptedOn": dmy(a.on)} for a in p.attempts]
        return {
            "duration": f"{e.duration} minutes",
            "userMark": mark,
            "numberOfAttemptsTaken": len(p.attempts),
            "entityName": e.name,
            "maximumAttemptsAllowed": e.max_attempts,
            "entityId": e.entity_id,
            "type": e.type,
            "testMark": e.test_mark,
            "isMandatory": e.mandatory,
            "attempts": attempts,
        }
    if e.type == "session":
        s = state.sessions[e.entity_id]
        return {
            "duration": f"{s.minutes} minutes",
            "sessionStartDate": s.day.isoformat(),
            "entityName": e.name,
            "sessionEndTime": twelve_hour(s.end),
            "sessionStartTime": twelve_hour(s.start),
            "entityId": e.entity_id,
            "type": e.type,
            "isMandatory": e.mandatory,
            "sessionAttendance": p.attendance,
        }
    if e.type == "offlineTest":
        return {
            "duration": f"{e.duration} minutes",
            "userMark": mark,
            "entityName": e.name,
            "entityId": e.entity_id,
            "type": e.type,
            "testMark": e.test_mark,
            "isMandatory": e.mandatory,
            "status": "Completed" if p.completed else "Pending",
        }
    if e.type == "assignment":
        submission = "Evaluated" if p.user_mark is not None else "Submitted" if p.completed else ""
        return {
            "assignMark": e.assign_mark,
            "submissionType": e.submission_type,
            "userMark": mark,
            "submissionStatus": submission,
            "entityName": e.name,
            "submittedOn": display_date(p.submitted_on) if p.submitted_on else "",
            "entityId": e.entity_id,
            "type": e.type,
            "isMandatory": e.mandatory,
        }
    return {
        "entityName": e.name,
        "entityId": e.entity_id,
        "type": e.type,
        "isMandatory": e.mandatory,
        "status": "Completed" if p.completed else "Pending",
    }


def module_progress(req: ApiRequest, state: SandboxState) -> JSONResponse:
    course, batch_id, module = _resolve(req, state)
    learner_id = parse_id(req.params["l"])
    assert module is not None
    enrolled = course.batches[batch_id].learner_ids if batch_id is not None else course.learner_ids
    if learner_id not in state.learners or learner_id not in enrolled:
        raise ApiError(404)
    locked = state.locked_for(learner_id, course, module, batch_id)
    entities = [] if locked else state.visible_entities(module, batch_id)
    return JSONResponse(
        {
            "code": 200,
            "isLocked": locked,
            "moduleName": module.name,
            "moduleProgress": [_entity_json(state, learner_id, e) for e in entities],
            "moduleId": module.module_id,
            "message": "success",
            "hasMoreRecords": False,
        }
    )


def learning_plans_progress(req: ApiRequest, state: SandboxState) -> JSONResponse:
    learner_id = parse_id(req.params["l"])
    start = start_index(req)
    if learner_id not in state.learners:
        raise ApiError(404)
    learner = state.learners[learner_id]
    mine = [m for m in state.memberships if m.learner_id == learner_id]
    plans = []
    for m in mine[start : start + PAGE]:
        plan = state.plans[m.plan_id]
        plans.append(
            {
                "userInfo": {
                    "planuserId": str(m.plan_user_id),
                    "isUserJoinedPlan": m.joined,
                    "isUserCompletedPlan": m.completed,
                    "userType": "1",
                    "userId": str(learner.user_id),
                    "isPlanAdmin": False,
                    "enrolledTime": "null" if m.enrolled_ms is None else str(m.enrolled_ms),
                },
                "planId": str(plan.plan_id),
                "planInfo": {
                    "duration": str(plan.duration),
                    "publishState": plan.publish_state,
                    "planImageInfo": {
                        "isSystem": True,
                        "image": plan.image,
                        "imageUrl": f"/newhr/images/lmsbg/cat{plan.image}.png",
                    },
                    "activeCourseCount": str(plan.active_course_count),
                    "planName": plan.name,
                    "createdTime": str(plan.created_ms),
                    "planId": str(plan.plan_id),
                    "disabled": "true" if plan.disabled else "false",
                    "durationType": plan.duration_type,
                    "mandatoryCourseCount": str(plan.mandatory_course_count),
                    "isPlanOwner": False,
                },
            }
        )
    return JSONResponse({"learningPlans": plans, "message": "Learning plans fetched successfully", "status": 200})


def module_sessions(req: ApiRequest, state: SandboxState) -> JSONResponse:
    course, batch_id, module = _resolve(req, state)
    start = start_index(req)
    if batch_id is None:
        raise ApiError(400)  # sessions exist only in batches of blended courses
    assert module is not None
    now = state.now_dt().replace(tzinfo=None)
    learners = course.batches[batch_id].learner_ids
    all_sessions = state.module_sessions(batch_id, module.module_id)
    page = all_sessions[start : start + PAGE]
    sessions = []
    for s in page:
        present = sum(1 for lid in learners if state.entity_progress(lid, s.session_id).attendance == "Present")
        sessions.append(
            {
                "totalLearnersCount": len(learners),
                "sessionName": s.name,
                "sessionEndTime": twelve_hour(s.end),
                "sessionStartTime": twelve_hour(s.start),
                "description": s.description,
                "resources": [],
                "sessionId": str(s.session_id),
                "roomId": str(s.room_id),
                "canUserDelete": False,
                "sessionStartDate": dmy(s.day),
                "lockUntil": "",
                "presentLeanersCount": present,  # sic, as documented
                "gradeCategoryName": "",
                "isLocked": False,
                "gradeCategoryId": "",
                "sessionType": s.session_type,
                "sessionRoom": s.room,
                "sessionTrainer": s.trainer,
                "isSessionCompleted": datetime.combine(s.day, s.end) < now,
                "trainerErecno": str(s.trainer_erecno),
                "canUserEdit": False,
                "moduleId": str(s.module_id),
            }
        )
    more = start + PAGE < len(all_sessions)
    return JSONResponse({"sessions": sessions, "code": 200, "message": "success", "hasMoreRecords": more})


def my_courses(req: ApiRequest, state: SandboxState) -> JSONResponse:
    start = start_index(req)
    kind, search = req.q("type"), (req.q("search") or "").lower()
    if kind not in (None, "", "1", "2", "3"):
        raise ApiError(400)
    courses = [
        c
        for c in state.courses.values()
        if (not kind or str(c.type) == kind) and (not search or search in c.name.lower())
    ]
    items = [
        {
            "courseId": str(c.course_id),
            "courseName": c.name,
            "type": str(c.type),
            "description": c.description,
            "state": "published",
        }
        for c in courses[start : start + PAGE]
    ]
    more = start + PAGE < len(courses)
    return JSONResponse({"code": 200, "message": "success", "courses": items, "hasMoreRecords": more})


def course_modules(req: ApiRequest, state: SandboxState) -> JSONResponse:
    course, _, _ = _resolve(req, state)
    start = start_index(req)
    modules = sorted(course.modules, key=lambda m: m.order)
    items = [module_json(state, m) for m in modules[start : start + PAGE]]
    more = start + PAGE < len(modules)
    return JSONResponse({"code": 200, "message": "success", "modules": items, "hasMoreRecords": more})


def single_module(req: ApiRequest, state: SandboxState) -> JSONResponse:
    _, _, module = _resolve(req, state)
    assert module is not None
    return JSONResponse({"code": 200, "module": module_json(state, module), "message": "success"})


def course_batches(req: ApiRequest, state: SandboxState) -> JSONResponse:
    course = state.courses.get(parse_id(req.params["c"]))
    start = start_index(req)
    if course is None:
        raise ApiError(404)
    if not course.blended:
        raise ApiError(400)
    batches = list(course.batches.values())
    items = [
        {
            "batchId": str(b.batch_id),
            "batchName": b.name,
            "startDate": display_date(b.start),
            "endDate": display_date(b.end),
        }
        for b in batches[start : start + PAGE]
    ]
    more = start + PAGE < len(batches)
    return JSONResponse({"code": "200", "message": "success", "batches": items, "hasMoreRecords": more})


# ---- update-module ---------------------------------------------------------------------------------------


def _read_module_data(req: ApiRequest) -> tuple[dict[str, Any], str]:
    """moduleData from the documented query parameter, a form field, or a JSON body (bare or wrapped)."""
    if "moduleData" in req.query:
        return loads_object(req.query["moduleData"][0]), "query"
    form = req.form()
    if "moduleData" in form:
        return loads_object(form["moduleData"][0]), "form"
    if req.body.strip():
        data = loads_object(req.body)
        inner = data.get("moduleData")
        if isinstance(inner, str):
            return loads_object(inner), "json-wrapped"
        if isinstance(inner, dict):
            return inner, "json-wrapped"
        return data, "json"
    raise ApiError(400)


def _lock_type(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ApiError(400)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value not in (0, 1, 2):
        raise ApiError(400)
    return value


def _duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ApiError(400)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError as exc:
            raise ApiError(400) from exc
    if not isinstance(value, int | float) or not value > 0 or value != value or value == float("inf"):
        raise ApiError(400)
    return float(value)


def _lock_until(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400)
    try:
        return datetime.strptime(value.strip(), "%d-%m-%Y").date()
    except ValueError as exc:
        raise ApiError(400) from exc


def update_module(req: ApiRequest, state: SandboxState) -> JSONResponse:
    _, _, module = _resolve(req, state)
    assert module is not None
    data, transport = _read_module_data(req)
    req.module_data, req.transport = data, transport
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400)
    lock_type = _lock_type(data.get("lockType"))
    lock_until = _lock_until(data.get("lockUntil"))
    if lock_type == 1 and lock_until is None:
        raise ApiError(400)
    duration = _duration(data["duration"]) if data.get("duration") is not None else None
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise ApiError(400)
    module.name = name.strip()
    module.lock_type = lock_type
    module.lock_until = lock_until if lock_type == 1 else None
    if duration is not None:
        module.duration = duration
    if description is not None:
        module.description = description
    return JSONResponse({"code": 200, "module": module_json(state, module), "message": "success"})


# ---- bulk progress (undocumented bodies: see the module docstring) -------------------------------------------


def _entity_done(state: SandboxState, learner_id: int, e: Entity) -> bool:
    p = state.entity_progress(learner_id, e.entity_id)
    if e.type == "onlineTest":
        if not p.attempts or p.user_mark is None:
            return False
        return p.user_mark >= e.test_mark or len(p.attempts) >= e.max_attempts
    if e.type == "assignment":
        return p.completed or p.user_mark is not None
    if e.type == "session":
        return p.attendance == "Present"
    return p.completed


def _module_summary(
    state: SandboxState,
    learner_id: int,
    course: Course,
    module: Module,
    batch_id: int | None,
    with_entities: int | None,
) -> dict[str, Any]:
    locked = state.locked_for(learner_id, course, module, batch_id)
    mandatory = [e for e in state.visible_entities(module, batch_id) if e.mandatory]
    done = [e for e in mandatory if _entity_done(state, learner_id, e)]
    percent = round(100 * len(done) / len(mandatory)) if mandatory else 100
    complete = not locked and len(done) == len(mandatory)
    if state.bulk_shape == "disagree":
        complete, percent = True, 100
    status = "Completed" if complete else "Locked" if locked else "In Progress" if done else "Not Started"
    out: dict[str, Any] = {
        "moduleId": str(module.module_id),
        "moduleName": module.name,
        "progressPercentage": percent,
        "status": status,
    }
    if with_entities is not None:
        entities = [] if locked else state.visible_entities(module, batch_id)
        out["entities"] = [
            {
                "entityId": str(e.entity_id),
                "entityName": e.name,
                "type": e.type,
                "isMandatory": e.mandatory,
                "status": "Completed" if complete or _entity_done(state, learner_id, e) else "Pending",
            }
            for e in entities
            if e.mandatory or with_entities == 0
        ]
    return out


def _last_activity(state: SandboxState, learner_id: int, course: Course) -> date | None:
    days: list[date] = []
    for module in course.modules:
        for e in module.entities:
            p = state.entity_progress(learner_id, e.entity_id)
            days += [a.on for a in p.attempts]
            if p.submitted_on:
                days.append(p.submitted_on)
    return max(days) if days else None


def _learner_summary(
    state: SandboxState, learner_id: int, course: Course, batch_id: int | None, with_entities: int | None
) -> dict[str, Any]:
    modules = [
        _module_summary(state, learner_id, course, m, batch_id, with_entities)
        for m in sorted(course.modules, key=lambda m: m.order)
    ]
    percent = round(sum(m["progressPercentage"] for m in modules) / len(modules)) if modules else 100
    last = _last_activity(state, learner_id, course)
    learner = state.learners[learner_id]
    return {
        "learnerId": str(learner_id),
        "learnerName": learner.name,
        "emailId": learner.email,
        "progressPercentage": percent,
        "isCompleted": all(m["status"] == "Completed" for m in modules),
        "lastAccessedTime": str(int(datetime(last.year, last.month, last.day, tzinfo=UTC).timestamp() * 1000))
        if last
        else "",
        "modules": modules,
    }


def _alt(summary: dict[str, Any]) -> dict[str, Any]:
    """The other plausible shape: numbers and strings swapped around, modules keyed by numeric id."""
    return {
        "completed": "true" if summary["isCompleted"] else "false",
        "percentage": f"{summary['progressPercentage']}.0",
        "lastUpdated": summary["lastAccessedTime"],
        "moduleProgress": {
            m["moduleId"]: {
                "isCompleted": 1 if m["status"] == "Completed" else 0,
                "percentage": m["progressPercentage"],
                **(
                    {
                        "pendingMandatoryEntities": [
                            {"entityId": int(e["entityId"]), "entityName": e["entityName"]}
                            for e in m["entities"]
                            if e["isMandatory"] and e["status"] == "Pending"
                        ]
                    }
                    if "entities" in m
                    else {}
                ),
            }
            for m in summary["modules"]
        },
    }


def _unparseable() -> Response:
    return Response("<html><body>Service temporarily unavailable</body></html>", media_type="text/html")


def _enrolled(course: Course, batch_id: int | None) -> list[int]:
    ids = course.batches[batch_id].learner_ids if batch_id is not None else course.learner_ids
    return sorted(ids)


def course_progress(req: ApiRequest, state: SandboxState) -> Response:
    course, batch_id, _ = _resolve(req, state)
    start = start_index(req)
    if state.bulk_shape == "unparseable":
        return _unparseable()
    enrolled = [lid for lid in _enrolled(course, batch_id) if lid in state.learners]
    page = enrolled[start : start + PAGE]
    more = start + PAGE < len(enrolled)
    summaries = [_learner_summary(state, lid, course, batch_id, None) for lid in page]
    if state.bulk_shape == "alt":
        data = {int(s["learnerId"]): _alt(s) for s in summaries}
        return JSONResponse({"response": {"result": {"data": data, "hasMoreRecords": more}, "status": 0}})
    return JSONResponse({"code": 200, "message": "success", "learnersProgress": summaries, "hasMoreRecords": more})


def learner_course_progress(req: ApiRequest, state: SandboxState) -> Response:
    course, batch_id, _ = _resolve(req, state)
    learner_id = parse_id(req.params["l"])
    kind = req.q("progressType") or "0"
    if kind not in ("0", "1"):
        raise ApiError(400)
    if learner_id not in state.learners or learner_id not in _enrolled(course, batch_id):
        raise ApiError(404)
    if state.bulk_shape == "unparseable":
        return _unparseable()
    summary = _learner_summary(state, learner_id, course, batch_id, int(kind))
    if state.bulk_shape == "alt":
        return JSONResponse({"response": {"result": {int(summary["learnerId"]): _alt(summary)}, "status": 0}})
    return JSONResponse({"code": 200, "message": "success", "courseId": str(course.course_id), **summary})
