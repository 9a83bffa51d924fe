"""`lmsbot`'s command table: every command reaches the module that defines it, and `--help` imports none of them."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli

ROOT = Path(__file__).resolve().parent.parent
GROUPS = sorted({c.module for c in cli.COMMANDS.values() if c.module and c.module not in cli.FILLS_ONE_PARSER})


@pytest.mark.parametrize("module", GROUPS)
def test_the_table_lists_each_command_of_a_module_with_its_help(module: str) -> None:
    scratch = argparse.ArgumentParser(prog="lmsbot").add_subparsers()
    importlib.import_module(module).add_arguments(scratch)
    defined = {action.dest: action.help for action in scratch._choices_actions}
    listed = {name: command.help for name, command in cli.COMMANDS.items() if command.module == module}
    assert listed == defined
    own = getattr(importlib.import_module(module), "COMMANDS", None)  # the module's own list, where it keeps one
    assert own is None or set(own) == set(listed)


def test_every_command_parses_through_its_module() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["worker", "--processes", "3"]).processes == 3
    assert parser.parse_args(["db", "upgrade"]).db_command == "upgrade"  # a second module, same parser
    assert parser.parse_args(["lms", "courses"]).lms_command == "courses"
    assert parser.parse_args(["sandbox", "--port", "8901"]).port == 8901
    assert parser.parse_args(["serve", "--port", "3001"]).port == 3001


def test_a_command_the_table_does_not_give_its_module_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    commands = dict(cli.COMMANDS)
    del commands["unlink"]
    monkeypatch.setattr(cli, "COMMANDS", commands)
    with pytest.raises(RuntimeError, match="'unlink'"):
        cli.build_parser().parse_args(["link", "--team", "T1", "--user", "U1"])


PROBE = r"""
import contextlib, io, json, sys
from bot.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
    main(["--help"])
print(json.dumps({"help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, cwd=ROOT, check=True
    )
    result = json.loads(proc.stdout)
    listed = [line.split()[0] for line in result["help"].splitlines() if line.startswith("    ") and line[4] != " "]
    assert listed == list(cli.COMMANDS)
    ours = [m for m in result["modules"] if m.split(".")[0] in ("bot", "handlers", "storage")]
    assert ours == ["bot", "bot.cli"]
    heavy = {"pydantic", "sqlalchemy", "slack_bolt", "slack_sdk", "httpx", "aiohttp", "uvicorn", "starlette"}
    assert heavy.isdisjoint(result["modules"])
