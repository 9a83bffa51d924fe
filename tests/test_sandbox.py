"""The LMS sandbox over real HTTP (plain httpx), checked against the vendor doc samples (docs/references.md)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import time
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import httpx
import pytest

from bot.devkit.sandbox import cli
from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.seed import (
    BATCH_SPRING,
    BL_COACHING,
    BL_KICKOFF,
    BL_OFFICE_HOURS,
    BLENDED_COURSE,
    PLANS_LEARNER,
    SAMPLE_LEARNER,
    SELF_PACED_COURSE,
    SP_MODULE_1,
    SP_MODULE_2,
    build_state,
)
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.sandbox.state import EntityProgress, ManualClock, SandboxState
from tests.conftest import SandboxFactory

ZOHO = {"client_id": "sandbox-zoho-client", "client_secret": "sandbox-zoho-secret"}
ISPRING = {"client_id": "sandbox-ispring-client", "client_secret": "sandbox-ispring-secret"}
EDSGER = 100002000000032193  # has not started the self-paced course
SP = f"/api/v1/courses/{SELF_PACED_COURSE}"
BL = f"/api/v1/courses/{BLENDED_COURSE}/batches/{BATCH_SPRING}"
DOC_PROGRESS = f"{BL}/modules/{BL_KICKOFF}/learners/{SAMPLE_LEARNER}/progress"  # the doc's sample request
RESULTS = "/ispring/learners/modules/results"

# ---- doc samples (copied from the vendor pages in docs/references.md) ---------------------------------------
ONLINE_TEST = {
    "duration": "0 minutes",
    "userMark": "",
    "numberOfAttemptsTaken": 0,
    "entityName": "Test 1",
    "maximumAttemptsAllowed": 1,
    "entityId": 100004000000038041,
    "type": "onlineTest",
    "testMark": 1,
    "isMandatory": True,
    "attempts": [],
}
EMBED_LINK = {
    "entityName": "Link",
    "entityId": 100004000000048005,
    "type": "embedLink",
    "isMandatory": True,
    "status": "Pending",
}
SESSION = {
    "duration": "30 minutes",
    "sessionStartDate": "2023-08-03",
    "entityName": "Sess",
    "sessionEndTime": "2:30 PM",
    "sessionStartTime": "2:00 PM",
    "entityId": 100004000000045088,
    "type": "session",
    "isMandatory": True,
    "sessionAttendance": "",
}
OFFLINE_TEST = {
    "duration": "2 minutes",
    "userMark": "",
    "entityName": "sample pff",
    "entityId": 100004000000049001,
    "type": "offlineTest",
    "testMark": 2,
    "isMandatory": True,
    "status": "Pending",
}
ASSIGNMENT = {
    "assignMark": 10,
    "submissionType": "No Submission",
    "userMark": "",
    "submissionStatus": "",
    "entityName": "Assn",
    "submittedOn": "",
    "entityId": 100004000000049013,
    "type": "assignment",
    "isMandatory": True,
}
ENTITY_SAMPLES = {
    "onlineTest": ONLINE_TEST,
    "embedLink": EMBED_LINK,
    "session": SESSION,
    "offlineTest": OFFLINE_TEST,
    "assignment": ASSIGNMENT,
}
LOCKED = {
    "code": 200,
    "isLocked": True,
    "moduleName": "M1",
    "moduleProgress": [],
    "moduleId": 100004000000038033,
    "message": "success",
    "hasMoreRecords": False,
}
PLAN = {
    "userInfo": {
        "planuserId": "100002000000046189",
        "isUserJoinedPlan": True,
        "isUserCompletedPlan": False,
        "userType": "1",
        "userId": "100002000000040623",
        "isPlanAdmin": False,
        "enrolledTime": "null",
    },
    "planId": "100002000000046167",
    "planInfo": {
        "duration": "30",
        "publishState": "1",
        "planImageInfo": {"isSystem": True, "image": "23", "imageUrl": "/newhr/images/lmsbg/cat23.png"},
        "activeCourseCount": "2",
        "planName": "L1",
        "createdTime": "1755596717804",
        "planId": "100002000000046167",
        "disabled": "false",
        "durationType": "0",
        "mandatoryCourseCount": "1",
        "isPlanOwner": False,
    },
}
MODULE_SESSION = {
    "totalLearnersCount": 0,
    "sessionName": "Session One",
    "sessionEndTime": "1:00 PM",
    "sessionStartTime": "11:00 AM",
    "description": "Description for Session",
    "resources": [],
    "sessionId": "219225000000645227",
    "roomId": "219225000000645249",
    "canUserDelete": False,
    "sessionStartDate": "11-01-2022",
    "lockUntil": "",
    "presentLeanersCount": 0,
    "gradeCategoryName": "",
    "isLocked": False,
    "gradeCategoryId": "",
    "sessionType": "Classroom",
    "sessionRoom": "Room One",
    "sessionTrainer": "Henry",
    "isSessionCompleted": False,
    "trainerErecno": "219225000000036453",
    "canUserEdit": False,
    "moduleId": "219225000000645219",
}
UPDATED = {
    "code": 200,
    "module": {
        "duration": "100 Mins",
        "lockUntil": "27-12-2021",
        "isLocked": True,
        "moduleName": "Module One",
        "description": "Description for module",
        "lockType": "1",
        "moduleId": "219225000000648001",
    },
    "message": "success",
}
ISPRING_REQUIRED = [
    "userId",
    "courseId",
    "moduleTitle",
    "moduleId",
    "courseItemId",
    "enrollmentId",
    "accessDate",
    "timeSpent",
    "completionStatus",
    "isOverdue",
]
ISPRING_ORDER = [*ISPRING_REQUIRED[:7], "dueDate", "expirationDate", "completionDate", *ISPRING_REQUIRED[7:9]]
ISPRING_ORDER += ["progress", "isOverdue"]
NUMBER = (int, float)


def assert_like(actual: Any, sample: Any, loose: dict[str, tuple[type, ...]] | None = None) -> None:
    """Same keys, same JSON types (recursively); `loose` lists fields documented as "" or a number."""
    loose = loose or {}
    assert type(actual) is type(sample), (actual, sample)
    if isinstance(sample, dict):
        assert set(actual) == set(sample), set(actual) ^ set(sample)
        for key, value in sample.items():
            if key in loose:
                assert isinstance(actual[key], loose[key]) and not isinstance(actual[key], bool), key
            else:
                assert_like(actual[key], value, loose)


MARKS: dict[str, tuple[type, ...]] = {"userMark": (str, int, float)}


# ---- helpers ---------------------------------------------------------------------------------------------


def client(sb: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=sb.url, timeout=10)


def zoho_token(sb: SandboxServer, refresh: str = "sandbox-zoho-refresh") -> str:
    r = httpx.post(f"{sb.url}/oauth/v2/token", params={**ZOHO, "grant_type": "refresh_token", "refresh_token": refresh})
    return str(r.json()["access_token"])


def zh(token: str) -> dict[str, str]:
    return {"Authorization": f"Zoho-oauthtoken {token}"}


def ispring_token(sb: SandboxServer) -> str:
    r = httpx.post(f"{sb.url}/ispring/api/v3/token", data={**ISPRING, "grant_type": "client_credentials"})
    return str(r.json()["access_token"])


def manual(sb: SandboxServer, **kwargs: Any) -> tuple[SandboxState, ManualClock]:
    clock = ManualClock()
    return sb.reset(build_state(clock=clock, **kwargs)), clock


# ---- Zoho accounts ---------------------------------------------------------------------------------------


def test_refresh_token_grant_query_and_form(sandbox: SandboxServer) -> None:
    params = {**ZOHO, "grant_type": "refresh_token", "refresh_token": "sandbox-zoho-refresh"}
    with client(sandbox) as c:
        for r in (c.post("/oauth/v2/token", params=params), c.post("/oauth/v2/token", data=params)):
            body = r.json()
            assert r.status_code == 200
            assert set(body) == {"access_token", "expires_in", "api_domain", "token_type", "scope"}
            assert re.fullmatch(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}", body["access_token"])
            assert body["expires_in"] == 3600 and body["token_type"] == "Bearer"
            assert body["api_domain"] == "https://www.zohoapis.com"
            assert body["scope"] == "ZOHOPEOPLE.training.ALL"
        bad_client = c.post("/oauth/v2/token", params={**params, "client_secret": "nope"})
        assert (bad_client.status_code, bad_client.json()) == (400, {"error": "invalid_client"})
        bad_refresh = c.post("/oauth/v2/token", params={**params, "refresh_token": "nope"})
        assert (bad_refresh.status_code, bad_refresh.json()) == (200, {"error": "invalid_code"})
    assert [c.endpoint for c in sandbox.state.calls] == ["zoho-token"] * 4


def test_authorization_code_flow_and_revoke(sandbox: SandboxServer) -> None:
    _state, clock = manual(sandbox)
    auth = {
        "response_type": "code",
        "client_id": ZOHO["client_id"],
        "scope": "ZOHOPEOPLE.training.ALL",
        "redirect_uri": "http://localhost:3000/oauth/callback",
        "state": "xyz",
        "access_type": "offline",
    }
    with client(sandbox) as c:
        r = c.get("/oauth/v2/auth", params=auth)
        assert r.status_code == 302
        location = urlsplit(r.headers["location"])
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert location.path == "/oauth/callback"
        assert query["state"] == "xyz" and query["location"] == "us"
        assert query["accounts-server"] == sandbox.url
        exchange = {**ZOHO, "grant_type": "authorization_code", "code": query["code"]}
        exchange["redirect_uri"] = auth["redirect_uri"]
        body = c.post("/oauth/v2/token", data=exchange).json()
        assert {"access_token", "refresh_token", "expires_in", "api_domain", "token_type", "scope"} <= set(body)
        assert c.post("/oauth/v2/token", data=exchange).json() == {"error": "invalid_code"}  # single use
        refresh = {**ZOHO, "grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        fresh = c.post("/oauth/v2/token", params=refresh).json()["access_token"]
        assert c.get(f"{SP}/modules", headers=zh(fresh)).status_code == 200
        # codes live two minutes of sandbox time
        late = parse_qs(urlsplit(c.get("/oauth/v2/auth", params=auth).headers["location"]).query)["code"][0]
        clock.advance(121)
        assert c.post("/oauth/v2/token", data={**exchange, "code": late}).json() == {"error": "invalid_code"}
        assert c.post("/oauth/v2/token/revoke", params={"token": body["refresh_token"]}).json()["status"] == "success"
        assert c.post("/oauth/v2/token", params=refresh).json() == {"error": "invalid_code"}
        assert c.get(f"{SP}/modules", headers=zh(fresh)).status_code == 401


def test_access_token_required_and_expires(sandbox: SandboxServer) -> None:
    _, clock = manual(sandbox)
    token = zoho_token(sandbox)
    url = f"{SP}/modules/{SP_MODULE_1}/learners/{SAMPLE_LEARNER}/progress"
    with client(sandbox) as c:
        assert c.get(url).status_code == 401
        assert c.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert c.get(url, headers=zh("1000.bogus.token")).status_code == 401
        assert c.get(url, headers=zh(token)).status_code == 200
        clock.advance(3599)
        assert c.get(url, headers=zh(token)).status_code == 200
        clock.advance(2)
        r = c.get(url, headers=zh(token))
        assert r.status_code == 401 and r.json()["code"] == 401
    assert [c.status for c in sandbox.state.calls_for("module-progress")] == [401, 401, 401, 200, 200, 401]


# ---- module progress ---------------------------------------------------------------------------------------


def test_self_paced_progress_matches_sample(sandbox: SandboxServer) -> None:
    with client(sandbox) as c:
        r = c.get(f"{SP}/modules/{SP_MODULE_1}/learners/{EDSGER}/progress", headers=zh(zoho_token(sandbox)))
    body = r.json()
    assert r.status_code == 200
    assert body["moduleProgress"] == [ONLINE_TEST, EMBED_LINK]  # the doc sample's entities, untouched learner
    assert {k: v for k, v in body.items() if k not in ("moduleName", "moduleProgress")} == {
        "code": 200,
        "isLocked": False,
        "moduleId": 100004000000038033,
        "message": "success",
        "hasMoreRecords": False,
    }
    # big ids are JSON numbers, emitted digit for digit
    assert '"entityId":100004000000038041' in r.text.replace(" ", "")
    assert '"moduleId":100004000000038033' in r.text.replace(" ", "")


def test_blended_progress_has_every_entity_type(sandbox: SandboxServer) -> None:
    with client(sandbox) as c:
        r = c.get(DOC_PROGRESS, headers=zh(zoho_token(sandbox)))
    body = r.json()
    assert r.status_code == 200 and body["moduleId"] == BL_KICKOFF and body["isLocked"] is False
    assert set(body) == set(LOCKED)
    seen = {e["type"] for e in body["moduleProgress"]}
    assert seen == set(ENTITY_SAMPLES)
    for entity in body["moduleProgress"]:
        assert_like(entity, ENTITY_SAMPLES[entity["type"]], MARKS)
        if entity["type"] == "session":
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entity["sessionStartDate"])
            assert re.fullmatch(r"1?\d:\d\d [AP]M", entity["sessionStartTime"])
            assert entity["sessionAttendance"] in ("", "Present", "Absent")
        if entity["type"] == "onlineTest" and entity["attempts"]:
            assert entity["numberOfAttemptsTaken"] == len(entity["attempts"])
            assert isinstance(entity["userMark"], NUMBER)
    assert 100004000000045088 in {e["entityId"] for e in body["moduleProgress"]}


def test_lock_type_2_follows_previous_module(sandbox: SandboxServer) -> None:
    token = zoho_token(sandbox)
    ada = f"{SP}/modules/{SP_MODULE_2}/learners/{SAMPLE_LEARNER}/progress"
    edsger = f"{SP}/modules/{SP_MODULE_2}/learners/{EDSGER}/progress"
    with client(sandbox) as c:
        assert c.get(ada, headers=zh(token)).json()["isLocked"] is False  # Ada finished module 1
        locked = c.get(edsger, headers=zh(token)).json()
        assert locked == {**LOCKED, "moduleName": "Password Hygiene", "moduleId": SP_MODULE_2}
        state = sandbox.state
        with state.lock:
            for entity in state.module(SELF_PACED_COURSE, SP_MODULE_1).entities:
                state.progress[(EDSGER, entity.entity_id)] = EntityProgress(completed=True)
        unlocked = c.get(edsger, headers=zh(token)).json()
        assert unlocked["isLocked"] is False and len(unlocked["moduleProgress"]) == 2


def test_lock_type_1_until_date(sandbox: SandboxServer) -> None:
    state, clock = manual(sandbox)
    token = zoho_token(sandbox)
    url = f"{BL}/modules/{BL_COACHING}/learners/{SAMPLE_LEARNER}/progress"
    lock_until = state.module(BLENDED_COURSE, BL_COACHING).lock_until
    assert lock_until is not None and lock_until > state.today()
    with client(sandbox) as c:
        assert c.get(url, headers=zh(token)).json()["moduleProgress"] == []
        clock.advance((lock_until - state.today()).days * 86400 + 60)
        token = zoho_token(sandbox)
        body = c.get(url, headers=zh(token)).json()
    assert body["isLocked"] is False and len(body["moduleProgress"]) == 3


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{SP}/modules/abc/learners/{SAMPLE_LEARNER}/progress", 400),
        (f"/api/v1/courses/12x/modules/{SP_MODULE_1}/learners/{SAMPLE_LEARNER}/progress", 400),
        (f"{SP}/modules/{SP_MODULE_1}/learners/-1/progress", 400),
        (f"/api/v1/courses/999/modules/{SP_MODULE_1}/learners/{SAMPLE_LEARNER}/progress", 404),
        (f"{SP}/modules/999/learners/{SAMPLE_LEARNER}/progress", 404),
        (f"{SP}/modules/{SP_MODULE_1}/learners/999/progress", 404),
        (f"{SP}/batches/{BATCH_SPRING}/modules/{SP_MODULE_1}/learners/{SAMPLE_LEARNER}/progress", 400),
        (f"/api/v1/courses/{BLENDED_COURSE}/modules/{BL_KICKOFF}/learners/{SAMPLE_LEARNER}/progress", 400),
        (
            f"/api/v1/courses/{BLENDED_COURSE}/batches/999/modules/{BL_KICKOFF}/learners/{SAMPLE_LEARNER}/progress",
            404,
        ),
        ("/api/v1/learners/abc/learning-plans/progress", 400),
        ("/api/v1/learners/999/learning-plans/progress", 404),
        (f"/api/v1/learners/{PLANS_LEARNER}/learning-plans/progress?startIndex=x", 400),
        (f"{SP}/batches", 400),
        (f"{SP}/modules/{SP_MODULE_1}/sessions", 400),
        ("/api/v1/no/such/thing", 404),
    ],
)
def test_invalid_and_unknown_ids(sandbox: SandboxServer, path: str, status: int) -> None:
    messages = {400: "Invalid parameter value/input parameter missing", 404: "Not found"}
    with client(sandbox) as c:
        r = c.get(path, headers=zh(zoho_token(sandbox)))
    assert (r.status_code, r.json()) == (status, {"code": status, "message": messages[status]})


# ---- learning plans, sessions, picker lists ----------------------------------------------------------------


def test_learning_plans_progress_matches_sample(sandbox: SandboxServer) -> None:
    url = f"/api/v1/learners/{PLANS_LEARNER}/learning-plans/progress"
    with client(sandbox) as c:
        h = zh(zoho_token(sandbox))
        body = c.get(url, headers=h).json()
        assert set(body) == {"learningPlans", "message", "status"}  # no hasMoreRecords, as in the sample
        assert body["status"] == 200 and body["message"] == "Learning plans fetched successfully"
        assert body["learningPlans"][0] == PLAN
        for plan in body["learningPlans"]:
            assert_like(plan, PLAN)
        total = len(body["learningPlans"])
        assert len(c.get(url, params={"startIndex": 1}, headers=h).json()["learningPlans"]) == total - 1
        assert c.get(url, params={"startIndex": 500}, headers=h).json()["learningPlans"] == []


def test_module_sessions_shape_and_paging(sandbox: SandboxServer) -> None:
    sandbox.reset(build_state(learners=3))
    url = f"{BL}/modules/{BL_OFFICE_HOURS}/sessions"
    with client(sandbox) as c:
        h = zh(zoho_token(sandbox))
        first = c.get(url, headers=h).json()
        second = c.get(url, params={"startIndex": 25}, headers=h).json()
    assert set(first) == {"sessions", "code", "message", "hasMoreRecords"} and first["code"] == 200
    assert (len(first["sessions"]), first["hasMoreRecords"]) == (25, True)
    assert (len(second["sessions"]), second["hasMoreRecords"]) == (5, False)
    ids = [s["sessionId"] for s in first["sessions"] + second["sessions"]]
    assert len(set(ids)) == 30
    for session in first["sessions"]:
        assert_like(session, MODULE_SESSION)
        assert re.fullmatch(r"\d{2}-\d{2}-\d{4}", session["sessionStartDate"])
        assert re.fullmatch(r"1?\d:\d\d [AP]M", session["sessionEndTime"])
        assert session["moduleId"] == str(BL_OFFICE_HOURS)


def test_picker_lists(sandbox: SandboxServer) -> None:
    with client(sandbox) as c:
        h = zh(zoho_token(sandbox))
        courses = c.get("/api/v1/courses/mycourses", headers=h).json()
        assert courses["code"] == 200 and courses["hasMoreRecords"] is False
        assert {x["courseId"] for x in courses["courses"]} == {str(SELF_PACED_COURSE), str(BLENDED_COURSE)}
        blended = c.get("/api/v1/courses/mycourses", params={"type": 2}, headers=h).json()["courses"]
        assert [x["type"] for x in blended] == ["2"]
        batches = c.get(f"/api/v1/courses/{BLENDED_COURSE}/batches", headers=h).json()
        assert batches["code"] == "200"  # a string here, per the docs
        assert str(BATCH_SPRING) in {b["batchId"] for b in batches["batches"]}
        for path in (f"{SP}/modules", f"{BL}/modules"):
            modules = c.get(path, headers=h).json()
            assert modules["code"] == 200 and modules["hasMoreRecords"] is False
            for module in modules["modules"]:
                assert_like(module, UPDATED["module"])
        single = c.get(f"{BL}/modules/{BL_COACHING}", headers=h).json()
        assert_like(single, UPDATED)
        assert single["module"]["lockType"] == "1" and single["module"]["isLocked"] is True
        assert c.get(f"/api/v1/courses/{BLENDED_COURSE}/modules/{BL_KICKOFF}", headers=h).status_code == 400


# ---- update module -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["query", "form", "json", "json-wrapped"])
def test_update_module_each_transport_persists(sandbox: SandboxServer, transport: str) -> None:
    until = (sandbox.state.today() + timedelta(days=5)).strftime("%d-%m-%Y")
    data: dict[str, Any] = {
        "name": "Phishing 2.0",
        "duration": 45,
        "description": "Refreshed",
        "lockType": 1,
        "lockUntil": until,
    }
    url = f"{SP}/modules/{SP_MODULE_1}"
    kwargs: dict[str, Any] = {
        "query": {"params": {"moduleData": json.dumps(data)}},
        "form": {"data": {"moduleData": json.dumps(data)}},
        "json": {"json": data},
        "json-wrapped": {"json": {"moduleData": data}},
    }[transport]
    with client(sandbox) as c:
        h = zh(zoho_token(sandbox))
        r = c.patch(url, headers=h, **kwargs)
        assert r.status_code == 200, r.text
        body = r.json()
        assert_like(body, UPDATED)
        assert body["module"] == {
            "duration": "45 Mins",
            "lockUntil": until,
            "isLocked": True,
            "moduleName": "Phishing 2.0",
            "description": "Refreshed",
            "lockType": "1",
            "moduleId": str(SP_MODULE_1),
        }
        assert c.get(url, headers=h).json()["module"] == body["module"]
        progress = c.get(f"{url}/learners/{SAMPLE_LEARNER}/progress", headers=h).json()
        assert progress["isLocked"] is True and progress["moduleProgress"] == []
        assert progress["moduleName"] == "Phishing 2.0"
        unlock = {"name": "Phishing 2.0", "lockType": "0"}
        reopened = c.patch(url, headers=h, params={"moduleData": json.dumps(unlock)}).json()["module"]
        assert (reopened["lockType"], reopened["lockUntil"], reopened["isLocked"]) == ("0", "", False)
        assert reopened["duration"] == "45 Mins"  # left out: kept
    call = sandbox.state.calls_for("update-module")[0]
    assert (call.transport, call.module_data, call.status) == (transport, data, 200)
    module = sandbox.state.module(SELF_PACED_COURSE, SP_MODULE_1)
    assert (module.name, module.duration, module.lock_type) == ("Phishing 2.0", 45, 0)


@pytest.mark.parametrize(
    "module_data",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"duration": 10}),
        json.dumps({"name": "  "}),
        json.dumps({"name": "M", "lockType": 3}),
        json.dumps({"name": "M", "lockType": "two"}),
        json.dumps({"name": "M", "lockType": True}),
        json.dumps({"name": "M", "lockType": 1}),
        json.dumps({"name": "M", "lockType": 1, "lockUntil": "2022-12-31"}),
        json.dumps({"name": "M", "lockType": 1, "lockUntil": "31-02-2022"}),
        json.dumps({"name": "M", "duration": 0}),
        json.dumps({"name": "M", "duration": -5}),
        json.dumps({"name": "M", "duration": "ten"}),
        None,
    ],
)
def test_update_module_validation(sandbox: SandboxServer, module_data: str | None) -> None:
    params = {"moduleData": module_data} if module_data is not None else {}
    with client(sandbox) as c:
        r = c.patch(f"{BL}/modules/{BL_KICKOFF}", params=params, headers=zh(zoho_token(sandbox)))
    assert r.status_code == 400 and r.json()["message"] == "Invalid parameter value/input parameter missing"
    assert sandbox.state.module(BLENDED_COURSE, BL_KICKOFF).name == "Kick-off"


def test_read_only_token_cannot_patch(sandbox: SandboxServer) -> None:
    token = zoho_token(sandbox, "sandbox-zoho-readonly")
    data = json.dumps({"name": "Nope"})
    with client(sandbox) as c:
        assert c.get(f"{SP}/modules/{SP_MODULE_1}", headers=zh(token)).status_code == 200
        r = c.patch(f"{SP}/modules/{SP_MODULE_1}", params={"moduleData": data}, headers=zh(token))
    assert (r.status_code, r.json()) == (
        403,
        {"code": 403, "message": "Sorry! You are not authorized to do this operation"},
    )
    assert sandbox.state.module(SELF_PACED_COURSE, SP_MODULE_1).name == "Phishing Basics"


# ---- rate limit, faults, latency, call log ---------------------------------------------------------------


def test_rate_limit_locks_then_releases(sandbox: SandboxServer) -> None:
    _, clock = manual(sandbox)
    token = zoho_token(sandbox)
    url = f"{SP}/modules/{SP_MODULE_1}/learners/{SAMPLE_LEARNER}/progress"
    with client(sandbox) as c:
        h = zh(token)
        assert all(c.get(url, headers=h).status_code == 200 for _ in range(30))
        r = c.get(url, headers=h)
        assert (r.status_code, r.json()) == (422, {"code": 422, "message": "Maximum limit exceeded"})
        assert "retry-after" not in r.headers
        assert c.get(f"{SP}/modules", headers=h).status_code == 200  # other endpoints have their own budget
        clock.advance(120)  # the window has rolled, but the lock lasts 5 minutes
        assert c.get(url, headers=h).status_code == 422
        clock.advance(179)
        assert c.get(url, headers=h).status_code == 422
        clock.advance(2)
        assert c.get(url, headers=h).status_code == 200
    statuses = [call.status for call in sandbox.state.calls_for("module-progress")]
    assert statuses == [200] * 30 + [422, 422, 422, 200]


def test_rate_limit_429_retry_after_and_rolling_window(sandbox_factory: SandboxFactory) -> None:
    clock = ManualClock()
    config = SandboxConfig(rate_limit=3, rate_window=10, lock_seconds=30, lock_status=429)
    sb = sandbox_factory(config, build_state(clock=clock))
    url = f"{SP}/modules"
    with client(sb) as c:
        h = zh(zoho_token(sb))
        for _ in range(3):
            assert c.get(url, headers=h).status_code == 200
            clock.advance(4)
        assert c.get(url, headers=h).status_code == 200  # the first call left the 10 s window
        r = c.get(url, headers=h)
        assert (r.status_code, r.headers["retry-after"], r.json()["code"]) == (429, "30", 429)
        clock.advance(10)
        assert c.get(url, headers=h).headers["retry-after"] == "20"
        clock.advance(20)
        assert c.get(url, headers=h).status_code == 200


def test_rate_limit_answers_zohos_7209_body_when_asked(sandbox_factory: SandboxFactory) -> None:
    clock = ManualClock()
    sb = sandbox_factory(SandboxConfig(rate_limit=1, lock_status=200, lock_code=7209), build_state(clock=clock))
    with client(sb) as c:
        h = zh(zoho_token(sb))
        assert c.get(f"{SP}/modules", headers=h).json()["code"] == 200
        r = c.get(f"{SP}/modules", headers=h)
        assert (r.status_code, r.json()["code"]) == (200, 7209)
        assert r.json()["message"] == "API access blocked since threshold limit exceeded. Please try after some time"
    args = argparse.ArgumentParser()
    cli.add_arguments(args)
    config = cli.config_from_args(args.parse_args(["--lock-status", "400", "--lock-code", "7209"]))
    assert (config.lock_status, config.lock_code) == (400, 7209)


def test_fault_injection(sandbox: SandboxServer) -> None:
    state = sandbox.state
    url = f"{SP}/modules/{SP_MODULE_1}/learners/{SAMPLE_LEARNER}/progress"
    with client(sandbox) as c:
        h = zh(zoho_token(sandbox))
        state.inject_fault("module-progress", 500)
        r = c.get(url, headers=h)
        assert (r.status_code, r.json()) == (500, {"code": 500, "message": "Sorry! Server error occured"})
        assert c.get(url, headers=h).status_code == 200
        state.inject_fault(None, 503, count=2)
        assert ispring_token(sandbox)  # token endpoints are not hit by endpoint=None faults
        assert c.get(f"{SP}/modules", headers=h).status_code == 503
        assert c.get(RESULTS, headers={"Authorization": ispring_token(sandbox)}).status_code == 503
        assert c.get(f"{SP}/modules", headers=h).status_code == 200
        state.inject_fault("course-modules", 0, delay=0.2)  # just slow
        started = time.monotonic()
        assert c.get(f"{SP}/modules", headers=h).status_code == 200
        assert time.monotonic() - started >= 0.2
        state.inject_fault("zoho-token", 500)  # token endpoints can be targeted by name
        r = c.post("/oauth/v2/token", params={**ZOHO, "grant_type": "refresh_token", "refresh_token": "x"})
        assert r.status_code == 500


async def test_latency_keeps_server_concurrent(sandbox: SandboxServer) -> None:
    token = zoho_token(sandbox)
    sandbox.state.latency = 0.3
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as c:
        started = time.monotonic()
        responses = await asyncio.gather(*(c.get(f"{SP}/modules", headers=zh(token)) for _ in range(6)))
        elapsed = time.monotonic() - started
    assert all(r.status_code == 200 for r in responses)
    assert 0.3 <= elapsed < 1.2


def test_call_log(sandbox: SandboxServer) -> None:
    token = zoho_token(sandbox)
    with client(sandbox) as c:
        c.get(
            f"/api/v1/learners/{PLANS_LEARNER}/learning-plans/progress",
            params={"startIndex": 0},
            headers=zh(token),
        )
        c.get(f"/api/v1/learners/{PLANS_LEARNER}/learning-plans/progress")
        [call, refused] = sandbox.state.calls_for("learning-plans-progress")
        assert (call.method, call.account, call.status, call.query) == (
            "GET",
            ZOHO["client_id"],
            200,
            {"startIndex": ["0"]},
        )
        assert call.path == f"/api/v1/learners/{PLANS_LEARNER}/learning-plans/progress"
        assert (refused.account, refused.status) == (None, 401)
        remote = c.get("/_sandbox/calls", params={"endpoint": "learning-plans-progress"}).json()
        assert [x["status"] for x in remote] == [200, 401]
        assert c.get("/_sandbox/health").json() == {"ok": True}
        assert c.post("/_sandbox/calls/clear").status_code == 200
    assert sandbox.state.calls == []


# ---- iSpring ----------------------------------------------------------------------------------------------


def test_ispring_token(sandbox: SandboxServer) -> None:
    _state, clock = manual(sandbox)
    with client(sandbox) as c:
        r = c.post("/ispring/api/v3/token", data={**ISPRING, "grant_type": "client_credentials"})
        body = r.json()
        assert set(body) == {"access_token", "expires_in", "token_type"}
        assert (body["expires_in"], body["token_type"]) == (1800, "bearer")
        bad = c.post(
            "/ispring/api/v3/token",
            data={**ISPRING, "client_secret": "x", "grant_type": "client_credentials"},
        )
        assert bad.status_code == 401
        token = body["access_token"]
        assert c.get(RESULTS).status_code == 401
        assert c.get(RESULTS, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert c.get(RESULTS, headers={"Authorization": token}).status_code == 200
        assert c.get(RESULTS, headers={"Authorization": f"Zoho-oauthtoken {zoho_token(sandbox)}"}).status_code == 401
        clock.advance(1801)
        assert c.get(RESULTS, headers={"Authorization": token}).status_code == 401


def _xml_results(text: str) -> tuple[list[dict[str, str]], str | None]:
    root = ElementTree.fromstring(text.encode())
    assert root.tag == "response" and next(child.tag for child in root) == "results"
    results = root.find("results")
    assert results is not None
    rows = []
    for result in results:
        tags = [child.tag for child in result]
        assert set(ISPRING_REQUIRED) <= set(tags)
        assert tags == [t for t in ISPRING_ORDER if t in tags]  # the sample's element order
        rows.append({child.tag: child.text or "" for child in result})
    token = root.find("nextPageToken")
    return rows, None if token is None else token.text


def test_ispring_results_xml_and_json(sandbox: SandboxServer) -> None:
    h = {"Authorization": ispring_token(sandbox)}
    with client(sandbox) as c:
        r = c.get(RESULTS, headers=h)
        assert r.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<response>\n<results>\n<result>')
        assert "xml" in r.headers["content-type"]
        rows, token = _xml_results(r.text)
        assert token is None and "<nextPageToken>" not in r.text
        assert {row["completionStatus"] for row in rows} >= {"not_started", "in_progress", "complete"}
        assert {row["isOverdue"] for row in rows} == {"0", "1"}
        for row in rows:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", row["accessDate"])
            assert ("progress" in row) == (row["completionStatus"] != "not_started")
        body = c.get(RESULTS, headers={**h, "Accept": "application/json"}).json()
    assert set(body) == {"results"}
    assert [{k: str(v) for k, v in x.items()} for x in body["results"]] == rows
    assert all(isinstance(x["isOverdue"], int) and isinstance(x["timeSpent"], int) for x in body["results"])


def test_ispring_filters(sandbox: SandboxServer) -> None:
    state = sandbox.state
    ada = next(u for u in state.ispring_users.values() if u.learner_id == SAMPLE_LEARNER)
    blocked = next(u for u in state.ispring_users.values() if u.status == 3)
    h = {"Authorization": ispring_token(sandbox), "Accept": "application/json"}

    def fetch(params: Any) -> list[dict[str, Any]]:
        r = c.get(RESULTS, params=params, headers=h)
        assert r.status_code == 200, r.text
        return list(r.json()["results"])

    with client(sandbox) as c:
        everyone = fetch({})
        assert blocked.user_id not in {x["userId"] for x in everyone}  # active users by default
        only_blocked = fetch({"userStatuses[]": "3"})
        assert {x["userId"] for x in only_blocked} == {blocked.user_id}
        assert len(fetch([("userStatuses[]", "1"), ("userStatuses[]", "3")])) == len(everyone) + len(only_blocked)
        mine = fetch({"userIds[]": ada.user_id})
        assert mine and {x["userId"] for x in mine} == {ada.user_id}
        module = mine[0]["moduleId"]
        assert {x["moduleId"] for x in fetch({"moduleIds[]": module})} == {module}
        assert {x["courseId"] for x in fetch({"courseIds[]": mine[0]["courseId"]})} == {mine[0]["courseId"]}
        assert [x["courseItemId"] for x in fetch({"courseItemIds[]": mine[0]["courseItemId"]})]
        assert len(fetch({"enrollmentIds[]": mine[0]["enrollmentId"]})) == 1
        dept = {ada.department_id}
        in_dept = {u.user_id for u in state.ispring_users.values() if u.department_id in dept and u.status == 1}
        assert {x["userId"] for x in fetch({"departmentIds[]": ada.department_id})} == in_dept
        for key in ("completionStatuses[]", "completionStatuses", "completionStatus"):
            assert {x["completionStatus"] for x in fetch({key: "not_started"})} == {"not_started"}
        today = state.today().isoformat()
        overdue = fetch({"dueDate[endDate]": f"{today}T00:00:00Z"})
        assert overdue and all(x["isOverdue"] == 1 for x in overdue if x["completionStatus"] != "complete")
        done = fetch({"completionDate[startDate]": "2000-01-01T00:00:00Z"})
        assert done and all("completionDate" in x for x in done)
        accessed = fetch({"accessDate[startDate]": f"{today}T00:00:00+00:00"})
        assert accessed == []
        for bad in ({"completionStatuses[]": "nope"}, {"dueDate[startDate]": "yesterday"}, {"pageSize": "0"}):
            assert c.get(RESULTS, params=bad, headers=h).status_code == 400


def test_ispring_paging(sandbox: SandboxServer) -> None:
    h = {"Authorization": f"Bearer {ispring_token(sandbox)}"}
    with client(sandbox) as c:
        everything, _ = _xml_results(c.get(RESULTS, headers=h).text)
        seen: list[dict[str, str]] = []
        token: str | None = None
        pages = 0
        while True:
            params = {"pageSize": "7", **({"pageToken": token} if token else {})}
            rows, token = _xml_results(c.get(RESULTS, params=params, headers=h).text)
            seen += rows
            pages += 1
            if token is None:
                break
        assert seen == everything and pages == -(-len(everything) // 7)
        json_page = c.get(RESULTS, params={"pageSize": 7}, headers={**h, "Accept": "application/json"}).json()
        assert json_page["nextPageToken"] and len(json_page["results"]) == 7
        bogus = base64.b64encode(b"not-a-result").decode()
        for bad in ("%%%", bogus):
            assert c.get(RESULTS, params={"pageToken": bad}, headers=h).status_code == 400
    assert all(call.endpoint == "ispring-results" for call in sandbox.state.calls_for("ispring-results"))


# ---- seed and CLI ------------------------------------------------------------------------------------------


def test_seed_is_deterministic_and_scales() -> None:
    day = date(2025, 3, 10)
    a, b = build_state("demo", today=day), build_state("demo", today=day)
    assert a.progress == b.progress and a.ispring_results == b.ispring_results
    assert len(a.learners) == 8 and {SAMPLE_LEARNER, PLANS_LEARNER} <= set(a.learners)
    assert all(p.email.endswith("@example.com") for p in a.learners.values())
    big = build_state("demo", learners=40, today=day)
    assert len(big.learners) == 48
    assert len(big.module_sessions(BATCH_SPRING, BL_OFFICE_HOURS)) > 25
    course = big.course(SELF_PACED_COURSE)
    module_1 = big.module(SELF_PACED_COURSE, SP_MODULE_1)
    finished = [lid for lid in big.learners if big.module_complete(lid, module_1, None)]
    assert 0 < len(finished) < len(big.learners)
    module_2 = big.module(SELF_PACED_COURSE, SP_MODULE_2)
    assert not big.locked_for(finished[0], course, module_2, None)
    assert any(r.is_overdue(big.now_dt()) for r in big.ispring_results)
    assert {u.status for u in big.ispring_users.values()} == {1, 3}
    # the named people are unchanged by adding generated learners
    assert [big.progress.get(k) for k in a.progress] == list(a.progress.values())


def test_cli_arguments_and_banner() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--port", "9100", "--learners", "5", "--lock-status", "429", "--clock-speed", "60"])
    config = cli.config_from_args(args)
    assert (config.port, config.learners, config.lock_status, config.clock_speed) == (9100, 5, 429, 60.0)
    assert (config.rate_limit, config.rate_window, config.lock_seconds, config.host) == (
        30,
        60.0,
        300.0,
        "127.0.0.1",
    )
    text = cli.banner(config)
    for line in (
        "ZOHO_PEOPLE_URL=http://127.0.0.1:9100",
        "ZOHO_ACCOUNTS_URL=http://127.0.0.1:9100",
        "ISPRING_API_URL=http://127.0.0.1:9100/ispring",
        "sandbox-zoho-refresh",
        "sandbox-ispring-secret",
    ):
        assert line in text


# --- the admin API (issue 11, item 15) -------------------------------------------------------------------------


def test_admin_api_completes_moves_adds_and_refuses_plainly(sandbox: SandboxServer) -> None:
    from bot.devkit.sandbox import seed as demo

    with client(sandbox) as c:
        done = c.post("/_sandbox/complete", json={"learner": "Ada Lovelace", "item": "Pre-reading"})
        assert done.status_code == 200 and done.json()["lms"] == "zoho"
        assert sandbox.state.progress[(demo.SAMPLE_LEARNER, int(done.json()["item"]))].completed
        missing = c.post("/_sandbox/complete", json={"learner": "ada", "item": "no such thing"})
        assert missing.status_code == 404 and missing.json() == {
            "ok": False,
            "error": "no item 'no such thing' for learner 'ada'",
        }
        assert c.post("/_sandbox/complete", content=b"{not json").status_code == 400
        assert c.post("/_sandbox/complete", json={"learner": "ada"}).status_code == 400
        moved = c.post("/_sandbox/sessions/100004000000050032/move", json={"day": "2030-05-06", "start": "08:00"})
        assert moved.json() == {
            "ok": True,
            "session": "100004000000050032",
            "day": "2030-05-06",
            "start": "08:00:00",
            "end": "09:30:00",
        }
        assert c.post("/_sandbox/sessions/1/move", json={"day": "2030-05-06", "start": "08:00"}).status_code == 404
        added = c.post("/_sandbox/learners", json={"name": "New Person", "email": "new@example.com"})
        assert added.status_code == 200 and int(added.json()["learner_id"]) in sandbox.state.learners
        again = c.post("/_sandbox/learners", json={"name": "New Person", "email": "NEW@example.com"})
        assert again.status_code == 409


def test_admin_api_adds_ispring_learners_to_a_department(sandbox: SandboxServer) -> None:
    state = sandbox.state
    [engineering] = [d.department_id for d in state.ispring_departments.values() if d.name == "Engineering"]
    modules = {r.module_id for r in state.ispring_results}
    with client(sandbox) as c:
        added = c.post("/_sandbox/ispring/learners", json={"count": 3, "department": "engineering"})
        assert added.status_code == 200 and added.json()["department"] == "Engineering"
        ids = [u["id"] for u in added.json()["learners"]]
        assert len(set(ids)) == 3 and all(state.ispring_users[i].department_id == engineering for i in ids)
        for learner in ids:
            assert {r.module_id for r in state.ispring_results if r.user_id == learner} == modules
        # iSpring's own API lists them in the department, with their results
        h = {"Authorization": ispring_token(sandbox), "Accept": "application/json"}
        listed = c.get(RESULTS, params={"departmentIds[]": engineering}, headers=h)
        assert listed.status_code == 200 and set(ids) <= {r["userId"] for r in listed.json()["results"]}
        unknown = c.post("/_sandbox/ispring/learners", json={"count": 2, "department": "Marketing"})
        assert unknown.status_code == 404 and "there are: Engineering, Sales" in unknown.json()["error"]
        assert c.post("/_sandbox/ispring/learners", json={"count": 0, "department": "Sales"}).status_code == 400


def test_ispring_completion_sends_signed_webhooks(sandbox: SandboxServer) -> None:
    import hashlib
    import json as jsonlib

    from bot.devkit.slackstub import ThreadedServer

    received: list[tuple[bytes, str]] = []

    async def receiver(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        received.append((body, headers.get(b"x-hub-signature", b"").decode()))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    server = ThreadedServer(receiver, name="webhook-receiver")
    server.start()
    try:
        with client(sandbox) as c:
            hook = c.post("/_sandbox/ispring/webhooks", json={"url": server.base_url + "/hook", "secret": "s3"})
            assert hook.json() == {"ok": True, "webhooks": [server.base_url + "/hook"]}
            done = c.post("/_sandbox/complete", json={"learner": "Alan Turing", "item": "Anti-Bribery"}).json()
    finally:
        server.stop()
    assert done["lms"] == "ispring" and [d["status"] for d in done["webhooks"]] == [200, 200, 200]
    kinds = [jsonlib.loads(body)["type"] for body, _ in received]
    assert kinds == ["COURSE_ITEM_COMPLETED_SUCCESSFULLY", "COURSE_COMPLETED_SUCCESSFULLY", "COURSE_STATUS_CHANGED"]
    for body, signature in received:
        assert signature == hashlib.sha256(body + b"s3").hexdigest()  # iSpring's rule: sha256(body + secret)
        assert jsonlib.loads(body)["payloads"][0]["learnerId"] == done["learner"]
    [result] = [
        r for r in sandbox.state.ispring_results if r.user_id == done["learner"] and r.module_title == "Anti-Bribery"
    ]
    assert result.completion_status == "complete"
