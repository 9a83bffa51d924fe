"""The production processes (`serve`, `socket`, `scheduler`, `worker`) load no development tool (bot.devkit).

Each command runs in a fresh interpreter through `bot.cli.main`, as the Procfile starts it, up to the call that
would block (uvicorn, the Socket Mode connection, the scheduler's or worker's loop); that call is replaced by one
that builds what the loop would build first. Then the probe lists the bot.devkit modules in sys.modules. The
import-linter contract "devkit is imported by nothing in production" (pyproject.toml) checks the same statically.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage import migrate
from storage.crypto import Keyring

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import asyncio, json, sys

command, preload = sys.argv[1], sys.argv[2:]
for module in preload:  # the control case: a module the path would import if someone added the import
    __import__(module)


def build_engine(settings, config):  # what ReminderScheduler.run and ReminderWorker.run build before looping
    from bot.container import build_services
    from bot.reminders_root import build_engine

    services = build_services(settings)
    build_engine(services, config)
    return services


if command == "serve":
    import uvicorn

    uvicorn.run = lambda app, **kwargs: None
elif command == "socket":
    from slack_bolt.adapter.socket_mode.websockets import AsyncSocketModeHandler

    async def start_async(self):
        return None

    AsyncSocketModeHandler.start_async = start_async
elif command == "scheduler":
    from bot.scheduler import ReminderScheduler

    async def run(self, stop):
        await build_engine(self.settings, self.config).aclose()
        return 0

    ReminderScheduler.run = run
elif command == "worker":
    import bot.worker
    from bot.worker import ReminderWorker

    async def run(self, stop):
        await build_engine(self.settings, self.config).aclose()
        return 0

    ReminderWorker.run = run
    bot.worker.check_executor = lambda settings, config: None  # procrastinate wants PostgreSQL; SQLite here

from bot.cli import main

code = main([command])
loaded = sorted(m for m in sys.modules if m == "bot.devkit" or m.startswith("bot.devkit."))
print("PROBE " + json.dumps({"code": code, "devkit": loaded, "modules": sorted(sys.modules)}))
"""


def _probe(tmp_path: Path, command: str, *preload: str) -> dict[str, object]:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    closed = "http://127.0.0.1:9"  # nothing listens there: the probe must not need Slack or an LMS
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ZOHO_", "ISPRING_", "LMSBOT_"))},
        "DATABASE_URL": url,
        "LMSBOT_ENCRYPTION_KEYS": Keyring.generate_key(),
        "SLACK_SIGNING_SECRET": "isolation-test-signing-secret",
        "SLACK_BOT_TOKEN": "xoxb-0000-isolation-test",
        "SLACK_APP_TOKEN": "xapp-0000-isolation-test",
        "SLACK_API_URL": closed + "/api/",
        "ZOHO_PEOPLE_URL": closed,
        "ZOHO_ACCOUNTS_URL": closed,
        "ISPRING_API_URL": closed + "/ispring",
        "REMINDER_EXECUTOR": "procrastinate" if command == "worker" else "apscheduler",
        "RATE_LIMIT_BACKEND": "memory",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, command, *preload],
        env=env,
        cwd=tmp_path,  # no .env of the developer's
        capture_output=True,
        text=True,
        timeout=90,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE ")]
    assert proc.returncode == 0 and lines, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, object] = json.loads(lines[-1].removeprefix("PROBE "))
    return result


# A module each command's path must have loaded: the probe ran the real thing, not a shortcut.
RUNS = {"serve": "bot.app", "socket": "bot.app", "scheduler": "bot.scheduler", "worker": "bot.worker"}


@pytest.mark.parametrize("command", sorted(RUNS))
def test_production_commands_load_no_devkit_module(tmp_path: Path, command: str) -> None:
    result = _probe(tmp_path, command)
    assert result["code"] == 0  # the command got as far as its loop
    assert RUNS[command] in result["modules"]  # type: ignore[operator]
    assert result["devkit"] == []


def test_the_probe_sees_a_devkit_import(tmp_path: Path) -> None:
    """Control: the same probe, with one dev tool imported on the way, reports it."""
    result = _probe(tmp_path, "scheduler", "bot.devkit.clock")
    assert result["devkit"] == ["bot.devkit", "bot.devkit.clock"]
