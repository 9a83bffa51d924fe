"""The sandbox's admin API (`/_sandbox/...`): act on the emulated LMS as its users and trainers would, so the
bot's reactions (a digest ticked off in place, a session reminder) can be seen in the demo and in tests.

- complete an item for a learner (a Zoho entity, or an iSpring module result),
- move a session to another day and time,
- add a learner (to a course, and to a batch of a blended course),
- add iSpring learners to a department, each with results in every iSpring module (a bigger team for a manager),
- iSpring webhooks: where to send them (`POST /_sandbox/ispring/webhooks`), sent when an iSpring item is
  completed here, signed as iSpring documents: X-Hub-Signature = sha256(body + secret), hex.

Everything here runs under the state lock and never awaits; sending webhooks happens after, in the app.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from bot.devkit.sandbox import seed
from bot.devkit.sandbox.common import ApiError
from bot.devkit.sandbox.state import Entity, EntityProgress, ISpringResult, ISpringUser, Learner, SandboxState

ISPRING_EVENTS = ("COURSE_ITEM_COMPLETED_SUCCESSFULLY", "COURSE_COMPLETED_SUCCESSFULLY", "COURSE_STATUS_CHANGED")


@dataclass(frozen=True, slots=True)
class Outbound:
    """One webhook delivery to make: where, the exact body, and its signature header."""

    url: str
    body: bytes
    signature: str


def signature(body: bytes, secret: str) -> str:
    return hashlib.sha256(body + secret.encode()).hexdigest()


def find_learner(state: SandboxState, who: str) -> Learner | None:
    """A Zoho learner by id, e-mail or (part of) name."""
    who = who.strip().lower()
    for learner in state.learners.values():
        if who in (str(learner.learner_id), learner.email.lower()) or who in learner.name.lower():
            return learner
    return None


def complete(state: SandboxState, who: str, item: str) -> tuple[dict[str, Any], list[Outbound]]:
    """Complete `item` (a Zoho entity id or name, or an iSpring module title or id) for `who`."""
    item_l = item.strip().lower()
    learner = find_learner(state, who)
    if learner is not None:
        entity = _find_entity(state, learner, item_l)
        if entity is not None:
            progress = state.progress.get((learner.learner_id, entity.entity_id)) or EntityProgress()
            progress.completed = True
            if entity.type == "session":
                progress.attendance = "Present"
            state.progress[(learner.learner_id, entity.entity_id)] = progress
            return {"lms": "zoho", "learner": str(learner.learner_id), "item": str(entity.entity_id)}, []
    result = _find_result(state, who.strip().lower(), learner, item_l)
    if result is None:
        raise ApiError(404, f"no item {item!r} for learner {who!r}")
    result.completion_status = "complete"
    result.completion_date = state.now_dt()
    result.progress = 100.0
    done = {"lms": "ispring", "learner": result.user_id, "item": result.course_item_id}
    return done, _deliveries(state, result)


def _find_entity(state: SandboxState, learner: Learner, item: str) -> Entity | None:
    for course in state.courses.values():
        enrolled = learner.learner_id in course.learner_ids or any(
            learner.learner_id in b.learner_ids for b in course.batches.values()
        )
        if not enrolled:
            continue
        for module in course.modules:
            for entity in module.entities:
                if item in (str(entity.entity_id), entity.name.lower()):
                    return entity
    return None


def _find_result(state: SandboxState, who: str, learner: Learner | None, item: str) -> ISpringResult | None:
    users = {
        u.user_id
        for u in state.ispring_users.values()
        if who in (u.user_id, u.email.lower())
        or who in u.name.lower()
        or (learner is not None and u.learner_id == learner.learner_id)
    }
    for result in state.ispring_results:
        if result.user_id in users and item in (
            result.module_title.lower(),
            result.module_id,
            result.course_item_id,
            result.course_id,
        ):
            return result
    return None


def _deliveries(state: SandboxState, result: ISpringResult) -> list[Outbound]:
    """The events iSpring sends for a completed item, one list per type (iSpring batches same-type events)."""
    completed = int(state.now())
    payloads: dict[str, dict[str, Any]] = {
        "COURSE_ITEM_COMPLETED_SUCCESSFULLY": {
            "courseId": result.course_id,
            "courseItemId": result.course_item_id,
            "learnerId": result.user_id,
            "enrollmentIds": [result.enrollment_id],
            "completionDate": completed,
        },
        "COURSE_COMPLETED_SUCCESSFULLY": {
            "courseId": result.course_id,
            "learnerId": result.user_id,
            "enrollmentIds": [result.enrollment_id],
            "completionDate": completed,
        },
        "COURSE_STATUS_CHANGED": {"courseId": result.course_id, "learnerId": result.user_id, "status": "complete"},
    }
    out: list[Outbound] = []
    for url, secret in state.webhooks.items():
        for kind in ISPRING_EVENTS:
            body = json.dumps({"type": kind, "payloads": [payloads[kind]]}).encode()
            out.append(Outbound(url, body, signature(body, secret)))
    return out


def move_session(state: SandboxState, session_id: int, day: date, start: time, end: time | None) -> dict[str, Any]:
    session = state.sessions.get(session_id)
    if session is None:
        raise ApiError(404, f"no session {session_id}")
    minutes = session.minutes
    session.day, session.start = day, start
    if end is None:
        total = start.hour * 60 + start.minute + minutes
        end = time(min(23, total // 60), total % 60 if total < 24 * 60 else 59)
    session.end = end
    return {"session": str(session_id), "day": day.isoformat(), "start": start.isoformat(), "end": end.isoformat()}


def add_learner(state: SandboxState, name: str, email: str, course_id: int | None, batch_id: int | None) -> Learner:
    if any(lr.email.lower() == email.lower() for lr in state.learners.values()):
        raise ApiError(409, f"a learner with e-mail {email} exists")
    learner_id = max(state.learners, default=100002000000090000) + 1
    learner = Learner(learner_id, name, email, learner_id)
    state.learners[learner_id] = learner
    if course_id is not None:
        course = state.course(course_id)
        if batch_id is not None:
            course.batches[batch_id].learner_ids.add(learner_id)
        else:
            course.learner_ids.add(learner_id)
    return learner


ISPRING_KINDS = (["complete", "in_progress", "not_started", "overdue", "passed", "failed"], [35, 25, 15, 15, 5, 5])


def add_ispring_learners(state: SandboxState, count: int, department: str) -> list[ISpringUser]:
    """`count` new iSpring learners in `department` (its name or id), each with a result (drawn as the seeded
    company's are: done, under way, not started, overdue, failed) in every iSpring module there is."""
    if not 1 <= count <= 1000:
        raise ApiError(400, "count must be between 1 and 1000")
    wanted = department.strip().lower()
    found = [d for d in state.ispring_departments.values() if wanted in (d.department_id.lower(), d.name.lower())]
    if not found:
        names = ", ".join(sorted(d.name for d in state.ispring_departments.values()))
        raise ApiError(404, f"no iSpring department {department!r} (there are: {names})")
    modules = {r.module_id: (r.course_id, r.module_id, r.course_item_id, r.module_title) for r in state.ispring_results}
    today = state.today()
    added: list[ISpringUser] = []
    for _ in range(count):
        n = len(state.ispring_users) + 1
        r = random.Random(f"added:{n}")
        name = f"{r.choice(seed.FIRST)} {r.choice(seed.LAST)}"
        user = ISpringUser(seed._uuid(r), name, seed._email(name, n), found[0].department_id)
        state.ispring_users[user.user_id] = user
        for course_id, module_id, item_id, title in modules.values():
            kind = r.choices(*ISPRING_KINDS)[0]
            result = seed._result(r, user.user_id, course_id, module_id, item_id, title, kind, today)
            state.ispring_results.append(result)
        added.append(user)
    return added
