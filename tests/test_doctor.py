"""`lmsbot doctor` against the LMS sandbox and the Slack stand-in: one line per check, exit 1 when one fails, and no
secret in what it prints. Then with a broken setting, an LMS that does not answer, a wrong key and more."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.cli import main
from bot.config import Settings
from bot.devkit.devstack import DevStack
from storage.crypto import Keyring
from storage.db import Database
from storage.repositories.connections import ConnectionRepository


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    with DevStack() as running:
        yield running


def env_of(settings: Settings) -> dict[str, str]:
    """The environment that gives these settings (what an operator would export)."""
    env: dict[str, str] = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        env[name.upper()] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return env


def secrets_of(settings: Settings) -> list[str]:
    values = [getattr(settings, name) for name in type(settings).model_fields]
    return [v.get_secret_value() for v in values if isinstance(v, SecretStr)]


def doctor(
    settings: Settings | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    **changes: str,
) -> tuple[int, list[str]]:
    assert settings is not None
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    env = {**env_of(settings), **changes}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["doctor"])
    out = capsys.readouterr()
    text = out.out + out.err
    for secret in secrets_of(settings) + [v for k, v in changes.items() if "KEY" in k or "TOKEN" in k]:
        assert secret not in text
    return code, out.out.splitlines()


def line(lines: list[str], name: str) -> str:
    return next(entry for entry in lines if entry.split(":")[0].split("  ", 1)[-1].strip() == name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_healthy_setup_passes_every_check(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, lines = doctor(stack.settings, monkeypatch, capsys, tmp_path)
    assert code == 0, "\n".join(lines)
    assert lines[-1].startswith("all ") and lines[-1].endswith(" checks passed")
    assert all(entry.startswith(("ok", "warn")) for entry in lines[:-1]), "\n".join(lines)
    assert "workspace T0DEMO, bot @lmsbot" in line(lines, "Slack")
    assert line(lines, "migrations").startswith("ok")
    assert line(lines, "stored credentials").startswith("ok")
    assert "answered" in line(lines, "Zoho (environment)")
    assert "answered" in line(lines, "iSpring (environment)")
    # Slack and each LMS were really asked
    assert stack.slack.calls_for("auth.test")
    assert stack.sandbox.state.calls_for("my-courses")


def test_a_malformed_setting_is_named(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, lines = doctor(
        stack.settings, monkeypatch, capsys, tmp_path, LMS_RATE_LIMIT="lots", REMINDER_SWEEP_MINUTES="-1"
    )
    assert code == 1
    assert line(lines, "setting LMS_RATE_LIMIT").startswith("FAIL")
    assert line(lines, "reminder settings").startswith("FAIL") and "SWEEP_MINUTES" in line(lines, "reminder settings")
    assert lines[-1].endswith("checks failed")


def test_an_lms_that_does_not_answer_fails_its_check_only(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    code, lines = doctor(
        stack.settings,
        monkeypatch,
        capsys,
        tmp_path,
        ZOHO_PEOPLE_URL=dead,
        LMS_CALL_DEADLINE_SECONDS="3",
        LMS_MAX_RETRIES="0",
    )
    assert code == 1
    zoho = line(lines, "Zoho (environment)")
    assert zoho.startswith("FAIL") and dead in zoho
    assert line(lines, "iSpring (environment)").startswith("ok")
    assert line(lines, "Slack").startswith("ok")
    assert lines[-1] == f"1 of {len(lines) - 1} checks failed"


def test_a_wrong_slack_token_and_a_missing_signing_secret(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    assert stack.settings is not None
    settings = stack.settings.model_copy(update={"slack_signing_secret": None})
    code, lines = doctor(settings, monkeypatch, capsys, tmp_path, SLACK_BOT_TOKEN="xoxb-not-the-one")
    assert code == 1
    assert "invalid_auth" in line(lines, "Slack") and line(lines, "Slack").startswith("FAIL")
    assert "SLACK_SIGNING_SECRET" in line(lines, "Slack settings")


def test_a_key_that_cannot_decrypt_the_stored_credentials(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert stack.settings is not None and stack.settings.lmsbot_encryption_keys is not None
    url = stack.settings.database_url
    keyring = Keyring.from_keys(stack.settings.lmsbot_encryption_keys.get_secret_value())
    cfg = stack.sandbox.config

    async def connect() -> None:
        db = Database(url)
        try:
            await ConnectionRepository(db, keyring).save_ispring(
                "T0DEMO",
                api_url=stack.sandbox.url + "/ispring",
                client_id=cfg.ispring_client_id,
                client_secret=cfg.ispring_client_secret,
                connected_by="U0GRACE",
            )
        finally:
            await db.dispose()

    asyncio.run(connect())
    code, lines = doctor(stack.settings, monkeypatch, capsys, tmp_path)
    assert code == 0, "\n".join(lines)
    assert "answered" in line(lines, "iSpring of T0DEMO")  # the stored connection is checked too

    code, lines = doctor(stack.settings, monkeypatch, capsys, tmp_path, LMSBOT_ENCRYPTION_KEYS=Keyring.generate_key())
    assert code == 1
    stored = line(lines, "stored credentials")
    assert stored.startswith("FAIL") and "cannot decrypt" in stored


def test_a_database_that_is_not_migrated(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, lines = doctor(
        stack.settings, monkeypatch, capsys, tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}"
    )
    assert code == 1
    assert line(lines, "database").startswith("ok")
    assert "run `lmsbot db upgrade`" in line(lines, "migrations")


def test_multi_workspace_checks_each_installed_workspace(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tests.slack.test_lifecycle import _install

    with DevStack(seed_demo=False, multi_workspace=True) as multi:
        asyncio.run(_install(multi))
        code, lines = doctor(multi.settings, monkeypatch, capsys, tmp_path)
        assert code == 0, "\n".join(lines)
        assert "answers api.test" in line(lines, "Slack")
        assert "workspace T0DEMO, bot @lmsbot" in line(lines, "Slack workspace T0DEMO")

        assert multi.driver is not None
        asyncio.run(multi.driver.app_uninstalled())
        assert asyncio.run(multi.work.wait_idle())
        code, lines = doctor(multi.settings, monkeypatch, capsys, tmp_path)
        assert line(lines, "Slack workspaces").startswith("warn")
        assert not any(entry.startswith("ok    Slack workspace T0DEMO") for entry in lines)
