"""The linking and iSpring-progress views: valid Block Kit within Slack's limits, whatever the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.lms.ispring_models import ModuleResult
from bot.services.links import LinkAttempt, LinkError
from bot.services.types import IspringProgress, Provider
from handlers import views
from handlers.views.linking import link_reply, link_request_dm, unlink_confirm
from tests.test_views import check_message, everything

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _result(i: int, status: str, *, due: datetime | None = None, overdue: bool = False) -> ModuleResult:
    return ModuleResult.model_validate(
        {
            "userId": "u-1",
            "moduleId": f"m-{i}",
            "moduleTitle": f"Module <{i}> & co",
            "completionStatus": status,
            "progress": 40.0,
            "dueDate": due.isoformat() if due else None,
            "isOverdue": overdue,
        }
    )


def test_an_ispring_only_progress_with_many_modules_fits_and_says_how_many_are_left_out() -> None:
    results = [_result(i, "in_progress", due=NOW + timedelta(days=i)) for i in range(80)]
    results += [_result(100, "not_started", due=NOW - timedelta(days=2)), _result(101, "passed")]
    message = check_message(views.progress_message([], ispring=IspringProgress("u-1", results=results, now=NOW)))
    text = everything(message)
    assert message["text"] == "LMS progress: 81 iSpring modules to do · 1 overdue · 1 done"
    assert "*Module &lt;100&gt; &amp; co* · not started · 40% · *overdue*, was due <!date^" in text
    assert "…and 66 more iSpring modules" in text
    assert text.index("Module &lt;100&gt;") < text.index("Module &lt;0&gt;")  # overdue first


def test_an_ispring_failure_is_said_plainly() -> None:
    report = IspringProgress("u-1", error="iSpring is not answering right now")
    text = everything(check_message(views.progress_message([], ispring=report)))
    assert "iSpring could not be read" in text and "iSpring is not answering right now" in text


def test_link_reply_unlink_question_and_admin_dm_are_valid_block_kit() -> None:
    reply = check_message(link_reply([LinkAttempt(Provider.ZOHO, problem=LinkError("no e-mail lookup"))]))
    assert "Ask an admin to link me" in everything(reply)
    check_message(link_request_dm("U1", "jane", "jane@example.com", [Provider.ZOHO, Provider.ISPRING]))
    question = check_message(
        unlink_confirm("U1", [(Provider.ZOHO, "1"), (Provider.ISPRING, "u")], own=True, scope="zoho,ispring")
    )
    assert "Unlink both" in everything(question)
