"""`lmsbot worker` (REMINDER_EXECUTOR=procrastinate): reminder sweeps as procrastinate jobs in PostgreSQL.

- A periodic task (every REMINDER_SWEEP_MINUTES) defers one sweep job per workspace. procrastinate's periodic
  deferrer runs in every worker, and the database (`procrastinate_periodic_defers`, unique per task and
  timestamp) lets one of them defer each period's task, however many workers run.
- Each workspace's sweep job has `lock=` its workspace: procrastinate starts no job while another with the same
  lock is running, so one workspace is swept by one worker at a time. Its `queueing_lock=` is the same name: a
  workspace whose sweep is already waiting (its LMS account locked, say) gets no second one, so no backlog
  piles up.
- The sweep itself is the one `lmsbot scheduler` runs (ReminderEngine.sweep, for that workspace only): the
  per-workspace rate limits, daily budgets and the exactly-once sent log (bot/reminders/delivery.py) are the
  same whichever executor runs it.
- A worker that dies mid-job (SIGKILL, a lost machine) stops sending heartbeats; each period's deferring job
  first gives the jobs of workers silent for REMINDER_WORKER_STALLED_SECONDS back to the queue, and another
  worker runs them. What the dead worker had claimed but not confirmed is retried once its claim is stale
  (REMINDER_CLAIM_STALE_SECONDS), and a digest Slack already has is found there and not sent again.
- SIGTERM: no new job starts, running sweeps finish the learner in hand (REMINDER_SHUTDOWN_GRACE_SECONDS).

The schema is procrastinate's own, applied by `lmsbot db upgrade` (migration 0007). Like bot/scheduler.py
this module is a composition root: it builds the engine with the real Slack views.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from procrastinate import App, JobContext, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException, UniqueViolation
from procrastinate.jobs import Status

from bot.config import Settings
from bot.container import Services, build_services
from bot.reminders.engine import ReminderEngine, utc_now
from bot.reminders.settings import ReminderConfig
from bot.reminders_root import build_engine
from bot.scheduler import holder_id
from storage import migrate
from storage.db import parse_url
from storage.errors import unavailable_cause

log = logging.getLogger(__name__)

QUEUE = "reminders"
DEFER_TASK = "lmsbot.reminders.defer_sweeps"
SWEEP_TASK = "lmsbot.reminders.sweep_workspace"
PRUNE_TASK = "lmsbot.reminders.prune"
FINISHED_JOBS_KEPT_HOURS = 7 * 24  # procrastinate's rows of finished jobs, for operators to look back on

Out = Callable[[str], None]


class ExecutorError(Exception):
    """REMINDER_EXECUTOR cannot run as configured; the message says what to change."""


def sweep_lock(team_id: str) -> str:
    """The lock and queueing lock of one workspace's sweep jobs."""
    return f"reminders-sweep:{team_id}"


def sweep_cron(minutes: float) -> str:
    """REMINDER_SWEEP_MINUTES as a cron line (procrastinate's periodic tasks are cron; a 6th column is seconds)."""
    seconds = minutes * 60.0
    whole = round(seconds)
    if abs(seconds - whole) < 1e-6 and whole >= 1:
        if whole < 60 and 60 % whole == 0:
            return f"* * * * * */{whole}"
        if whole % 60 == 0 and whole < 3600 and 60 % (whole // 60) == 0:
            return f"*/{whole // 60} * * * *"
        if whole % 3600 == 0 and 24 % (whole // 3600) == 0:
            return f"0 */{whole // 3600} * * *"
    raise ExecutorError(
        f"REMINDER_SWEEP_MINUTES={minutes:g} is not a period REMINDER_EXECUTOR=procrastinate can keep: use a number of "
        "seconds that divides a minute, minutes that divide an hour, or hours that divide a day (e.g. 5 or 0.5)"
    )


def check_executor(settings: Settings, config: ReminderConfig) -> None:
    """Raise ExecutorError when REMINDER_EXECUTOR=procrastinate cannot run here."""
    if config.executor != "procrastinate":
        return
    dialect, _ = parse_url(settings.database_url)
    if dialect != "postgresql":
        raise ExecutorError(
            "REMINDER_EXECUTOR=procrastinate needs PostgreSQL (DATABASE_URL=postgresql://…), and DATABASE_URL is "
            "SQLite; with SQLite use REMINDER_EXECUTOR=apscheduler and `lmsbot scheduler`"
        )
    sweep_cron(config.sweep_minutes)


def conninfo(database_url: str) -> str:
    """DATABASE_URL as libpq takes it (no SQLAlchemy driver suffix)."""
    _, parsed = parse_url(database_url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class _Runtime:
    """What a worker process's jobs work with."""

    app: App
    services: Services
    engine: ReminderEngine
    config: ReminderConfig
    out: Out


def build_app(database_url: str, config: ReminderConfig, runtime: Callable[[], _Runtime], *, pool_size: int) -> App:
    """The procrastinate app and its tasks. `runtime()` gives the running worker's services (jobs run there)."""
    app = App(connector=PsycopgConnector(conninfo=conninfo(database_url), min_size=1, max_size=pool_size))

    @app.task(name=SWEEP_TASK, queue=QUEUE, pass_context=True)
    async def sweep_workspace(context: JobContext, team_id: str) -> None:
        rt = runtime()
        job = context.job.id
        rt.out(f"sweep {team_id}: started (job {job})")
        started = time.monotonic()
        try:
            report = await rt.engine.sweep(team_id=team_id)
        except Exception as exc:
            cause = unavailable_cause(exc)
            if cause is None:
                raise
            rt.out(f"sweep {team_id}: skipped, the database is unavailable ({cause})")
            return
        rt.out(f"sweep {team_id}: {report.summary()} ({time.monotonic() - started:.1f} s, job {job})")
        for line in report.lines():
            log.info("sweep %s: %s", team_id, line)

    @app.periodic(cron=sweep_cron(config.sweep_minutes), periodic_id="every-sweep-period")
    @app.task(name=DEFER_TASK, queue=QUEUE)
    async def defer_sweeps(timestamp: int) -> None:
        rt = runtime()
        await _retry_stalled(rt)
        deferred = queued = 0
        for team_id in await rt.services.links_repo.team_ids():
            lock = sweep_lock(team_id)
            try:
                await sweep_workspace.configure(lock=lock, queueing_lock=lock).defer_async(team_id=team_id)
                deferred += 1
            except AlreadyEnqueued:
                queued += 1  # its sweep is still waiting: one is enough
        rt.out(f"sweeps: {deferred} workspace sweeps deferred, {queued} still waiting from before")

    @app.periodic(cron="17 3 * * *", periodic_id="nightly")
    @app.task(name=PRUNE_TASK, queue=QUEUE)
    async def prune(timestamp: int) -> None:
        rt = runtime()
        before = utc_now() - timedelta(days=rt.config.prune_days)
        removed = await rt.services.reminders.prune(before)
        rt.out(f"prune: {removed} sent-log rows older than {rt.config.prune_days} days removed")
        await rt.services.deliveries.purge()
        await rt.app.job_manager.delete_old_jobs(nb_hours=FINISHED_JOBS_KEPT_HOURS, include_failed=True)

    return app


async def _retry_stalled(rt: _Runtime) -> None:
    """Give the running jobs of workers that stopped sending heartbeats back to the queue."""
    manager = rt.app.job_manager
    for job in await manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=rt.config.worker_stalled_seconds):
        what = f"sweep of {job.task_kwargs.get('team_id')}" if job.task_name == SWEEP_TASK else job.task_name
        silent = f"{rt.config.worker_stalled_seconds:g} s"
        try:
            await manager.retry_job(job)
        except UniqueViolation:
            # A later sweep of the same workspace is already waiting (its queueing lock): that one does the work.
            await manager.finish_job(job, status=Status.FAILED, delete_job=False)
            rt.out(f"stalled: job {job.id} ({what}) of a worker silent for {silent} left to the one waiting")
            continue
        rt.out(f"stalled: job {job.id} ({what}) of a worker silent for {silent} runs again")


class ReminderWorker:
    """One procrastinate worker process running `concurrency` jobs at once."""

    def __init__(
        self,
        settings: Settings,
        config: ReminderConfig,
        *,
        concurrency: int,
        holder: str | None = None,
        out: Out = print,
    ) -> None:
        self.settings = settings
        self.config = config
        self.concurrency = concurrency
        self.holder = holder or holder_id()
        self.out = out

    async def run(self, stop: asyncio.Event) -> int:
        url = self.settings.database_url
        if migrate.current(url) != migrate.head():
            self.out("worker: the database is not migrated to the latest revision; run `lmsbot db upgrade`")
            return 2
        services = build_services(self.settings)
        engine = build_engine(services, self.config)
        runtime: _Runtime | None = None

        def current() -> _Runtime:
            assert runtime is not None
            return runtime

        # A connection each for running jobs, plus LISTEN, the heartbeat, fetching and the periodic deferrer.
        app = build_app(url, self.config, current, pool_size=self.concurrency + 4)
        runtime = _Runtime(app, services, engine, self.config, self.out)
        try:
            async with app.open_async():
                worker = asyncio.create_task(
                    app.run_worker_async(
                        queues=[QUEUE],
                        name=self.holder,
                        concurrency=self.concurrency,
                        install_signal_handlers=False,
                        update_heartbeat_interval=self.config.worker_heartbeat_seconds,
                        stalled_worker_timeout=self.config.worker_stalled_seconds,
                        shutdown_graceful_timeout=self.config.shutdown_grace_seconds,
                        # LISTEN/NOTIFY wakes workers for new jobs; polling is the fallback, within a sweep period
                        fetch_job_polling_interval=min(5.0, self.config.sweep_minutes * 20),
                    )
                )
                self.out(
                    f"worker: ready ({self.holder}); {self.concurrency} jobs at once, workspaces swept every "
                    f"{self.config.sweep_minutes:g} min"
                )
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if worker.done():  # it ended by itself: the database went away, or a bug (raised)
                    trouble = worker.exception()
                    if trouble is not None and not isinstance(trouble, ConnectorException | OSError):
                        raise trouble
                    why = " ".join(str(trouble).split())[:300] or type(trouble).__name__
                    self.out(f"worker: stopped by the database ({why}); exiting so that it is restarted")
                    return 1
                engine.stop()  # running sweeps finish the learner in hand and start no other
                worker.cancel()  # procrastinate's graceful stop: no new job, running ones may finish
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
        finally:
            await services.aclose()
        self.out("worker: stopped")
        return 0


def run_processes(count: int, concurrency: int, out: Out = print) -> int:
    """`lmsbot worker --processes N`: N worker processes (one per core makes CPU-bound sweeps scale); SIGTERM and
    SIGINT are passed on. When one ends by itself the others are stopped too, so the platform restarts them all."""
    args = [sys.executable, "-m", "bot", "worker", "--processes", "1", "--concurrency", str(concurrency)]
    children = [subprocess.Popen(args) for _ in range(count)]
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    code = 0
    while any(child.poll() is None for child in children):
        ended = [child for child in children if child.poll() is not None]
        if ended and not stopping:
            code = ended[0].returncode or 1
            out(f"worker: a worker process ended (exit {ended[0].returncode}); stopping the others")
            forward(signal.SIGTERM, None)
        time.sleep(0.2)
    if not stopping:
        code = next((c.returncode for c in children if c.returncode), 0)
    return code
