"""The tolerant parser for Zoho's undocumented bulk progress answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.devkit.sandbox import seed
from bot.lms.zoho import Endpoint
from bot.lms.zoho_bulk import (
    BulkParseError,
    loads_exact,
    parse_course_progress,
    parse_learner_course_progress,
)
from tests.support.lms import sandbox_clients

BIG = 219225000000645203  # above 2**53: a float would lose digits


def test_a_list_of_learners_with_modules_and_paging() -> None:
    payload = loads_exact(
        json.dumps(
            {
                "code": 200,
                "hasMoreRecords": True,
                "learnersProgress": [
                    {
                        "learnerId": "11",
                        "progressPercentage": 40,
                        "isCompleted": False,
                        "lastAccessedTime": "1774857600000",
                        "modules": [
                            {"moduleId": "7", "status": "Completed", "progressPercentage": 100},
                            {"moduleId": "8", "status": "In Progress"},
                            {"moduleId": "9", "status": "Something new"},
                        ],
                    }
                ],
            }
        )
    )
    [learner], more = parse_course_progress(payload)
    assert more is True
    assert (learner.learner_id, learner.complete, learner.percentage) == ("11", False, 40.0)
    assert learner.last_updated is not None and learner.last_updated.year == 2026
    assert [learner.module_complete(m) for m in ("7", "8", "9", "10")] == [True, False, None, None]


def test_wrapped_keyed_by_big_numeric_ids_with_strings_for_numbers() -> None:
    module = BIG + 1
    text = (
        f'{{"response": {{"result": {{"data": {{"{BIG}": {{"completed": "true", "percentage": "100.0",'
        f' "moduleProgress": {{"{module}": {{"isCompleted": 1, "pendingMandatoryEntities": []}}}}}}}}}},'
        ' "status": 0}}'
    )
    [learner], more = parse_course_progress(loads_exact(text))
    assert more is None
    assert learner.learner_id == str(BIG) and learner.complete is True and learner.percentage == 100.0
    assert learner.module(str(BIG + 1)) is not None and learner.module_complete(str(BIG + 1)) is True
    assert learner.modules[str(BIG + 1)].pending == ()


def test_numeric_ids_inside_records_keep_every_digit() -> None:
    text = f'{{"data": [{{"learner_id": {BIG}, "completed": false, "modules": [{{"id": {BIG}, "completed": "0"}}]}}]}}'
    [learner], _ = parse_course_progress(loads_exact(text))
    assert learner.learner_id == str(BIG) and set(learner.modules) == {str(BIG)}


def test_an_empty_list_is_nobody_enrolled() -> None:
    assert parse_course_progress({"code": 200, "learnersProgress": [], "hasMoreRecords": False}) == ([], False)


@pytest.mark.parametrize(
    "payload",
    [
        {"code": 200, "message": "success"},
        {"learnersProgress": [{"learnerName": "no id", "isCompleted": True}]},
        {"learnersProgress": [{"learnerId": "1", "learnerName": "no progress at all"}]},
        {"response": {"result": "maintenance"}},
        ["not", "records"],
    ],
)
def test_answers_that_cannot_be_read_raise_a_typed_error(payload: object) -> None:
    with pytest.raises(BulkParseError):
        parse_course_progress(payload)


def test_not_json_raises_the_typed_error() -> None:
    with pytest.raises(BulkParseError):
        loads_exact(b"<html>Service temporarily unavailable</html>")


def test_single_learner_answer_with_entities_gives_pending_ids() -> None:
    payload = {
        "code": 200,
        "learnerId": "5",
        "isCompleted": False,
        "modules": [
            {
                "moduleId": "7",
                "status": "In Progress",
                "entities": [
                    {"entityId": "70", "isMandatory": True, "status": "Completed"},
                    {"entityId": "71", "isMandatory": True, "status": "Pending"},
                    {"entityId": "72", "isMandatory": False, "status": "Pending"},
                ],
            }
        ],
    }
    learner = parse_learner_course_progress(payload, "5")
    assert learner.modules["7"].pending == ("71",)
    keyed = parse_learner_course_progress({"response": {"result": {"5": {"completed": "false"}}}}, "5")
    assert keyed.learner_id == "5" and keyed.complete is False
    with pytest.raises(BulkParseError):
        parse_learner_course_progress({"code": 200, "message": "success"}, "5")


# --- the client against the sandbox ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["default", "alt"])
async def test_the_client_reads_every_page_of_the_all_learners_answer(sandbox_factory: Any, shape: str) -> None:
    state = seed.build_state("demo", learners=40)
    state.bulk_shape = shape  # type: ignore[assignment]
    server = sandbox_factory(state=state)
    async with sandbox_clients(server) as lms:
        answer = await lms.zoho.course_progress(str(seed.SELF_PACED_COURSE))
    enrolled = state.course(seed.SELF_PACED_COURSE).learner_ids
    assert answer.whole and set(answer.learners) == {str(lid) for lid in enrolled} and len(enrolled) > 25
    pages = [c for c in server.state.calls_for(Endpoint.COURSE_PROGRESS) if c.status == 200]
    assert [c.query.get("startIndex") for c in pages] == [["0"], ["25"]]
    ada = answer.learners[str(seed.SAMPLE_LEARNER)]
    assert ada.module_complete(str(seed.SP_MODULE_1)) is True  # Ada finished Phishing Basics (seed levels)
    edsger = answer.learners[str(seed.NAMED[4][0])]  # Edsger has started nothing
    assert edsger.module_complete(str(seed.SP_MODULE_1)) is False and edsger.complete is False


async def test_an_unreadable_answer_is_a_typed_error_naming_the_endpoint(sandbox_factory: Any) -> None:
    state = seed.build_state("demo")
    state.bulk_shape = "unparseable"
    server = sandbox_factory(state=state)
    async with sandbox_clients(server) as lms:
        with pytest.raises(BulkParseError) as caught:
            await lms.zoho.course_progress(str(seed.SELF_PACED_COURSE))
    assert caught.value.endpoint == Endpoint.COURSE_PROGRESS and caught.value.provider == "Zoho"
