"""`lmsbot scheduler` (the Procfile's `worker`): the reminder sweep every few minutes, on APScheduler 3.

- One active scheduler per database: the first takes a lease (a row with an expiry, renewed every third of
  it); another instance waits as a hot standby and takes over once the lease expires (its holder died) or is
  released (its holder stopped). Only the lease holder starts APScheduler: APScheduler's docs say a job store
  must never be shared between schedulers.
- APScheduler's SQLAlchemy job store lives in the bot's own database (migration 0002 creates its table). The
  jobs have explicit ids and are added with `replace_existing`, so restarts do not pile up copies; `coalesce`
  and `max_instances=1` keep a slow sweep from overlapping the next; the misfire grace time is minutes, not the
  1 s default, so a sweep delayed by a restart still runs.
- SIGTERM: no new sweep starts, the running one finishes the learner in hand (`shutdown_grace_seconds` at
  most), the lease is released so the standby takes over at once.

The engine itself is built by its composition root (bot/reminders_root.py). This module stays one piece (~340
lines): the lease loop, the outage backoff and the jobs share one loop's state, and the job functions cannot
move — the job store keeps them by module path (`bot.scheduler:sweep_job`), which a standby still running the
previous release must find.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import logcontext
from bot.config import Settings
from bot.container import Services, build_services
from bot.observability import OpsServer, ops_app, ops_server
from bot.reminders.engine import ReminderEngine, utc_now
from bot.reminders.settings import ReminderConfig
from bot.reminders_root import build_engine
from storage import migrate
from storage.errors import unavailable_cause
from storage.repositories.leases import LeaseRepository

log = logging.getLogger(__name__)

LEASE_NAME = "reminder-scheduler"
SWEEP_JOB_ID = "reminders-sweep"
PRUNE_JOB_ID = "reminders-prune"
JOB_TABLE = "apscheduler_jobs"

Out = Callable[[str], None]


def holder_id() -> str:
    """Who holds the lease, in words an operator can trace: host, process, and a nonce for PID reuse."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class _Runtime:
    """What the scheduled jobs need. The job store pickles a *reference* to each job function (module-level
    functions only), so they find the running worker's engine here rather than in their arguments."""

    services: Services
    engine: ReminderEngine
    config: ReminderConfig
    out: Out
    running: set[asyncio.Task[None]] = field(default_factory=set)


_runtime: _Runtime | None = None


async def sweep_job() -> None:
    runtime = _runtime
    if runtime is None:
        log.warning("reminder sweep fired with no active scheduler in this process")
        return
    task = asyncio.current_task()
    if task is not None:
        runtime.running.add(task)
    logcontext.bind(job_id=f"{SWEEP_JOB_ID}:{logcontext.new_id()}")  # APScheduler runs each job in a task of its own
    try:
        try:
            report = await runtime.engine.sweep()
        except Exception as exc:
            cause = unavailable_cause(exc)
            if cause is None:
                raise
            # The lease loop notices too and pauses everything; one line here instead of a traceback.
            runtime.out(f"sweep: skipped, the database is unavailable ({cause})")
            return
        took = ((report.finished_at or report.started_at) - report.started_at).total_seconds()
        runtime.out(f"sweep: {report.summary()} ({took:.1f} s)")
        for line in report.lines():
            log.info("sweep: %s", line)
    finally:
        if task is not None:
            runtime.running.discard(task)


async def prune_job() -> None:
    runtime = _runtime
    if runtime is None:
        return
    logcontext.bind(job_id=f"{PRUNE_JOB_ID}:{logcontext.new_id()}")
    before = utc_now() - timedelta(days=runtime.config.prune_days)
    removed = await runtime.services.reminders.prune(before)
    runtime.out(f"prune: {removed} sent-log rows older than {runtime.config.prune_days} days removed")
    await runtime.services.deliveries.purge()  # Slack deliveries kept for replay checks
    states = await runtime.services.connections.purge_expired_states()
    if states:
        runtime.out(f"prune: {states} expired connect links removed")


class ReminderScheduler:
    def __init__(
        self,
        settings: Settings,
        config: ReminderConfig | None = None,
        *,
        holder: str | None = None,
        out: Out = print,
        metrics_port: int | None = None,
        metrics_host: str = "0.0.0.0",
    ) -> None:
        self.settings = settings
        self.config = config or settings.reminders
        self.holder = holder or holder_id()
        self.out = out
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        self.role = "starting"  # what /healthz on the metrics port says: standby, active, paused
        self._outage: _Outage | None = None
        self._beat = self.config.lease_seconds / 3  # renew three times per lease period

    async def run(self, stop: asyncio.Event) -> int:
        """Wait for the lease, schedule the jobs, keep the lease until `stop` is set. 0: stopped cleanly.

        The database going away never ends the process: it pauses (nothing is sent without a renewed lease),
        retries with backoff, and when the database is back waits for the lease again, as active or standby.
        """
        url = self.settings.database_url
        if migrate.current(url) != migrate.head():
            self.out("scheduler: the database is not migrated to the latest revision; run `lmsbot db upgrade`")
            return 2
        services = build_services(self.settings)
        leases = LeaseRepository(services.db)
        ttl = timedelta(seconds=self.config.lease_seconds)
        beat = self._beat
        ops = await self._start_ops(services)
        try:
            while not stop.is_set():
                if not await self._wait_for_lease(leases, ttl, beat, stop):
                    break
                await self._active(services, leases, ttl, beat, stop)
            self.out("scheduler: stopped")
            return 0
        finally:
            if ops is not None:
                ops[0].should_exit = True
                await ops[1]
            await services.aclose()

    async def _start_ops(self, services: Services) -> tuple[OpsServer, asyncio.Task[None]] | None:
        """`--metrics-port`: /metrics, /healthz and /readyz on this worker's loop, beside the sweeps."""
        if self.metrics_port is None:
            return None
        server = ops_server(ops_app(services, lambda: {"role": self.role}), self.metrics_host, self.metrics_port)
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if task.done():  # the port is taken, or the host unknown: uvicorn said why
            await task
            raise SystemExit(f"error: cannot serve metrics on {self.metrics_host}:{self.metrics_port}")
        port = server.servers[0].sockets[0].getsockname()[1]
        self.out(f"scheduler: metrics, /healthz and /readyz on http://{self.metrics_host}:{port}")
        return server, task

    def _unavailable(self, exc: BaseException) -> float:
        """Note an outage (said once, with the real cause, and again when the cause changes); the next wait.

        Anything that is not the database being unreachable is a bug and is raised, not retried forever.
        """
        cause = unavailable_cause(exc)
        if cause is None:
            raise exc
        self.role = "paused"
        if self._outage is None:
            self._outage = _Outage(started=time.monotonic(), cause=cause, max_delay=max(1.0, self._beat))
            self.out(f"scheduler: the database is unavailable ({cause}); sending nothing until it is back")
        elif cause != self._outage.cause:
            self._outage.cause = cause
            self.out(f"scheduler: the database is still unavailable ({cause})")
        delay = self._outage.next_delay()
        log.info("scheduler: database unavailable, retrying in %.1f s: %s", delay, cause)
        return delay

    def _back(self) -> None:
        if self._outage is not None:
            took = time.monotonic() - self._outage.started
            self.out(f"scheduler: the database is back after {took:.0f} s")
            self._outage = None

    async def _wait_for_lease(self, leases: LeaseRepository, ttl: timedelta, beat: float, stop: asyncio.Event) -> bool:
        announced: str | None = None
        while not stop.is_set():
            try:
                if await asyncio.wait_for(leases.acquire(LEASE_NAME, self.holder, ttl), timeout=beat):
                    self._back()
                    return True
                lease = await asyncio.wait_for(leases.current(LEASE_NAME), timeout=beat)
            except Exception as exc:  # noqa: BLE001 - restarting or cut off: wait (_unavailable re-raises others)
                await _sleep_until(stop, self._unavailable(exc))
                continue
            self._back()
            who = lease.holder if lease else "another worker"
            self.role = "standby"
            if announced != who:
                self.out(f"scheduler: standby ({self.holder}); {who} is active, waiting to take over")
                announced = who
            await _sleep_until(stop, beat)
        return False

    async def _active(
        self, services: Services, leases: LeaseRepository, ttl: timedelta, beat: float, stop: asyncio.Event
    ) -> None:
        """Run the jobs while the lease is ours; return when stopping, when the lease was taken over, or as soon
        as a renewal fails (then the jobs stop at once: another worker may take over once the lease expires)."""
        global _runtime
        engine = build_engine(services, self.config)
        scheduler = self._scheduler(services)
        _runtime = _Runtime(services, engine, self.config, self.out)
        try:
            self._add_jobs(scheduler)
            scheduler.start()
        except Exception as exc:  # noqa: BLE001 - the job store is in the same database (others re-raised)
            await self._shutdown(scheduler, engine, leases, release=False)
            await _sleep_until(stop, self._unavailable(exc))
            return
        self.role = "active"
        self.out(f"scheduler: active ({self.holder}); sweeping every {self.config.sweep_minutes:g} min")
        release = True
        try:
            while not await _sleep_until(stop, beat):
                try:
                    held = await asyncio.wait_for(leases.renew(LEASE_NAME, self.holder, ttl), timeout=beat)
                except Exception as exc:  # noqa: BLE001 - cannot confirm the lease: stop sending until we can
                    release = False
                    self._unavailable(exc)
                    break
                if not held:
                    self.out("scheduler: the lease was taken over by another scheduler; standing by")
                    release = False
                    break
        finally:
            await self._shutdown(scheduler, engine, leases, release=release and stop.is_set())

    def _add_jobs(self, scheduler: AsyncIOScheduler) -> None:
        options = self._job_options()
        scheduler.add_job(
            sweep_job,
            "interval",
            seconds=self.config.sweep_minutes * 60,
            id=SWEEP_JOB_ID,
            name="reminder sweep",
            replace_existing=True,  # an explicit id, replaced on every start: never a pile of copies
            next_run_time=datetime.now(UTC),  # catch up at once after a start, a takeover or an outage
            **options,
        )
        scheduler.add_job(
            prune_job,
            "cron",
            hour=3,
            minute=17,
            id=PRUNE_JOB_ID,
            name="sent-log prune",
            replace_existing=True,
            **options,
        )

    def _scheduler(self, services: Services) -> AsyncIOScheduler:
        return AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=services.db.sync_url, tablename=JOB_TABLE)},
            job_defaults=self._job_options(),
            timezone=UTC,
        )

    def _job_options(self) -> dict[str, object]:
        # One run at a time, missed runs folded into one, and a sweep held up by a restart still runs if it is
        # at most `misfire_grace_seconds` late (APScheduler's default grace is 1 s).
        return {"coalesce": True, "max_instances": 1, "misfire_grace_time": self.config.misfire_grace_seconds}

    async def _shutdown(
        self, scheduler: AsyncIOScheduler, engine: ReminderEngine, leases: LeaseRepository, *, release: bool
    ) -> None:
        global _runtime
        runtime = _runtime
        if scheduler.running:
            scheduler.pause()  # no new sweep starts
        engine.stop()  # the running one finishes the learner in hand
        if runtime is not None and runtime.running:
            done, _ = await asyncio.wait(set(runtime.running), timeout=self.config.shutdown_grace_seconds)
            if len(done) < len(runtime.running):
                self.out("scheduler: the sweep did not finish in time; unconfirmed claims are retried later")
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn
        _runtime = None
        if not release:
            return  # an outage or a takeover: the lease is kept (resumed on return) or already someone else's
        try:
            await leases.release(LEASE_NAME, self.holder)
        except Exception as exc:  # noqa: BLE001 - the lease then simply expires
            log.warning("scheduler: could not release the lease: %s", unavailable_cause(exc) or exc)


@dataclass
class _Outage:
    """An ongoing database outage: when it began, why, and the backoff between retries."""

    started: float
    cause: str
    attempts: int = 0
    first_delay: float = 0.5
    max_delay: float = 10.0  # a lease period's third: back within one renewal of the database

    def next_delay(self) -> float:
        delay = min(self.max_delay, self.first_delay * 2.0**self.attempts)
        self.attempts += 1
        return delay


async def _sleep_until(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` or until `stop` is set; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
