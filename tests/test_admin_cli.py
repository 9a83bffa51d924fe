"""`lmsbot db|link|unlink|links|track|untrack|connect|keys` as operators' scripts use them: idempotent, clear."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from bot.cli import main
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.slackstub.server import SlackStubServer
from storage.crypto import Keyring
from storage.db import Database
from storage.repositories.connections import ConnectionRepository
from tests.support.lms import sandbox_env

TEAM = "T0DEMO"


def await_(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def slack_stub() -> Iterator[SlackStubServer]:
    with SlackStubServer() as server:
        yield server


@pytest.fixture
def env(sandbox: SandboxServer, slack_stub: SlackStubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "lmsbot.db"
    for name, value in {
        **sandbox_env(sandbox),
        "DATABASE_URL": f"sqlite:///{db}",
        "LMSBOT_ENCRYPTION_KEYS": Keyring.generate_key(),
        "SLACK_BOT_TOKEN": slack_stub.stub.workspace.bot_token,
        "SLACK_API_URL": slack_stub.url,
        "LMSBOT_PUBLIC_URL": "http://lmsbot.test",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("ISPRING_CLIENT_ID", "ISPRING_CLIENT_SECRET", "LMSBOT_ENV"):
        monkeypatch.delenv(name, raising=False)
    assert main(["db", "upgrade"]) == 0
    return db


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def connect_ispring(capsys: pytest.CaptureFixture[str], sandbox: SandboxServer, secret: str) -> tuple[int, str, str]:
    client_id = sandbox.config.ispring_client_id
    return run(capsys, "connect", "ispring", "--team", TEAM, "--client-id", client_id, "--client-secret", secret)


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        result = [tuple(r) for r in conn.execute(text(sql)).all()]
    engine.dispose()
    return result


def test_db_upgrade_is_idempotent_and_checked(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(capsys, "db", "upgrade")[1].strip().endswith("(already up to date)")
    assert run(capsys, "db", "check") == (0, "models and migrations agree\n", "")


def test_link_twice_changes_nothing_and_conflicts_are_refused(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    learner = str(seed.SAMPLE_LEARNER)
    assert run(capsys, "link", "--team", TEAM, "--user", "U0ADA", "--learner", learner)[1].startswith("linked U0ADA")
    code, out, _ = run(capsys, "link", "--team", TEAM, "--user", "U0ADA", "--learner", learner)
    assert code == 0 and "nothing changed" in out
    code, _, err = run(capsys, "link", "--team", TEAM, "--user", "U0GRACE", "--learner", learner)
    assert code == 1 and "already linked to U0ADA;" in err  # Slack markup made readable in a terminal
    # By Slack e-mail: looked up in Slack.
    code, out, _ = run(
        capsys, "link", "--team", TEAM, "--user", "alan.turing@example.com", "--learner", "100002000000032161"
    )
    assert code == 0 and "U0ALAN" in out
    assert rows(env, "SELECT slack_user_id, learner_id, method FROM learner_links ORDER BY slack_user_id") == [
        ("U0ADA", learner, "admin"),
        ("U0ALAN", "100002000000032161", "admin"),
    ]
    code, out, _ = run(capsys, "unlink", "--team", TEAM, "--user", "U0ADA")
    assert code == 0 and "unlinked U0ADA" in out
    assert "nothing changed" in run(capsys, "unlink", "--team", TEAM, "--user", "U0ADA")[1]


def test_csv_import_applies_good_rows_and_reports_bad_ones(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "links.csv"
    csv_file.write_text(
        "slack,learner,provider\n"
        "U0ADA,100002000000032145\n"
        "grace.hopper@example.com,190801059,zoho\n"
        "nobody@example.com,100002000000032161\n"
        "U0KATHERINE,not-a-number\n"
        "U0EDSGER\n"
    )
    code, out, err = run(capsys, "link", "--team", TEAM, "--csv", str(csv_file))
    assert code == 1
    assert "2 linked, 0 already linked, 3 error(s)" in out
    assert "line 4: no Slack member has the e-mail nobody@example.com" in err
    assert "line 5:" in err and "line 6:" in err
    code, out, _ = run(capsys, "link", "--team", TEAM, "--csv", str(csv_file))
    assert "0 linked, 2 already linked" in out  # idempotent
    assert len(rows(env, "SELECT * FROM learner_links")) == 2


def _many_links_csv(path: Path, count: int, *, first: int = 0) -> None:
    lines = ["slack,learner"] + [f"U0BULK{i:06d},{700000000000000000 + first + i}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n")


def test_csv_import_interrupted_half_way_applies_nothing(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "link", "--team", TEAM, "--user", "U0BULK000005", "--learner", "100002000000032145")
    csv_file = tmp_path / "links.csv"
    _many_links_csv(csv_file, 3000)
    inserts = 0

    def die_on_the_second_insert(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal inserts
        if statement.lstrip().upper().startswith("INSERT INTO LEARNER_LINKS"):
            inserts += 1
            if inserts == 2:  # rows already written before this point must not survive
                raise RuntimeError("the process died mid-import")

    event.listen(Engine, "before_cursor_execute", die_on_the_second_insert)
    try:
        with pytest.raises(RuntimeError, match="died mid-import"):
            main(["link", "--team", TEAM, "--csv", str(csv_file)])
    finally:
        event.remove(Engine, "before_cursor_execute", die_on_the_second_insert)
    assert inserts == 2
    assert rows(env, "SELECT slack_user_id, learner_id FROM learner_links") == [("U0BULK000005", "100002000000032145")]
    assert rows(env, "SELECT count(*) FROM audit_log WHERE action = 'link'") == [(1,)]
    capsys.readouterr()
    # Run again: everything at once, the existing link replaced; a third run changes nothing.
    code, out, _ = run(capsys, "link", "--team", TEAM, "--csv", str(csv_file))
    assert code == 0 and "3000 linked, 0 already linked, 0 error(s)" in out
    assert rows(env, "SELECT count(*) FROM learner_links") == [(3000,)]
    assert rows(env, "SELECT learner_id, method FROM learner_links WHERE slack_user_id = 'U0BULK000005'") == [
        ("700000000000000005", "csv")
    ]
    (old,) = rows(env, "SELECT old_values FROM audit_log WHERE target = 'U0BULK000005:zoho' AND old_values IS NOT NULL")
    assert "100002000000032145" in str(old)
    assert rows(env, "SELECT count(*) FROM audit_log WHERE action = 'link'") == [(3001,)]
    code, out, _ = run(capsys, "link", "--team", TEAM, "--csv", str(csv_file))
    assert code == 0 and "0 linked, 3000 already linked, 0 error(s)" in out
    assert rows(env, "SELECT count(*) FROM audit_log WHERE action = 'link'") == [(3001,)]


def test_csv_rows_that_clash_within_the_file_or_with_others_are_reported_per_line(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "link", "--team", TEAM, "--user", "U0GRACE", "--learner", "190801059")
    csv_file = tmp_path / "links.csv"
    csv_file.write_text(
        "U0ADA,100002000000032145\n"
        "U0ADA,100002000000032145\n"  # the same row twice: harmless
        "U0ADA,100002000000032161\n"  # the same person, another learner
        "U0ALAN,100002000000032145\n"  # Ada's learner again
        "U0EDSGER,190801059\n"  # Grace holds it
    )
    code, out, err = run(capsys, "link", "--team", TEAM, "--csv", str(csv_file))
    assert code == 1 and "1 linked, 1 already linked, 3 error(s)" in out
    assert "line 3: U0ADA is linked to another learner on line 1" in err
    assert "line 4: that Zoho People learner is already on line 1" in err
    assert "line 5: That Zoho People learner is already linked to U0GRACE" in err
    assert [line.split(":")[0] for line in err.splitlines()] == ["error"] * 3


def test_links_unmatched_lists_members_without_a_link(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "link", "--team", TEAM, "--user", "U0ADA", "--learner", str(seed.SAMPLE_LEARNER))
    code, out, err = run(capsys, "links", "--team", TEAM, "--unmatched")
    assert code == 0
    listed = [line.split("\t")[0] for line in out.splitlines()]
    assert "U0ADA" not in listed and "U0GRACE" in listed
    assert "U0LMSBOT" not in listed and "USLACKBOT" not in listed  # bots are not people
    assert f"{len(listed)} member(s) without a link" in err


def test_track_untrack_idempotent_and_verified(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["track", "--team", TEAM, "--course", str(seed.SELF_PACED_COURSE), "--module", str(seed.SP_MODULE_1)]
    code, out, _ = run(capsys, *args, "--alias", "Security-1")
    assert code == 0 and out.startswith("tracking #1 security-1") and "Phishing Basics" in out
    assert "nothing changed" in run(capsys, *args, "--alias", "security-1")[1]
    code, _, err = run(capsys, "track", "--team", TEAM, "--course", str(seed.SELF_PACED_COURSE), "--module", "999")
    assert code == 1 and "Zoho has no module 999" in err
    code, _, err = run(
        capsys,
        "track",
        "--team",
        TEAM,
        "--course",
        str(seed.BLENDED_COURSE),
        "--batch",
        str(seed.BATCH_SPRING),
        "--module",
        str(seed.BL_KICKOFF),
        "--alias",
        "security-1",
    )
    assert code == 1 and "already used" in err
    assert run(capsys, "untrack", "--team", TEAM, "--alias", "security-1")[1].startswith("untracked #1")
    assert "nothing changed" in run(capsys, "untrack", "--team", TEAM, "--alias", "security-1")[1]
    audit = rows(env, "SELECT action FROM audit_log ORDER BY id")
    assert [a for (a,) in audit] == ["track", "untrack"]


def test_connect_ispring_checks_the_key_and_stores_it_encrypted(
    env: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = sandbox.config
    code, _, err = connect_ispring(capsys, sandbox, "wrong")
    assert code == 1 and "did not accept" in err
    code, out, _ = connect_ispring(capsys, sandbox, cfg.ispring_client_secret)
    assert code == 0 and "iSpring connected" in out
    dump = json.dumps([list(map(str, r)) for r in rows(env, "SELECT * FROM provider_connections")])
    assert cfg.ispring_client_id in dump and cfg.ispring_client_secret not in dump


def test_connect_zoho_prints_a_single_use_link(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "connect", "zoho", "--team", TEAM, "--data-center", "eu")
    assert code == 0 and "http://lmsbot.test/connect/zoho/start?state=" in out and "dc=eu" in out


def test_keys_rotate_keeps_everything_readable(
    env: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    cfg = sandbox.config
    connect_ispring(capsys, sandbox, cfg.ispring_client_secret)
    old = os.environ["LMSBOT_ENCRYPTION_KEYS"]
    monkeypatch.setenv("LMSBOT_ENCRYPTION_KEYS", f"{Keyring.generate_key()},{old}")
    code, out, _ = run(capsys, "keys", "rotate")
    assert code == 0 and "re-encrypted" in out and not out.startswith("re-encrypted 0 ")
    assert run(capsys, "keys", "rotate")[1].startswith("re-encrypted 0 ")  # idempotent
    new_only = os.environ["LMSBOT_ENCRYPTION_KEYS"].split(",")[0]
    # Still readable with the newest key alone.
    db = Database(f"sqlite:///{env}")
    try:
        stored = await_(ConnectionRepository(db, Keyring.from_keys(new_only)).get(TEAM, "ispring"))
    finally:
        await_(db.dispose())
    assert stored is not None and stored.client_secret is not None
    assert stored.client_secret.get_secret_value() == cfg.ispring_client_secret


# Every command that touches the database, as an operator would run it (the Procfile's too).
DATABASE_COMMANDS = (
    ["links"],
    ["link", "--team", TEAM, "--user", "U0ADA", "--learner", "1"],
    ["unlink", "--team", TEAM, "--user", "U0ADA"],
    ["track", "--team", TEAM, "--course", "1", "--module", "2"],
    ["untrack", "--team", TEAM, "--id", "1"],
    ["tracked", "--team", TEAM],
    ["workspace", "purge", "--team", TEAM, "--yes"],
    ["ispring", "webhooks", "status", "--team", TEAM],
    ["connect", "zoho", "--team", TEAM],
    ["keys", "rotate"],
    ["remind", "--now"],
    ["status"],
    ["scheduler"],
    ["worker"],
    ["serve", "--port", "1"],
    ["socket"],
)


@pytest.fixture
def slack_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """What serve and socket need besides the bot token, so only the key (or the database) can be wrong."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "operator-test-secret")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-operator-test")


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        (None, "error: missing setting: LMSBOT_ENCRYPTION_KEYS (generate one with `lmsbot keys generate`"),
        ("not-a-key", "error: encryption key #1 of 1 in LMSBOT_ENCRYPTION_KEYS is not a valid Fernet key"),
    ],
)
def test_a_missing_or_malformed_key_is_one_line_and_exit_2_from_every_command(
    env: Path,
    slack_app: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keys: str | None,
    said: str,
) -> None:
    if keys is None:
        monkeypatch.delenv("LMSBOT_ENCRYPTION_KEYS")
    else:
        monkeypatch.setenv("LMSBOT_ENCRYPTION_KEYS", keys)
    capsys.readouterr()
    for command in DATABASE_COMMANDS:
        code, out, err = run(capsys, *command)
        assert (code, out) == (2, ""), (command, code, out, err)
        assert one_line(err).startswith(said), (command, err)


def test_a_key_that_cannot_decrypt_the_stored_credentials_stops_serve_socket_scheduler_worker_and_remind(
    env: Path,
    slack_app: None,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert connect_ispring(capsys, sandbox, sandbox.config.ispring_client_secret)[0] == 0
    old = os.environ["LMSBOT_ENCRYPTION_KEYS"]
    monkeypatch.setenv("LMSBOT_ENCRYPTION_KEYS", Keyring.generate_key())  # the old key dropped by mistake
    for command in (["serve", "--port", "1"], ["socket"], ["scheduler"], ["worker"], ["remind", "--now"]):
        code, out, err = run(capsys, *command)
        assert (code, out) == (2, ""), (command, code, out, err)
        assert one_line(err) == (
            "error: LMSBOT_ENCRYPTION_KEYS cannot decrypt 1 of the 1 stored secret(s) (1 in provider_connections): "
            "the key they were written with is not among the 1 configured; put it back in LMSBOT_ENCRYPTION_KEYS "
            "(new keys go first, old ones stay until `lmsbot keys rotate` has run)"
        ), command
    # Commands that only touch other rows still work (reconnecting is how to recover a lost key).
    assert run(capsys, "links")[0] == 0
    # With the old key back behind the new one, the check passes.
    monkeypatch.setenv("LMSBOT_ENCRYPTION_KEYS", f"{Keyring.generate_key()},{old}")
    from bot import preflight
    from bot.cli import build_parser

    preflight.check(build_parser().parse_args(["scheduler"]), preflight.settings_or_error())


def test_every_missing_setting_is_listed_at_once(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("SLACK_BOT_TOKEN", "LMSBOT_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name)
    code, _, err = run(capsys, "serve", "--port", "1")
    assert code == 2
    assert one_line(err) == (
        "error: missing settings: SLACK_SIGNING_SECRET (Slack app settings → Basic Information); "
        "SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (install in many); "
        "LMSBOT_ENCRYPTION_KEYS (generate one with `lmsbot keys generate`; LMSBOT_ENV=development uses a local key "
        "file instead)"
    )
    monkeypatch.setenv("LMS_RATE_LIMIT", "many")
    monkeypatch.setenv("LMS_TIMEOUT_SECONDS", "-1")
    code, _, err = run(capsys, "remind", "--now")
    line = one_line(err)
    assert code == 2 and line.startswith("error: configuration: ")
    assert "LMS_RATE_LIMIT: Input should be a valid integer" in line
    assert "LMS_TIMEOUT_SECONDS: Input should be greater than 0" in line


def test_malformed_reminder_settings_are_one_line_from_every_command_that_builds_reminders(
    env: Path, slack_app: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # serve used to start and fail later inside a request; the others printed pydantic's multi-line report.
    monkeypatch.setenv("REMINDER_SWEEP_MINUTES", "often")
    monkeypatch.setenv("REMINDER_LMS_TIMEZONE", "Europe/Berlin")  # gone: LMS_TIMEZONE is the one LMS zone
    for command in (["serve", "--port", "1"], ["socket"], ["scheduler"], ["worker"], ["remind", "--now"]):
        code, out, err = run(capsys, *command)
        line = one_line(err)
        assert (code, out) == (2, ""), (command, code, out, err)
        assert line.startswith("error: reminder configuration: REMINDER_SWEEP_MINUTES: "), (command, line)
        assert "REMINDER_LMS_TIMEZONE: is no longer read: set LMS_TIMEZONE" in line, (command, line)


def test_commands_refuse_an_unmigrated_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], slack_app: None
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("LMSBOT_ENCRYPTION_KEYS", Keyring.generate_key())
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-operator-test")
    for command in DATABASE_COMMANDS:
        code, _, err = run(capsys, *command)
        assert code == 2 and one_line(err) == (
            "error: the database has no lmsbot tables yet: run `lmsbot db upgrade` first"
        ), command


def test_status_shows_each_zoho_accounts_daily_budget(
    env: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATE_LIMIT_BACKEND", "database")  # the count every process shares
    monkeypatch.setenv("ZOHO_DAILY_CALL_BUDGET", "3")
    learner = str(seed.PLANS_LEARNER)
    code, out, err = run(capsys, "status")
    assert code == 0, err
    header, line = out.splitlines()
    assert header.split("\t") == [
        "account",
        "used by",
        "calls in the last 24 h",
        "daily budget",
        "left",
        "today so far",
        "projected today",
        "note",
    ]
    assert line.split("\t")[1:5] == ["environment", "0", "3", "3"]
    for _ in range(3):  # `lmsbot lms` spends the same budget as the bot
        assert run(capsys, "lms", "plans", "--learner", learner)[0] == 0
    code, _, err = run(capsys, "lms", "plans", "--learner", learner)
    assert code == 1 and "daily API budget for this workspace is used up; try again after" in err
    assert len(sandbox.state.calls_for("learning-plans-progress")) == 3  # the fourth was never sent
    fields = run(capsys, "status")[1].splitlines()[1].split("\t")
    account, used_by, used, budget, left, today, projected, note = fields
    assert account.startswith("zoho:") and (used_by, used, budget, left) == ("environment", "3", "3", "0")
    # The projection extrapolates by the time of day, so early in the day 3 calls project past the budget.
    assert today == "3 (UTC)" and int(projected) >= 3
    assert note == ("over budget" if int(projected) > 3 else "")


def test_status_warns_that_a_private_budget_shows_nothing(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "status")
    assert code == 0 and "RATE_LIMIT_BACKEND=memory" in err and "environment" in out
