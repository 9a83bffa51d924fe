"""Refusals are worded once, in handlers/views/problems.py: services raise a Problem with its data, never a sentence."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.errors import Problem, UserError
from bot.services.links import LinkError
from bot.services.tracking import TrackError
from handlers.views.problems import problem_text, worded

ROOT = Path(__file__).resolve().parents[1]
# The user errors services raise; each takes a Problem (or, re-raised, another error's Problem).
SERVICE_ERRORS = {"ConnectError", "LinkError", "NeedsSetup", "NoTeam", "PreferenceError", "TrackError"}
# Where they are raised from.
RAISERS = [*sorted((ROOT / "bot" / "services").glob("*.py")), ROOT / "bot" / "reminders" / "parse.py"]


def test_every_problem_has_its_words() -> None:
    assert [p for p in Problem if not worded(p)] == []


def test_a_problem_is_worded_from_its_details_and_other_errors_keep_their_own_words() -> None:
    taken = LinkError(Problem.LEARNER_TAKEN, provider="ispring", holder="U0ADA")
    assert problem_text(taken) == "That iSpring learner is already linked to <@U0ADA>; an admin can sort it out."
    hidden = LinkError(Problem.LEARNER_TAKEN, provider="zoho", holder="")
    assert "already linked to someone else;" in problem_text(hidden)
    assert problem_text(UserError("Say it like this.")) == "Say it like this."
    twice = TrackError(Problem.MODULE_TRACKED_TWICE, candidates="3,7")
    assert problem_text(twice) == "That module id is tracked more than once (#3, #7): use its alias or #id."
    assert twice.field == "module_id" and "module_tracked_twice" in str(twice)  # logs name the problem


def _worded_raises(path: Path) -> list[str]:
    """`raise SomeServiceError("a sentence")` / `raise SomeServiceError(f"…")` in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name in SERVICE_ERRORS and isinstance(node.args[0], ast.Constant | ast.JoinedStr):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_services_raise_problems_not_sentences() -> None:
    assert [hit for path in RAISERS for hit in _worded_raises(path)] == []
