"""`lmsbot workspace purge --team T`: it says what it will delete, asks (or takes --yes), deletes it all, and says
what it deleted; a second run deletes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.cli import main
from bot.devkit.devstack import DevStack
from tests.test_doctor import env_of

TEAM = "T0DEMO"


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[DevStack]:
    with DevStack() as running:
        assert running.settings is not None
        monkeypatch.chdir(tmp_path)
        for name, value in env_of(running.settings).items():
            monkeypatch.setenv(name, value)
        yield running


def count(stack: DevStack, table: str) -> int:
    assert stack.settings is not None
    engine = create_engine(stack.settings.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE team_id = :t"), {"t": TEAM}).scalar_one())
    finally:
        engine.dispose()


def answer(monkeypatch: pytest.MonkeyPatch, reply: str) -> list[str]:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return reply

    monkeypatch.setattr("builtins.input", ask)
    return asked


def test_purge_asks_first_and_keeps_everything_unless_the_team_is_typed_back(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    links = count(stack, "learner_links")
    assert links > 0 and count(stack, "tracked_modules") > 0
    asked = answer(monkeypatch, "yes")

    assert main(["workspace", "purge", "--team", TEAM]) == 1

    out = capsys.readouterr()
    assert asked == [f"Type {TEAM} to delete all of it (anything else keeps it): "]
    assert f"learner_links\t{links}" in out.out
    assert "nothing deleted" in out.err
    assert count(stack, "learner_links") == links


def test_purge_deletes_every_row_of_the_workspace_and_says_so(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    links, tracked = count(stack, "learner_links"), count(stack, "tracked_modules")
    answer(monkeypatch, TEAM)

    assert main(["workspace", "purge", "--team", TEAM]) == 0

    out = capsys.readouterr().out.splitlines()
    assert f"deleted {links} row(s) from learner_links" in out
    assert f"deleted {tracked} row(s) from tracked_modules" in out
    assert out[-1].startswith(f"workspace {TEAM} purged: ")
    assert count(stack, "learner_links") == count(stack, "tracked_modules") == count(stack, "audit_log") == 0

    asked = answer(monkeypatch, TEAM)
    assert main(["workspace", "purge", "--team", TEAM, "--yes"]) == 0
    assert capsys.readouterr().out == f"nothing is stored for workspace {TEAM} (nothing changed)\n"
    assert asked == []


def test_purge_with_yes_does_not_ask(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[Any] = answer(monkeypatch, "")
    assert main(["workspace", "purge", "--team", TEAM, "--yes"]) == 0
    assert asked == []
    assert count(stack, "learner_links") == 0
    assert "has not uninstalled lmsbot" in capsys.readouterr().err
