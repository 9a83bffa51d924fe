"""`lmsbot serve` as the Procfile runs it: a separate process, real uvicorn, signed requests in."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.devstack import seed_demo
from bot.sandbox.server import SandboxServer
from bot.slackstub.driver import SlackDriver
from bot.slackstub.server import SlackStubServer
from storage import migrate
from storage.crypto import Keyring
from tests.slack.conftest import text_of, wait_for
from tests.support.lms import sandbox_env
from tests.support.processes import free_port, wait_until_serving

SECRET = "process-test-signing-secret"


@pytest.fixture
def served(sandbox: SandboxServer, tmp_path: Path) -> Iterator[tuple[str, SlackStubServer]]:
    with SlackStubServer() as slack:
        bot_env = {
            **sandbox_env(sandbox),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
            "LMSBOT_ENCRYPTION_KEYS": Keyring.generate_key(),
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_BOT_TOKEN": slack.stub.workspace.bot_token,
            "SLACK_API_URL": slack.url,
        }
        env = {**os.environ, **bot_env}
        migrate.upgrade(env["DATABASE_URL"])
        settings = Settings(_env_file=None, **{k.lower(): v for k, v in bot_env.items()})  # type: ignore[call-arg]
        asyncio.run(seed_demo(settings, sandbox, slack.stub))
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(proc, url + "/healthz")
            yield url, slack
        finally:
            proc.terminate()
            proc.wait(timeout=10)


async def test_serve_answers_signed_slack_requests(served: tuple[str, SlackStubServer]) -> None:
    url, slack = served
    assert httpx.get(url + "/healthz").json() == {"ok": True, "status": "ok", "database": "ok"}
    driver = SlackDriver(url + "/slack/events", SECRET, slack.stub)
    response = await driver.command("U0ADA", "progress kickoff")
    assert response.status_code == 200
    reply = await wait_for(lambda: slack.stub.ephemerals("U0ADA"), timeout=20)
    assert "Kick-off" in text_of(reply[-1])
    forged = await driver.signed_post(
        b"command=%2Flms&text=help", "application/x-www-form-urlencoded", signature="v0=00"
    )
    assert forged.status_code == 401


def test_serve_without_signing_secret_explains(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LMSBOT_"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "LMSBOT_ENCRYPTION_KEYS": Keyring.generate_key()})
    migrate.upgrade(env["DATABASE_URL"])
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: SLACK_SIGNING_SECRET is not set")


def test_socket_mode_without_app_token_explains(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LMSBOT_"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "LMSBOT_ENCRYPTION_KEYS": Keyring.generate_key(),
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_BOT_TOKEN": "xoxb-test",
        }
    )
    migrate.upgrade(env["DATABASE_URL"])
    done = subprocess.run(
        [sys.executable, "-m", "bot", "socket"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == "error: SLACK_APP_TOKEN (xapp-…) is needed for Socket Mode"
