"""`lmsbot lms …`: query an LMS connection from a terminal and print JSON (for admins debugging)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from bot.clock import SystemClock, wall_time
from bot.config import Settings
from bot.lms.dates import DateOrder, DateParseError, parse_datetime
from bot.lms.errors import LMSError, ValidationError
from bot.lms.factory import LmsClients, build_rate_limiter
from bot.lms.ispring_models import DateRange, ResultsFilter
from bot.lms.module_update import ModuleUpdateError, validate_module_update
from storage.db import Database
from storage.ratelimit import SqlRateLimitBackend


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="lms_command", metavar="COMMAND", required=True)

    p = sub.add_parser("module-progress", help="a learner's entity progress in one module")
    _course_args(p, batch_required=False)
    p.add_argument("--learner", required=True, help="learner id")

    p = sub.add_parser("plans", help="a learner's learning-plan progress")
    p.add_argument("--learner", required=True, help="learner id")

    p = sub.add_parser("sessions", help="sessions of a module in a blended batch")
    _course_args(p, batch_required=True)

    p = sub.add_parser("update-module", help="PATCH a module (Zoho Update Modules)")
    _course_args(p, batch_required=False)
    p.add_argument("--name", required=True)
    p.add_argument("--duration", help="minutes")
    p.add_argument("--description")
    p.add_argument("--lock-type", choices=["0", "1", "2"], help="0 unlocked, 1 until date, 2 until previous module")
    p.add_argument("--lock-until", help="DD-MM-YYYY (required with --lock-type 1)")

    p = sub.add_parser("courses", help="courses the connected Zoho user has joined")
    p.add_argument("--search")

    p = sub.add_parser("modules", help="modules of a course (or of a blended batch)")
    p.add_argument("--course", required=True)
    p.add_argument("--batch")

    p = sub.add_parser("module", help="one module")
    _course_args(p, batch_required=False)

    p = sub.add_parser("batches", help="batches of a blended-learning course")
    p.add_argument("--course", required=True)

    p = sub.add_parser("results", help="iSpring learners' module results")
    for flag, dest in (
        ("--user-id", "user_ids"),
        ("--course-id", "course_ids"),
        ("--module-id", "module_ids"),
        ("--course-item-id", "course_item_ids"),
        ("--enrollment-id", "enrollment_ids"),
        ("--department-id", "department_ids"),
    ):
        p.add_argument(flag, dest=dest, action="append", default=[], help="repeatable")
    p.add_argument("--status", dest="statuses", action="append", default=[], help="completion status; repeatable")
    p.add_argument("--user-status", dest="user_statuses", action="append", default=[], choices=["1", "3"])
    for name in ("access", "due", "completion"):
        p.add_argument(f"--{name}-from", help="RFC 3339 date-time, e.g. 2026-01-01T00:00:00Z")
        p.add_argument(f"--{name}-to")
    p.add_argument("--page-size", type=int)


def _course_args(p: argparse.ArgumentParser, *, batch_required: bool) -> None:
    p.add_argument("--course", required=True, help="course id")
    p.add_argument("--batch", required=batch_required, help="batch id (blended-learning courses)")
    p.add_argument("--module", required=True, help="module id")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        result = asyncio.run(_dispatch(args, settings))
    except ModuleUpdateError as exc:
        for field, text in exc.field_errors.items():
            print(f"error: --{field.replace('_', '-')}: {text}", file=sys.stderr)
        return 2
    except LMSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(_jsonable(result), indent=2, ensure_ascii=False))
    return 0


async def _dispatch(args: argparse.Namespace, settings: Settings) -> Any:
    handlers: dict[str, Callable[[LmsClients], Awaitable[Any]]] = {
        "module-progress": lambda c: c.zoho.module_progress(
            args.course, args.module, args.learner, batch_id=args.batch
        ),
        "plans": lambda c: c.zoho.learning_plans(args.learner),
        "sessions": lambda c: c.zoho.module_sessions(args.course, args.batch, args.module),
        "update-module": lambda c: _update_module(c, args, wall_time(SystemClock(), settings.lms_timezone).date()),
        "courses": lambda c: c.zoho.my_courses(search=args.search),
        "modules": lambda c: c.zoho.course_modules(args.course, batch_id=args.batch),
        "module": lambda c: c.zoho.module(args.course, args.module, batch_id=args.batch),
        "batches": lambda c: c.zoho.course_batches(args.course),
        "results": lambda c: c.ispring.module_results(_results_filter(args)),
    }
    # With RATE_LIMIT_BACKEND=database these calls count in the bot's shared budget like every other.
    db = Database(settings.database_url) if settings.rate_limit_backend == "database" else None
    try:
        limiter = build_rate_limiter(settings, database_backend=SqlRateLimitBackend(db) if db else None)
        async with LmsClients(settings, limiter=limiter) as clients:
            return await handlers[args.lms_command](clients)
    finally:
        if db is not None:
            await db.dispose()


async def _update_module(clients: LmsClients, args: argparse.Namespace, today: date) -> Any:
    """PATCH the module; without --lock-type its current lock is sent back unchanged.

    Zoho documents lockType's default as 0 (unlocked), so leaving it out of the PATCH would silently unlock a
    locked module that was only being renamed.
    """
    lock_type, lock_until = args.lock_type, args.lock_until
    fields = {"name": args.name, "duration": args.duration, "description": args.description}
    # What was typed is checked against today; a past date Zoho already holds is sent back as it is.
    validate_module_update(**fields, lock_type=lock_type, lock_until=lock_until, date_order=DateOrder.DMY, today=today)
    if lock_type is None:
        current = await clients.zoho.module(args.course, args.module, batch_id=args.batch)
        lock_type = str(int(current.lock_type))
        if lock_until is None and current.lock_until is not None:
            lock_until = current.lock_until.strftime("%d-%m-%Y")
    update = validate_module_update(
        **fields,
        lock_type=lock_type,
        lock_until=lock_until,
        date_order=DateOrder.DMY,  # what people type is DD-MM-YYYY, as Zoho documents (ZOHO_DATE_ORDER is for reading)
    )
    return await clients.zoho.update_module(args.course, args.module, update, batch_id=args.batch)


def _results_filter(args: argparse.Namespace) -> ResultsFilter:
    def span(name: str) -> DateRange | None:
        start, end = getattr(args, f"{name}_from"), getattr(args, f"{name}_to")
        if not start and not end:
            return None
        return DateRange(_moment(start, f"--{name}-from"), _moment(end, f"--{name}-to"))

    return ResultsFilter(
        user_ids=tuple(args.user_ids),
        course_ids=tuple(args.course_ids),
        module_ids=tuple(args.module_ids),
        course_item_ids=tuple(args.course_item_ids),
        enrollment_ids=tuple(args.enrollment_ids),
        department_ids=tuple(args.department_ids),
        completion_statuses=tuple(args.statuses),
        user_statuses=tuple(args.user_statuses),
        access_date=span("access"),
        due_date=span("due"),
        completion_date=span("completion"),
        page_size=args.page_size,
    )


def _moment(value: str | None, flag: str) -> datetime | None:
    try:
        return parse_datetime(value)
    except DateParseError as exc:
        raise ValidationError(f"{flag}: {exc}") from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
