"""The documented sample responses, parsed exactly (IDs, types, dates, quirks)."""

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.lms.dates import DateOrder
from bot.lms.ispring import parse_results
from bot.lms.ispring_models import ModuleResult
from bot.lms.zoho_models import (
    Assignment,
    EmbedLink,
    LearningPlanProgress,
    LockType,
    Module,
    ModuleProgress,
    OfflineTest,
    OnlineTest,
    Session,
    SessionEntity,
    UnknownEntity,
)

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_self_paced_progress_keeps_big_ids_exact() -> None:
    progress = ModuleProgress.model_validate(load("zoho_progress_self_paced.json"))
    assert progress.module_id == "100004000000038033"
    assert progress.module_name == "M1"
    assert progress.is_locked is False
    test, link = progress.entities
    assert isinstance(test, OnlineTest)
    assert test.entity_id == "100004000000038041"  # above 2**53: a float would have made it ...040
    assert int(test.entity_id) > 2**53
    assert (test.name, test.is_mandatory, test.attempts_taken, test.max_attempts) == ("Test 1", True, 0, 1)
    assert test.user_mark is None and test.test_mark == 1 and test.duration_minutes == 0
    assert test.attempts_left == 1 and test.is_complete is False
    assert isinstance(link, EmbedLink)
    assert link.entity_id == "100004000000048005" and link.status == "Pending" and not link.is_complete
    assert [e.entity_id for e in progress.pending_mandatory] == ["100004000000038041", "100004000000048005"]


def test_blended_progress_has_every_entity_type() -> None:
    progress = ModuleProgress.model_validate(load("zoho_progress_blended.json"))
    test, session, offline, assignment = progress.entities
    assert isinstance(test, OnlineTest) and test.entity_id == "100004000000045021"
    assert isinstance(session, SessionEntity)
    assert session.start_date == date(2023, 8, 3)
    assert (session.start_time, session.end_time) == (time(14, 0), time(14, 30))
    assert session.starts_at == datetime(2023, 8, 3, 14, 0)
    assert session.duration_minutes == 30 and session.attendance is None and not session.is_complete
    assert isinstance(offline, OfflineTest) and offline.test_mark == 2 and offline.status == "Pending"
    assert isinstance(assignment, Assignment)
    assert assignment.assign_mark == 10 and assignment.submission_type == "No Submission"
    assert assignment.submitted_on is None and not assignment.is_complete
    assert progress.module_id == "100004000000045017"


def test_locked_module_sample() -> None:
    progress = ModuleProgress.model_validate(load("zoho_progress_locked.json"))
    assert progress.is_locked is True
    assert progress.entities == []
    assert progress.module_id == "100004000000038033"


def test_unknown_entity_type_is_kept_whole() -> None:
    raw = load("zoho_progress_self_paced.json")
    raw["moduleProgress"].append(
        {
            "entityId": 100004000000099001,
            "entityName": "Survey",
            "type": "survey",
            "isMandatory": False,
            "q": 3,
        }
    )
    progress = ModuleProgress.model_validate(raw)
    survey = progress.entities[-1]
    assert isinstance(survey, UnknownEntity)
    assert survey.type == "survey" and survey.entity_id == "100004000000099001"
    assert survey.model_extra == {"q": 3}


def test_learning_plan_sample() -> None:
    plans = [LearningPlanProgress.model_validate(p) for p in load("zoho_learning_plans.json")["learningPlans"]]
    (plan,) = plans
    assert plan.plan_id == "100002000000046167" and plan.name == "L1"
    assert plan.user.user_id == "100002000000040623" and plan.user.joined and not plan.user.completed
    assert plan.user.enrolled_time is None  # "null"
    assert plan.info.created_time == datetime(2025, 8, 19, 9, 45, 17, 804000, tzinfo=UTC)
    assert plan.info.disabled is False and plan.info.duration == 30
    assert (plan.info.active_course_count, plan.info.mandatory_course_count) == (2, 1)


@pytest.mark.parametrize(
    ("order", "expected"), [(DateOrder.DMY, date(2022, 1, 11)), (DateOrder.MDY, date(2022, 11, 1))]
)
def test_session_sample_date_order_is_configurable(order: DateOrder, expected: date) -> None:
    raw = load("zoho_sessions.json")["sessions"][0]
    session = Session.model_validate(raw, context={"date_order": order})
    assert session.start_date == expected
    assert session.session_id == "219225000000645227" and session.trainer == "Henry"
    assert (session.start_time, session.end_time) == (time(11, 0), time(13, 0))
    assert session.room == "Room One" and session.session_type == "Classroom"
    assert (
        session.lock_until is None and session.present_learners == 0 and session.trainer_erecno == "219225000000036453"
    )


def test_update_module_sample() -> None:
    module = Module.model_validate(load("zoho_update_module.json")["module"])
    assert module.module_id == "219225000000648001" and module.name == "Module One"
    assert module.duration_minutes == 100
    assert module.lock_type is LockType.UNTIL_DATE and module.lock_until == date(2021, 12, 27)
    assert module.is_locked is True


def test_ispring_xml_sample() -> None:
    response = httpx.Response(
        200,
        content=(FIXTURES / "ispring_results.xml").read_bytes(),
        headers={"content-type": "application/xml"},
    )
    records, token = parse_results(response)
    assert token is None
    results = [ModuleResult.model_validate(r) for r in records]
    assert [r.module_title for r in results] == ["Course 1", "Course 2", "Course 3"]
    first, second, third = results
    assert first.user_id == "114dba08-a75e-11eb-b4e5-0242ac13002a"
    assert first.progress == 9.09 and first.time_spent == 10 and first.is_overdue is False
    assert first.due_date is None and first.access_date == datetime(2021, 7, 28, 21, tzinfo=UTC)
    assert second.is_overdue and second.due_date == datetime(2021, 7, 29, 21, tzinfo=UTC) and second.progress == 50
    assert second.expiration_date == datetime(2021, 7, 29, 21, tzinfo=UTC)
    assert third.completion_status == "not_started" and third.progress is None and third.is_overdue


@pytest.mark.parametrize(
    "body",
    [
        {"results": [{"userId": "u1", "completionStatus": "complete"}], "nextPageToken": "t2"},
        {"results": {"result": [{"userId": "u1", "completionStatus": "complete"}]}, "nextPageToken": "t2"},
        {
            "response": {
                "results": {"result": {"userId": "u1", "completionStatus": "complete"}},
                "nextPageToken": "t2",
            }
        },
    ],
)
def test_ispring_json_shapes_are_tolerated(body: dict[str, Any]) -> None:
    records, token = parse_results(httpx.Response(200, json=body))
    assert token == "t2"
    assert ModuleResult.model_validate(records[0]).is_done


@pytest.mark.parametrize(
    "raw",
    [
        {"moduleId": "1", "moduleName": "A", "lockType": "2"},
        {"id": 1, "name": "A", "lockType": 2},
        {"moduleId": 1, "title": "A", "lockType": "2", "duration": "30 minutes"},
    ],
)
def test_module_shapes_are_tolerated(raw: dict[str, Any]) -> None:
    module = Module.model_validate(raw)
    assert (module.module_id, module.name, module.lock_type) == ("1", "A", LockType.UNTIL_PREVIOUS_COMPLETED)


def test_float_ids_that_lost_precision_are_refused() -> None:
    raw = load("zoho_progress_self_paced.json")
    raw["moduleId"] = 1.00004000000038033e17
    with pytest.raises(ValueError, match="inexact"):
        ModuleProgress.model_validate(raw)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(
            200,
            content=b"<response><userProfiles><userProfile><userId>u1</userId><fields><field><name>EMAIL</name>"
            b"<value>a@x.io</value></field></fields></userProfile></userProfiles></response>",
        ),
        httpx.Response(200, json={"userProfiles": [{"userId": "u1", "email": "a@x.io"}]}),
        httpx.Response(200, json={"userProfiles": {"userProfile": {"userId": "u1", "EMAIL": "a@x.io"}}}),
        httpx.Response(200, json=[{"userId": "u1", "fields": [{"name": "EMAIL", "value": "a@x.io"}]}]),
    ],
)
def test_ispring_user_profile_shapes_are_tolerated(response: httpx.Response) -> None:
    from bot.lms.ispring import parse_users
    from bot.lms.ispring_models import UserProfile

    (record,), token = parse_users(response)
    assert token is None
    assert UserProfile.model_validate(record).email == "a@x.io"


def test_progress_survives_a_cache_round_trip() -> None:
    """What the cache stores (by-alias JSON) must parse back to the same entities, type fields included."""
    original = ModuleProgress.model_validate(load("zoho_progress_blended.json"))
    payload = json.loads(json.dumps(original.model_dump(mode="json", by_alias=True)))
    again = ModuleProgress.model_validate(payload)
    assert again == original
    assert [type(e) for e in again.entities] == [type(e) for e in original.entities]
    session = again.entities[1]
    assert isinstance(session, SessionEntity) and session.start_time == time(14, 0)


@pytest.mark.parametrize(
    ("taken", "allowed", "mark", "out_of", "complete"),
    [
        (0, 1, None, 1, False),  # not attempted
        (1, 3, 2, 10, False),  # not passed, attempts left: still to do
        (3, 3, 2, 10, True),  # no attempts left: nothing more the learner can do
        (1, 1, 1, 1, True),  # passed
        (1, 0, 4, 10, True),  # unlimited attempts (0): a scored attempt counts
    ],
)
def test_online_test_completion(taken: int, allowed: int, mark: float | None, out_of: float, complete: bool) -> None:
    test = OnlineTest.model_validate(
        {
            "entityId": 1,
            "entityName": "T",
            "type": "onlineTest",
            "isMandatory": True,
            "numberOfAttemptsTaken": taken,
            "maximumAttemptsAllowed": allowed,
            "userMark": "" if mark is None else mark,
            "testMark": out_of,
        }
    )
    assert test.is_complete is complete
