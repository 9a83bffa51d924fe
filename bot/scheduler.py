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

This module is a composition root: it is where the engine gets its Slack rendering (handlers.views.digest).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Settings
from bot.container import Services, build_services
from bot.reminders.engine import ReminderEngine, utc_now
from bot.reminders.settings import ReminderConfig
from storage import migrate
from storage.repositories.leases import LeaseRepository

log = logging.getLogger(__name__)

LEASE_NAME = "reminder-scheduler"
SWEEP_JOB_ID = "reminders-sweep"
PRUNE_JOB_ID = "reminders-prune"
JOB_TABLE = "apscheduler_jobs"

Out = Callable[[str], None]


def build_engine(
    services: Services, config: ReminderConfig | None = None, *, clock: Callable[[], datetime] = utc_now
) -> ReminderEngine:
    """The reminder engine with the real Slack views (handlers are reached only from composition roots)."""
    from handlers.views.digest import DigestViews

    return ReminderEngine(services, DigestViews(), config, clock=clock)


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
    try:
        report = await runtime.engine.sweep()
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
    before = utc_now() - timedelta(days=runtime.config.prune_days)
    removed = await runtime.services.reminders.prune(before)
    runtime.out(f"prune: {removed} sent-log rows older than {runtime.config.prune_days} days removed")
    await runtime.services.deliveries.purge()  # Slack deliveries kept for replay checks


class ReminderScheduler:
    def __init__(
        self,
        settings: Settings,
        config: ReminderConfig | None = None,
        *,
        holder: str | None = None,
        out: Out = print,
    ) -> None:
        self.settings = settings
        self.config = config or ReminderConfig()
        self.holder = holder or holder_id()
        self.out = out

    async def run(self, stop: asyncio.Event) -> int:
        """Wait for the lease, schedule the jobs, keep the lease until `stop` is set. 0: stopped cleanly."""
        url = self.settings.database_url
        if migrate.current(url) != migrate.head():
            self.out("scheduler: the database is not migrated to the latest revision; run `lmsbot db upgrade`")
            return 2
        services = build_services(self.settings)
        leases = LeaseRepository(services.db)
        ttl = timedelta(seconds=self.config.lease_seconds)
        beat = self.config.lease_seconds / 3
        try:
            if not await self._wait_for_lease(leases, ttl, beat, stop):
                return 0
            return await self._active(services, leases, ttl, beat, stop)
        finally:
            await services.aclose()

    async def _wait_for_lease(self, leases: LeaseRepository, ttl: timedelta, beat: float, stop: asyncio.Event) -> bool:
        announced = False
        while not stop.is_set():
            try:
                if await leases.acquire(LEASE_NAME, self.holder, ttl):
                    return True
            except Exception as exc:  # noqa: BLE001 - the database may be restarting: keep waiting
                log.warning("scheduler: lease check failed: %s", exc)
            if not announced:
                lease = await leases.current(LEASE_NAME)
                who = lease.holder if lease else "another worker"
                self.out(f"scheduler: standby ({self.holder}); {who} is active, waiting to take over")
                announced = True
            await _sleep_until(stop, beat)
        return False

    async def _active(
        self, services: Services, leases: LeaseRepository, ttl: timedelta, beat: float, stop: asyncio.Event
    ) -> int:
        global _runtime
        engine = build_engine(services, self.config)
        scheduler = self._scheduler(services)
        _runtime = _Runtime(services, engine, self.config, self.out)
        options = self._job_options()
        scheduler.add_job(
            sweep_job,
            "interval",
            seconds=self.config.sweep_minutes * 60,
            id=SWEEP_JOB_ID,
            name="reminder sweep",
            replace_existing=True,  # an explicit id, replaced on every start: never a pile of copies
            next_run_time=datetime.now(UTC),  # catch up at once after a start or a takeover
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
        scheduler.start()
        self.out(f"scheduler: active ({self.holder}); sweeping every {self.config.sweep_minutes:g} min")
        code = 0
        last_renewed = datetime.now(UTC)
        try:
            while not await _sleep_until(stop, beat):
                try:
                    held = await leases.renew(LEASE_NAME, self.holder, ttl)
                    last_renewed = datetime.now(UTC)
                except Exception as exc:  # noqa: BLE001 - a blip: we hold the lease until it would expire
                    log.warning("scheduler: lease renewal failed: %s", exc)
                    held = datetime.now(UTC) - last_renewed < ttl * 0.8
                if not held:
                    self.out("scheduler: lost the lease (another scheduler took over); stopping")
                    code = 1
                    break
        finally:
            await self._shutdown(scheduler, engine, leases)
        return code

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

    async def _shutdown(self, scheduler: AsyncIOScheduler, engine: ReminderEngine, leases: LeaseRepository) -> None:
        global _runtime
        runtime = _runtime
        scheduler.pause()  # no new sweep starts
        engine.stop()  # the running one finishes the learner in hand
        if runtime is not None and runtime.running:
            done, _ = await asyncio.wait(set(runtime.running), timeout=self.config.shutdown_grace_seconds)
            if len(done) < len(runtime.running):
                self.out("scheduler: the sweep did not finish in time; unconfirmed claims are retried later")
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn
        _runtime = None
        try:
            await leases.release(LEASE_NAME, self.holder)
        except Exception as exc:  # noqa: BLE001 - the lease then simply expires
            log.warning("scheduler: could not release the lease: %s", exc)
        self.out("scheduler: stopped")


async def _sleep_until(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` or until `stop` is set; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
