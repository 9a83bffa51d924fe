"""`lmsbot serve` as the Procfile runs it: a separate process, real uvicorn, signed requests in."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from bot.cli import main
from bot.config import Settings
from bot.devkit.devstack import seed_demo
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.slackstub.driver import SlackDriver
from bot.devkit.slackstub.server import SlackStubServer
from bot.runtime import GC_THRESHOLDS
from storage import migrate
from storage.crypto import Keyring
from tests.slack.conftest import text_of, wait_for
from tests.support.lms import sandbox_env
from tests.support.processes import free_port, wait_until_serving

SECRET = "process-test-signing-secret"


@dataclass
class Served:
    url: str
    slack: SlackStubServer
    env: dict[str, str]
    proc: subprocess.Popen[str]

    def output(self) -> str:
        """Everything the process wrote (stdout and stderr), once it has stopped."""
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return out


@contextmanager
def serve_process(sandbox: SandboxServer, tmp_path: Path, *flags: str) -> Iterator[Served]:
    """`lmsbot [flags] serve` on a seeded demo database, the Slack stand-in and the sandbox."""
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
            [sys.executable, "-m", "bot", *flags, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(proc, url + "/healthz")
            yield Served(url, slack, env, proc)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)


@pytest.fixture
def served(sandbox: SandboxServer, tmp_path: Path) -> Iterator[tuple[str, SlackStubServer]]:
    with serve_process(sandbox, tmp_path) as running:
        yield running.url, running.slack


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


def cli_without_slack_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, env: dict[str, str]
) -> Callable[..., tuple[int, str]]:
    """`lmsbot …` run in this process (what these tests check happens before anything is served) with no SLACK_
    or LMSBOT_ variables but `env`, in `tmp_path` (no stray .env): its exit code and what it wrote to stderr."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("SLACK_", "LMSBOT_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str]:
        code = main(list(args))
        return code, capsys.readouterr().err

    return run


def test_serve_without_signing_secret_explains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "LMSBOT_ENCRYPTION_KEYS": Keyring.generate_key()}
    migrate.upgrade(env["DATABASE_URL"])
    code, stderr = cli_without_slack_settings(monkeypatch, capsys, tmp_path, env)("serve", "--port", str(free_port()))
    assert code == 2
    assert stderr.strip().splitlines()[-1].startswith("error: missing settings: SLACK_SIGNING_SECRET (")
    assert "SLACK_BOT_TOKEN" in stderr  # listed with it, not after it is fixed


def test_socket_mode_without_app_token_explains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "LMSBOT_ENCRYPTION_KEYS": Keyring.generate_key(),
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": "xoxb-test",
    }
    migrate.upgrade(env["DATABASE_URL"])
    code, stderr = cli_without_slack_settings(monkeypatch, capsys, tmp_path, env)("socket")
    assert code == 2
    assert stderr.strip().splitlines()[-1] == "error: missing setting: SLACK_APP_TOKEN (xapp-…, for Socket Mode)"


@pytest.fixture
def served_at_debug(sandbox: SandboxServer, tmp_path: Path) -> Iterator[Served]:
    with serve_process(sandbox, tmp_path, "-v") as running:
        yield running


async def test_a_connect_flow_at_debug_leaves_no_secret_in_any_log_line(
    served_at_debug: Served, sandbox: SandboxServer
) -> None:
    """`lmsbot -v serve`: Slack command, Zoho consent, callback with the grant code, token exchange, DM. Every line
    the process wrote (uvicorn's access and error logs, httpx, Bolt, ours) is searched for every secret."""
    running = served_at_debug
    if True:
        driver = SlackDriver(running.url + "/slack/events", SECRET, running.slack.stub)
        await driver.command("U0GRACE", "connect zoho")
        reply = await wait_for(lambda: running.slack.stub.ephemerals("U0GRACE"), timeout=20)
        link = next(
            e["url"] for b in reply[-1]["blocks"] if b.get("type") == "actions" for e in b["elements"] if e.get("url")
        )
        public = "http://localhost:3000"  # LMSBOT_PUBLIC_URL's default: the browser reaches the bot here
        async with httpx.AsyncClient() as browser:
            start = await browser.get(link.replace(public, running.url))
            consent = await browser.get(start.headers["location"])
            callback = consent.headers["location"]
            done = await browser.get(callback.replace(public, running.url))
        assert done.status_code == 200 and "connected" in done.text
        dm = await wait_for(lambda: running.slack.stub.dm_messages("U0GRACE"), timeout=20)
        assert "Zoho People is connected" in text_of(dm[-1])
        output = running.output()
    query = dict(parse_qsl(urlsplit(callback).query))
    state = sandbox.state
    secrets = {
        "grant code": query["code"],
        "state": query["state"],
        "Slack bot token": running.env["SLACK_BOT_TOKEN"],
        "signing secret": SECRET,
        "encryption key": running.env["LMSBOT_ENCRYPTION_KEYS"],
        "Zoho client secret": sandbox.config.zoho_client_secret,
        "Zoho refresh token": sandbox.config.zoho_refresh_token,
        "response_url": driver.last_response_url or "",
    }
    secrets |= {f"minted refresh token {i}": token for i, token in enumerate(state.minted_refresh)}
    secrets |= {f"access token {i}": token for i, token in enumerate(state.tokens)}
    leaks = [(name, line) for line in output.splitlines() for name, value in secrets.items() if value and value in line]
    assert not leaks, "\n".join(f"{name} in: {line[:300]}" for name, line in leaks)
    assert "GET /connect/zoho/callback?code=[redacted]" in output  # the access log is there, scrubbed


def test_the_web_process_freezes_its_start_up_objects_and_collects_less_often(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`serve` settles the collector once the app is built, before uvicorn takes the first request."""
    import bot.runtime as runtime

    seen: dict[str, object] = {}

    def fake_run(web: object, **_: object) -> None:  # what the collector is set to when uvicorn would start
        seen.update(web=web, threshold=gc.get_threshold(), frozen=gc.get_freeze_count())

    monkeypatch.setattr(runtime, "build_services", lambda settings: object())
    monkeypatch.setattr(runtime, "build_app", lambda services: object())
    monkeypatch.setattr(runtime, "build_web", lambda app, services: "the web app")
    monkeypatch.setattr(runtime.uvicorn, "run", fake_run)
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)  # CPython's defaults, whatever ran before in this worker
    try:
        runtime.serve(Settings(database_url=f"sqlite:///{tmp_path / 'gc.db'}"), host="127.0.0.1", port=0)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert seen["web"] == "the web app"
    assert seen["threshold"] == GC_THRESHOLDS
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000  # imports and the like: out of every collection
