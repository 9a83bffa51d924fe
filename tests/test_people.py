"""iSpring departments (tolerant parsing, supervisors, inheritance) and the managers' department mapping."""

from __future__ import annotations

import httpx

from bot.config import Settings
from bot.lms.ispring import parse_departments
from bot.lms.ispring_models import Department
from bot.services.people import team_departments

DOC_XML = b"""<?xml version="1.0"?>
<response>
    <department>
        <departmentId>b012a71c-5b6f-11e9-b659-0a580af40556</departmentId>
        <name>Sales Department</name>
        <parentDepartmentId>b00ba37c-5b6f-11e9-bb45-0a580af40556</parentDepartmentId>
        <code>5</code>
        <subordination><subordinationType>manual</subordinationType><supervisorId>boss-1</supervisorId></subordination>
        <coSubordination><item><subordinationType>manual</subordinationType>
            <supervisorId>functional-2</supervisorId></item></coSubordination>
    </department>
    <department>
        <departmentId>child</departmentId><name>Inside sales</name>
        <parentDepartmentId>b012a71c-5b6f-11e9-b659-0a580af40556</parentDepartmentId><code>6</code>
    </department>
</response>"""


def _response(body: bytes, content_type: str) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": content_type})


def test_departments_parse_from_the_documented_xml_whatever_the_subordination_shape() -> None:
    records, token = parse_departments(_response(DOC_XML, "application/xml"))
    first, second = (Department.model_validate(r) for r in records)
    assert token is None
    assert first.department_id == "b012a71c-5b6f-11e9-b659-0a580af40556" and first.name == "Sales Department"
    assert first.supervisor_ids == ("boss-1", "functional-2") and first.subordination_type == "manual"
    assert first.parent_department_id == "b00ba37c-5b6f-11e9-bb45-0a580af40556"
    assert second.supervisor_ids == () and second.parent_department_id == first.department_id


def test_departments_parse_from_paged_xml_and_json() -> None:
    paged = b"<response><departments><department><departmentId>d1</departmentId></department></departments>"
    records, token = parse_departments(_response(paged + b"<nextPageToken>abc</nextPageToken></response>", "text/xml"))
    assert [r["departmentId"] for r in records] == ["d1"] and token == "abc"
    body = (
        b'{"departments": [{"departmentId": "d2", "name": "Ops",'
        b' "subordination": [{"subordinationType": "manual", "supervisorId": "u9"}]}]}'
    )
    records, token = parse_departments(_response(body, "application/json"))
    (dept,) = (Department.model_validate(r) for r in records)
    assert dept.supervisor_ids == ("u9",) and dept.name == "Ops" and token is None


def test_a_supervisor_manages_sub_departments_that_inherit() -> None:
    deps = [
        Department.model_validate({"departmentId": "top", "supervisorIds": ("boss",), "subordinationType": "manual"}),
        Department.model_validate({"departmentId": "a", "parentDepartmentId": "top", "subordinationType": "inherit"}),
        Department.model_validate({"departmentId": "a1", "parentDepartmentId": "a", "subordinationType": "inherit"}),
        Department.model_validate(
            {"departmentId": "b", "parentDepartmentId": "top", "subordinationType": "manual", "supervisorIds": ("x",)}
        ),
        Department.model_validate({"departmentId": "other", "subordinationType": "no_supervisor"}),
    ]
    assert team_departments(deps, "boss") == {"top", "a", "a1"}
    assert team_departments(deps, "x") == {"b"}
    assert team_departments(deps, "nobody") == set()


def test_manager_departments_setting() -> None:
    settings = Settings(_env_file=None, lmsbot_manager_departments=" U123=dep1, dep2 ;U456=dep3;;bad;U123=dep4")  # type: ignore[call-arg]
    assert settings.manager_departments() == {"U123": frozenset({"dep1", "dep2", "dep4"}), "U456": frozenset({"dep3"})}
