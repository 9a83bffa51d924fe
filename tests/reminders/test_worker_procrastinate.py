"""REMINDER_EXECUTOR=procrastinate for real: `lmsbot worker` processes on one PostgreSQL database, 30 workspaces
each with its own Zoho organisation in the sandbox, everyone due. Every digest reaches Slack exactly once
(counted per person at the Slack stand-in), no workspace is swept by two workers at once (procrastinate's own
record of when each job started and ended), and a worker SIGKILLed mid-sweep leaves nothing undone."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.container import build_services
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.slackstub import SlackStub, SlackStubServer
from storage.db import Database
from tests.reminders.conftest import empty_tables, world_settings
from tests.support.fleet import TRACKS, Fleet, Proc, build_fleet, clear_job_queue, digests_per_user, lmsbot_command

WORKSPACES = 30
PEOPLE = 3  # per workspace
WORKERS = 3
# The demo learners with self-paced modules still to do (all but Margaret, who finished both).
LEARNERS = [learner_id for learner_id, name, _ in seed.NAMED if name != "Margaret Hamilton"]
TIMING = {
    "REMINDER_EXECUTOR": "procrastinate",
    "REMINDER_SWEEP_MINUTES": "0.05",  # a sweep period of 3 s
    "REMINDER_WORKER_HEARTBEAT_SECONDS": "0.5",
    "REMINDER_WORKER_STALLED_SECONDS": "4",
    "REMINDER_CLAIM_STALE_SECONDS": "3",
    "REMINDER_SHUTDOWN_GRACE_SECONDS": "5",
}


@dataclass
class Floor:
    """The stage: sandbox, Slack stand-in, the fleet in PostgreSQL, and the workers started on it."""

    sandbox: SandboxServer
    slack: SlackStub
    database_url: str
    fleet: Fleet
    settings: Settings
    env: dict[str, str]
    cwd: Path
    procs: list[Proc]

    def start_worker(self, *args: str) -> Proc:
        proc = Proc(lmsbot_command("worker", *args), self.env, self.cwd)
        self.procs.append(proc)
        return proc

    def digests(self) -> Any:
        return digests_per_user(self.slack)


MakeFloor = Callable[..., Any]


@pytest.fixture
async def make_floor(
    sandbox_factory: Any, _slack_server: SlackStubServer, postgres_url: str, tmp_path: Path
) -> AsyncIterator[MakeFloor]:
    procs: list[Proc] = []

    async def make(latency: float = 0.0) -> Floor:
        sandbox = sandbox_factory(rate_limit=10_000, latency=latency, state=seed.build_state("demo"))
        _slack_server.reset()
        await _empty(postgres_url)
        await clear_job_queue(postgres_url)
        settings = world_settings(sandbox, _slack_server.url, postgres_url, lms_rate_limit=10_000)
        services = build_services(settings)
        try:
            fleet = await build_fleet(
                services,
                sandbox,
                _slack_server.stub,
                workspaces=WORKSPACES,
                people=PEOPLE,
                learners=LEARNERS,
                tracks=TRACKS[:2],
            )
        finally:
            await services.aclose()
        assert settings.lmsbot_encryption_keys is not None
        env = {
            "PATH": "/usr/bin:/bin",
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": postgres_url,
            "LMSBOT_ENV": "development",
            "LMSBOT_ENCRYPTION_KEYS": settings.lmsbot_encryption_keys.get_secret_value(),
            "SLACK_BOT_TOKEN": _slack_server.stub.workspace.bot_token,
            "SLACK_API_URL": _slack_server.url,
            "ZOHO_CLIENT_ID": sandbox.config.zoho_client_id,
            "ZOHO_CLIENT_SECRET": sandbox.config.zoho_client_secret,
            "LMS_RATE_LIMIT": "10000",
            "ZOHO_BULK_READS": "off",  # one module-progress call per learner and module: short sweeps
            "REMINDER_MANAGER_DIGEST": "false",
            # one message each: no session reminders beside the digests
            "REMINDER_SESSION_DAY_BEFORE_HOURS": "0",
            "REMINDER_SESSION_SOON_MINUTES": "0",
            **TIMING,
        }
        return Floor(sandbox, _slack_server.stub, postgres_url, fleet, settings, env, tmp_path, procs)

    yield make
    for proc in procs:
        proc.kill()
        proc.popen.wait(timeout=10)


async def wait_for(predicate: Callable[[], Any], what: str, procs: list[Proc], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            proc.drain()
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}:\n" + "\n".join(line for p in procs for line in p.output[-30:]))


def finished_sweeps(procs: list[Proc], since: float = 0.0) -> dict[str, int]:
    """Workspace -> how many of its sweeps ended (after `since`), as the workers said."""
    done: dict[str, int] = {}
    for proc in procs:
        for line in proc.seen:
            if line.at >= since and line.text.startswith("sweep ") and ", job " in line.text:
                team = line.text.split()[1].rstrip(":")
                done[team] = done.get(team, 0) + 1
    return done


async def sweep_intervals(database_url: str) -> dict[str, list[tuple[datetime, datetime | None, int]]]:
    """Per workspace lock, when each run of a sweep job began and ended (procrastinate's event log)."""
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT j.lock, e.job_id, e.type::text, e.at FROM procrastinate_events e "
                        "JOIN procrastinate_jobs j ON j.id = e.job_id "
                        "WHERE j.task_name = 'lmsbot.reminders.sweep_workspace' ORDER BY e.at, e.id"
                    )
                )
            ).all()
    finally:
        await db.dispose()
    open_runs: dict[int, datetime] = {}
    runs: dict[str, list[tuple[datetime, datetime | None, int]]] = {}
    for lock, job_id, kind, at in rows:
        if kind == "started":
            open_runs[job_id] = at
        elif job_id in open_runs and kind in ("succeeded", "failed", "deferred_for_retry", "aborted", "cancelled"):
            runs.setdefault(lock, []).append((open_runs.pop(job_id), at, job_id))
    for job_id, began in open_runs.items():  # still running when we looked
        lock = next(lk for lk, j, _, _ in rows if j == job_id)
        runs.setdefault(lock, []).append((began, None, job_id))
    return runs


def overlapping(runs: dict[str, list[tuple[datetime, datetime | None, int]]]) -> list[str]:
    clashes: list[str] = []
    for lock, spans in runs.items():
        spans.sort(key=lambda s: s[0])
        for (_, end, a), (start, _, b) in itertools.pairwise(spans):
            if end is None or start < end:
                clashes.append(f"{lock}: job {b} started while job {a} ran")
    return clashes


async def stop_all(workers: list[Proc]) -> list[int]:
    """SIGTERM to all at once, then their exit codes."""
    for worker in workers:
        worker.kill(signal.SIGTERM)
    return [await asyncio.to_thread(worker.stop, 60.0, signalled=True) for worker in workers]


@pytest.mark.postgres
@pytest.mark.timeout(420)
async def test_three_workers_send_every_digest_once_one_workspace_on_one_worker_at_a_time_even_when_one_is_killed(
    make_floor: MakeFloor,
) -> None:
    floor = await make_floor(latency=0.02)
    expected = floor.fleet.users  # everyone: each has modules still to do, and it is past their send time
    assert len(expected) == WORKSPACES * PEOPLE
    victim, *others = workers = [floor.start_worker("--concurrency", "3") for _ in range(WORKERS)]
    for worker in workers:
        await worker.wait_line(r"^worker: ready", timeout=120)
    began = time.monotonic()

    def victim_mid_sweep() -> list[str]:
        started = {ln.text.split()[1].rstrip(":") for ln in victim.seen if ": started (job " in ln.text}
        ended = {ln.text.split()[1].rstrip(":") for ln in victim.seen if ", job " in ln.text}
        running = sorted(started - ended)
        return running if running and len(ended) >= 2 else []

    # One worker is SIGKILLed in the middle of sweeping some workspaces, after it has finished a couple.
    running = await wait_for(victim_mid_sweep, "the first worker in the middle of a sweep", workers)
    victim.kill(signal.SIGKILL)
    victim.popen.wait(timeout=10)
    killed_at = time.monotonic()
    assert len(floor.digests()) < len(expected)

    await wait_for(lambda: set(floor.digests()) == expected, "every digest", others, timeout=180)
    everyone_at = time.monotonic()
    # Another sweep of every workspace after the last digest went out: it finds everything sent.
    await wait_for(
        lambda: all(finished_sweeps(others, everyone_at).get(t, 0) >= 1 for t in floor.fleet.teams),
        "another sweep of every workspace",
        others,
    )
    digests = floor.digests()
    assert set(digests) == expected and all(n == 1 for n in digests.values()), digests  # exactly once each

    # The workspaces it was sweeping were swept to the end by the others: its stalled jobs were taken back.
    assert all(finished_sweeps(others, killed_at).get(team, 0) >= 1 for team in running)
    rescued = [line for w in others for line in w.output if line.startswith("stalled: job ")]
    assert any(f"sweep of {team}" in line for team in running for line in rescued), rescued
    # Never two sweeps of one workspace at once, by procrastinate's own record of each job's start and end.
    runs = await sweep_intervals(floor.database_url)
    assert set(runs) == {f"reminders-sweep:{t}" for t in floor.fleet.teams}
    assert overlapping(runs) == []
    assert all(sum(finished_sweeps([w]).values()) > 0 for w in workers)  # the work was shared
    # One deferring job per 3-second period, whichever worker ran it (not one per worker and period).
    deferrals = [line for w in workers for line in w.output if line.startswith("sweeps: ")]
    assert 0 < len(deferrals) <= (time.monotonic() - began) / 3 + 2, deferrals

    assert await stop_all(others) == [0, 0]
    for worker in others:
        worker.drain()
        assert "worker: stopped" in worker.output


# --- choosing the executor: what an operator sees (no worker starts) -------------------------------------------


@pytest.fixture
def sqlite_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    from storage import migrate
    from storage.crypto import Keyring

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'lmsbot.db'}"
    migrate.upgrade(url)
    for name, value in {
        "DATABASE_URL": url,
        "LMSBOT_ENCRYPTION_KEYS": Keyring.generate_key(),
        "SLACK_BOT_TOKEN": "xoxb-0000-demo-lmsbot",
    }.items():
        monkeypatch.setenv(name, value)
    return url


@pytest.mark.parametrize(
    ("executor", "command", "says"),
    [
        ("procrastinate", "worker", "REMINDER_EXECUTOR=procrastinate needs PostgreSQL"),
        ("procrastinate", "scheduler", "REMINDER_EXECUTOR=procrastinate needs PostgreSQL"),
        ("apscheduler", "worker", "REMINDER_EXECUTOR=apscheduler: the reminder sweeps run in `lmsbot scheduler`"),
    ],
)
def test_a_worker_that_cannot_run_as_configured_says_what_to_change(
    sqlite_env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    executor: str,
    command: str,
    says: str,
) -> None:
    from bot.cli import main

    monkeypatch.setenv("REMINDER_EXECUTOR", executor)
    assert main([command]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"error: {says}") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in out + err


@pytest.mark.postgres
def test_the_scheduler_refuses_to_run_beside_procrastinate_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], postgres_url: str
) -> None:
    from bot.cli import main
    from storage.crypto import Keyring

    for name, value in {
        "DATABASE_URL": postgres_url,
        "LMSBOT_ENCRYPTION_KEYS": Keyring.generate_key(),
        "SLACK_BOT_TOKEN": "xoxb-0000-demo-lmsbot",
        "REMINDER_EXECUTOR": "procrastinate",
    }.items():
        monkeypatch.setenv(name, value)
    asyncio.run(_empty(postgres_url))  # no stored secrets another test's key wrote
    assert main(["scheduler"]) == 2
    assert "the reminder sweeps run in `lmsbot worker`, not `lmsbot scheduler`" in capsys.readouterr().err


async def _empty(url: str) -> None:
    db = Database(url)
    try:
        await empty_tables(db)
    finally:
        await db.dispose()


def test_sweep_periods_become_cron_lines_or_a_clear_error() -> None:
    from bot.worker import ExecutorError, sweep_cron

    assert sweep_cron(5) == "*/5 * * * *"
    assert sweep_cron(0.5) == "* * * * * */30"
    assert sweep_cron(120) == "0 */2 * * *"
    with pytest.raises(ExecutorError, match="REMINDER_SWEEP_MINUTES=7 is not a period"):
        sweep_cron(7)


def test_worker_takes_processes_and_concurrency() -> None:
    from bot.cli import build_parser

    args = build_parser().parse_args(["worker", "--processes", "3", "--concurrency", "2"])
    assert (args.command, args.processes, args.concurrency) == ("worker", 3, 2)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--processes", "0"])
