"""Scale-out benchmark (issue 13): digests per minute with 1, 2 and 3 `lmsbot worker` processes
(REMINDER_EXECUTOR=procrastinate) on one PostgreSQL database.

Everything runs locally over real HTTP: the LMS sandbox (a generous limit, so the LMS is not the bound: CPU is),
the Slack stand-in (no Slack tiers), a throw-away PostgreSQL database next to LMSBOT_TEST_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/test). `BENCH_WORKSPACES` (default 30) workspaces, each its own
Zoho organisation in the sandbox, with `BENCH_PEOPLE` (default 20) people each, all due now, two tracked
modules, bulk reads off (one module-progress call per learner and module). Per worker count
(`BENCH_WORKERS`, default 1,2,3; each worker `--concurrency BENCH_CONCURRENCY`, default 4): the database
emptied and the fleet seeded again, the workers started, and the clock runs from the first sweep job starting
to the last workspace's sweep ending. Per-digest CPU is the workers' own (user + system, from /proc, between
"ready" and the end); the sandbox and the Slack stand-in run in this process and use the same cores, so on a
2-core machine more workers than cores only add contention. `make bench` runs it; it is not part of `make test`.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # `make bench` runs the file
from bot.container import build_services
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.slackstub import SlackStub, SlackStubServer
from storage import migrate
from storage.db import Database
from tests.reminders.conftest import world_settings
from tests.storage.conftest import POSTGRES_ADMIN_URL, PostgresDatabases, empty_tables
from tests.support.fleet import TRACKS, Proc, build_fleet, clear_job_queue, digests_per_user, lmsbot_command

WORKSPACES = int(os.environ.get("BENCH_WORKSPACES", "30"))
PEOPLE = int(os.environ.get("BENCH_PEOPLE", "20"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
WORKER_COUNTS = [int(n) for n in os.environ.get("BENCH_WORKERS", "1,2,3").split(",") if n.strip()]
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT_SECONDS", "900"))


@dataclass
class Run:
    workers: int
    digests: int
    seconds: float
    worker_cpu: float
    bench_cpu: float

    @property
    def per_minute(self) -> float:
        return self.digests / self.seconds * 60.0


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one_run(count: int, url: str, sandbox: SandboxServer, slack: SlackStubServer, cwd: Path) -> Run:
    db = Database(url)
    await empty_tables(db)
    await db.dispose()
    await clear_job_queue(url)
    slack.reset()
    settings = world_settings(sandbox, slack.url, url, lms_rate_limit=100_000)
    services = build_services(settings)
    try:
        learners = sorted(lid for lid in sandbox.state.learners if lid >= 100002000100000000)
        fleet = await build_fleet(
            services, sandbox, slack.stub, workspaces=WORKSPACES, people=PEOPLE, learners=learners, tracks=TRACKS[:2]
        )
    finally:
        await services.aclose()
    assert settings.lmsbot_encryption_keys is not None
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": url,
        "LMSBOT_ENV": "development",
        "LMSBOT_ENCRYPTION_KEYS": settings.lmsbot_encryption_keys.get_secret_value(),
        "SLACK_BOT_TOKEN": slack.stub.workspace.bot_token,
        "SLACK_API_URL": slack.url,
        "ZOHO_CLIENT_ID": sandbox.config.zoho_client_id,
        "ZOHO_CLIENT_SECRET": sandbox.config.zoho_client_secret,
        "LMS_RATE_LIMIT": "100000",
        "ZOHO_DAILY_CALL_BUDGET": "1000000",
        "ZOHO_BULK_READS": "off",
        "REMINDER_EXECUTOR": "procrastinate",
        "REMINDER_SWEEP_MINUTES": "0.1",
        "REMINDER_MANAGER_DIGEST": "false",
        "REMINDER_SESSION_DAY_BEFORE_HOURS": "0",
        "REMINDER_SESSION_SOON_MINUTES": "0",
    }
    workers = [Proc(lmsbot_command("worker", "--concurrency", str(CONCURRENCY)), env, cwd) for _ in range(count)]
    try:
        for worker in workers:
            await worker.wait_line(r"^worker: ready", timeout=180)
        cpu_before = [w.cpu_seconds() for w in workers]
        bench_before = cpu_self()
        deadline = time.monotonic() + TIMEOUT
        first: float | None = None
        ended: dict[str, float] = {}
        while len(ended) < len(fleet.teams):
            assert time.monotonic() < deadline, "the workers did not finish in time"
            assert all(w.popen.poll() is None for w in workers), [w.output[-5:] for w in workers]
            for worker in workers:
                for line in worker.drain():
                    if first is None and ": started (job " in line.text:
                        first = line.at
                    if line.text.startswith("sweep ") and ", job " in line.text:
                        ended.setdefault(line.text.split()[1].rstrip(":"), line.at)
            await asyncio.sleep(0.05)
        assert first is not None
        worker_cpu = sum(w.cpu_seconds() - before for w, before in zip(workers, cpu_before, strict=True))
        digests = sum(digests_per_user(slack.stub).values())
        return Run(count, digests, max(ended.values()) - first, worker_cpu, cpu_self() - bench_before)
    finally:
        for worker in workers:
            worker.kill(15)
        for worker in workers:
            await asyncio.to_thread(worker.stop, 60.0)


async def main() -> int:
    databases = PostgresDatabases(POSTGRES_ADMIN_URL)
    url = databases.create()
    learners = WORKSPACES * PEOPLE
    # Everyone has something to do: no generated learner has finished a course.
    state = seed.build_state("bench", learners=learners, mix=(0, 1, 1))
    sandbox = SandboxServer(SandboxConfig(rate_limit=1_000_000), state)
    sandbox.start()
    runs: list[Run] = []
    try:
        migrate.upgrade(url)
        with SlackStubServer(SlackStub()) as slack, tempfile.TemporaryDirectory() as tmp:
            for count in WORKER_COUNTS:
                run = await one_run(count, url, sandbox, slack, Path(tmp))
                runs.append(run)
                print(
                    f"{count} worker(s): {run.digests} digests in {run.seconds:.1f} s = {run.per_minute:,.0f}/min · "
                    f"worker CPU {run.worker_cpu / max(run.digests, 1) * 1000:.0f} ms/digest · "
                    f"bench process (sandbox + Slack stand-in) CPU {run.bench_cpu:.1f} s",
                    flush=True,
                )
    finally:
        sandbox.stop()
        databases.drop_all()
    base = runs[0].per_minute if runs else 0.0
    print(f"\n{WORKSPACES} workspaces × {PEOPLE} people, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print("| workers | digests/min | speed-up | worker CPU per digest |")
    print("|---|---|---|---|")
    for run in runs:
        speedup = run.per_minute / base if base else 0.0
        per_digest = run.worker_cpu / max(run.digests, 1) * 1000
        print(f"| {run.workers} | {run.per_minute:,.0f} | {speedup:.2f}× | {per_digest:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
