"""`lmsbot lms …` and `lmsbot sandbox` as an admin uses them: JSON on stdout, one clear line on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.server import SandboxServer
from tests.support.lms import sandbox_env
from tests.support.processes import free_port, wait_until_serving

SP, M1 = str(seed.SELF_PACED_COURSE), str(seed.SP_MODULE_1)
ADA = str(seed.SAMPLE_LEARNER)


@pytest.fixture
def lms_env(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SandboxServer:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name, value in sandbox_env(sandbox).items():
        monkeypatch.setenv(name, value)
    return sandbox


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_module_progress_prints_exact_ids(lms_env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "lms", "module-progress", "--course", SP, "--module", M1, "--learner", ADA)
    assert code == 0, err
    data = json.loads(out)
    assert data["module_id"] == M1
    assert "100004000000038041" in [e["entity_id"] for e in data["entities"]]
    assert all(isinstance(e["entity_id"], str) for e in data["entities"])


def test_every_lms_subcommand(lms_env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    bl, batch = str(seed.BLENDED_COURSE), str(seed.BATCH_SPRING)
    commands = [
        ["plans", "--learner", str(seed.PLANS_LEARNER)],
        ["sessions", "--course", bl, "--batch", batch, "--module", str(seed.BL_OFFICE_HOURS)],
        ["courses"],
        ["modules", "--course", SP],
        ["module", "--course", SP, "--module", M1],
        ["batches", "--course", bl],
        ["results", "--status", "not_started", "--page-size", "3"],
    ]
    for command in commands:
        code, out, err = run_cli(capsys, "lms", *command)
        assert code == 0, (command, err)
        assert isinstance(json.loads(out), list | dict)
    statuses = {c.endpoint: c.status for c in lms_env.state.calls}
    assert all(status == 200 for status in statuses.values()), statuses


def test_update_module_sends_the_patch(lms_env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys,
        "lms",
        "update-module",
        "--course",
        SP,
        "--module",
        M1,
        "--name",
        "Renamed",
        "--duration",
        "20",
        "--lock-type",
        "1",
        "--lock-until",
        "31-12-2030",
    )
    assert code == 0, err
    assert json.loads(out)["name"] == "Renamed"
    (call,) = lms_env.state.calls_for("update-module")
    assert call.module_data == {"name": "Renamed", "duration": 20, "lockType": 1, "lockUntil": "31-12-2030"}


def test_bad_input_is_one_clear_line_and_sends_nothing(
    lms_env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys, "lms", "update-module", "--course", SP, "--module", M1, "--name", "X", "--lock-type", "1"
    )
    assert code == 2 and out == ""
    assert err.strip() == "error: --lock-until: A lock-until date is required when the module is locked until a date."
    assert not lms_env.state.calls_for("update-module")
    base = ["lms", "update-module", "--course", SP, "--module", M1, "--name", "X"]
    code, _, err = run_cli(capsys, *base, "--lock-type", "1", "--lock-until", "01-01-2020")
    assert code == 2 and "--lock-until: That date is in the past" in err
    code, _, err = run_cli(capsys, *base, "--description", "😀" * 1000)  # 12,000 characters once in the URL
    assert code == 2 and "--description: Too long to send to Zoho" in err and "InvalidURL" not in err
    code, _, err = run_cli(capsys, *base, "--duration", "100001")
    assert code == 2 and "--duration: Duration can be at most 100,000 minutes." in err
    assert not lms_env.state.calls_for("update-module")


def test_lms_errors_are_one_line(lms_env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "lms", "module-progress", "--course", SP, "--module", "123", "--learner", ADA)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: Zoho module-progress: Not found")


def test_missing_configuration_is_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run_cli(capsys, "lms", "plans", "--learner", "1")
    assert code == 2 and err == "error: missing settings: ZOHO_CLIENT_ID; ZOHO_CLIENT_SECRET; ZOHO_REFRESH_TOKEN\n"


def test_unknown_data_center_is_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOHO_DATA_CENTER", "mars")
    code, _, err = run_cli(capsys, "lms", "plans", "--learner", "1")
    assert code == 2 and "unknown Zoho data center 'mars'" in err


@pytest.fixture
def sandbox_process() -> Iterator[str]:

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", str(port), "--rate-limit", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, url + "/_sandbox/health")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sandbox_command_serves_the_cli(
    sandbox_process: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "ZOHO_PEOPLE_URL": sandbox_process,
        "ZOHO_ACCOUNTS_URL": sandbox_process,
        "ZOHO_CLIENT_ID": "sandbox-zoho-client",
        "ZOHO_CLIENT_SECRET": "sandbox-zoho-secret",
        "ZOHO_REFRESH_TOKEN": "sandbox-zoho-refresh",
    }
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # `lmsbot sandbox` is the process under test; the CLI runs in this process (each main() builds its own
    # clients and rate budget, as each `lmsbot lms` process does), which saves seven interpreter start-ups.
    outputs = [run_cli(capsys, "lms", "plans", "--learner", str(seed.PLANS_LEARNER)) for _ in range(7)]
    assert outputs[0][0] == 0, outputs[0][2]
    assert any(p["plan_id"] == str(seed.PLAN_L1) for p in json.loads(outputs[0][1]))
    # --rate-limit 5: each CLI run has its own budget, so the sandbox's lock shows up as a clear error line
    # rather than a traceback (an uncaught exception would fail this test itself).
    failed = [(code, err) for code, _, err in outputs if code != 0]
    assert failed and all(err.startswith("error: ") and "Traceback" not in err for _, err in failed)
    log = httpx.get(sandbox_process + "/_sandbox/calls", params={"endpoint": "learning-plans-progress"}).json()
    assert len(log) == 7


def test_renaming_keeps_the_current_lock(lms_env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Zoho's lockType defaults to 0: a rename without --lock-type must send the module's own lock back."""
    base = ["lms", "update-module", "--course", SP, "--module", M1]
    assert run_cli(capsys, *base, "--name", "Locked", "--lock-type", "1", "--lock-until", "03-04-2030")[0] == 0
    code, out, err = run_cli(capsys, *base, "--name", "Renamed only")
    assert code == 0, err
    module = json.loads(out)
    assert module["name"] == "Renamed only" and module["lock_type"] == 1 and module["lock_until"] == "2030-04-03"
    last = lms_env.state.calls_for("update-module")[-1]
    assert last.module_data == {"name": "Renamed only", "lockType": 1, "lockUntil": "03-04-2030"}


def test_typed_lock_dates_are_day_first_whatever_zoho_date_order_says(
    lms_env: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZOHO_DATE_ORDER", "MDY")  # for reading LMS responses only
    args = ["lms", "update-module", "--course", SP, "--module", M1, "--name", "X", "--lock-type", "1"]
    assert run_cli(capsys, *args, "--lock-until", "03-04-2030")[0] == 0
    assert lms_env.state.calls_for("update-module")[-1].module_data == {
        "name": "X",
        "lockType": 1,
        "lockUntil": "03-04-2030",
    }
