"""`lmsbot remind --now [--force] [--dry-run] [--user U]`, `lmsbot scheduler` and `lmsbot worker`.

Also runnable as `python -m bot.reminders_cli …` with the same arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from pydantic import ValidationError

from bot.config import Settings
from bot.container import build_services
from bot.preflight import describe
from bot.reminders.engine import Forced
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.reminders_root import build_engine
from bot.scheduler import ReminderScheduler

COMMANDS = {"remind", "scheduler", "worker"}


def add_arguments(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("remind", help="send the reminders that are due, right now")
    p.add_argument(
        "--now",
        action="store_true",
        required=True,
        help="one sweep right away, as if it were every learner's send time, still outside their quiet hours, "
        "on their chosen days and not while snoozed (a second run in the same day sends nothing new)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="with --now: also inside quiet hours, on days not chosen and while snoozed (reminders turned off "
        "stay off)",
    )
    p.add_argument("--dry-run", action="store_true", help="print what would be sent; send, claim and store nothing")
    p.add_argument("--user", help="only this Slack user id (U…)")
    p.add_argument("--team", help="only this Slack workspace id (T…)")
    p = sub.add_parser(
        "scheduler",
        help="run the reminder scheduler (REMINDER_EXECUTOR=apscheduler, the default); a second one waits as a hot "
        "standby",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="P",
        help="also serve /metrics (Prometheus), /healthz and /readyz on this port",
    )
    p.add_argument("--metrics-host", default="0.0.0.0", help="the address for --metrics-port (default 0.0.0.0)")
    p = sub.add_parser(
        "worker",
        help="run procrastinate workers for the reminder sweeps (REMINDER_EXECUTOR=procrastinate, PostgreSQL): "
        "one sweep job per workspace and period, shared by every worker",
    )
    p.add_argument(
        "--processes",
        type=_positive,
        default=1,
        metavar="N",
        help="worker processes to run (sweeps are CPU-bound: about one per core; default 1)",
    )
    p.add_argument(
        "--concurrency",
        type=_positive,
        default=None,
        metavar="C",
        help="workspace sweeps each process runs at once (default REMINDER_WORKSPACE_CONCURRENCY, 4)",
    )


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        config = settings.reminders
    except ValidationError as exc:
        print(f"error: reminder configuration: {describe(exc, prefix='REMINDER_')}", file=sys.stderr)
        return 2
    if args.command in ("scheduler", "worker"):
        from bot.runtime import warn_if_budget_is_private
        from bot.worker import ExecutorError, check_executor

        try:
            check_executor(settings, config)
        except ExecutorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        wanted = "worker" if config.executor == "procrastinate" else "scheduler"
        if args.command != wanted:
            print(
                f"error: REMINDER_EXECUTOR={config.executor}: the reminder sweeps run in `lmsbot {wanted}`, not "
                f"`lmsbot {args.command}`",
                file=sys.stderr,
            )
            return 2
        warn_if_budget_is_private(settings)
        if args.command == "worker":
            return _workers(settings, config, args.processes, args.concurrency or config.workspace_concurrency)
        return asyncio.run(_scheduler(settings, config, args.metrics_port, args.metrics_host))
    report = asyncio.run(
        sweep_now(settings, dry_run=args.dry_run, user=args.user, team=args.team, config=config, force=args.force)
    )
    for line in report.lines():
        print(line, flush=True)
    print(("dry run: " if args.dry_run else "") + report.summary(), flush=True)
    return 1 if report.errors else 0


async def sweep_now(
    settings: Settings,
    *,
    dry_run: bool = False,
    user: str | None = None,
    team: str | None = None,
    config: ReminderConfig | None = None,
    force: bool = False,
) -> SweepReport:
    """One forced sweep with its own services (the `remind --now` command and the console's `remind`): people's
    quiet hours, chosen days and snoozes hold unless `force`."""
    services = build_services(settings)
    forced = Forced(respect_schedule=not force, respect_snooze=not force)
    try:
        engine = build_engine(services, config or settings.reminders)
        return await engine.sweep(force=forced, dry_run=dry_run, only_user=user, team_id=team)
    finally:
        await services.aclose()


def _workers(settings: Settings, config: ReminderConfig, processes: int, concurrency: int) -> int:
    from bot.worker import ReminderWorker, run_processes

    if processes > 1:
        return run_processes(processes, concurrency)

    async def one() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        worker = ReminderWorker(settings, config, concurrency=concurrency, out=lambda line: print(line, flush=True))
        return await worker.run(stop)

    return asyncio.run(one())


async def _scheduler(settings: Settings, config: ReminderConfig, metrics_port: int | None, metrics_host: str) -> int:

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler = ReminderScheduler(
        settings,
        config,
        out=lambda line: print(line, flush=True),
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    )
    return await scheduler.run(stop)
