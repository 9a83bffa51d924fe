"""`make demo`: a short guided tour of lmsbot against the local LMS sandbox (no internet, no Slack).

Until the Slack side exists this drives the LMS clients directly and prints what a learner, a trainer and
a manager would see, plus the CLI commands to reproduce each step.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from bot.config import Settings
from bot.lms.errors import LMSError
from bot.lms.factory import LmsClients
from bot.lms.ispring_models import ResultsFilter
from bot.lms.module_update import LOCK_TYPE_LABELS, validate_module_update
from bot.lms.zoho_models import ModuleProgress
from bot.sandbox import seed
from bot.sandbox.server import SandboxConfig, SandboxServer

COURSE, MODULE, BATCH = str(seed.BLENDED_COURSE), str(seed.BL_KICKOFF), str(seed.BATCH_SPRING)
SELF_PACED, LOCKED_MODULE = str(seed.SELF_PACED_COURSE), str(seed.SP_MODULE_2)
LEARNER, PLAN_LEARNER = str(seed.SAMPLE_LEARNER), str(seed.PLANS_LEARNER)


def settings_for(server: SandboxServer) -> Settings:
    cfg = server.config
    return Settings(
        _env_file=None,
        zoho_people_url=server.url,
        zoho_accounts_url=server.url,
        zoho_client_id=cfg.zoho_client_id,
        zoho_client_secret=cfg.zoho_client_secret,
        zoho_refresh_token=cfg.zoho_refresh_token,
        ispring_api_url=server.url + "/ispring",
        ispring_client_id=cfg.ispring_client_id,
        ispring_client_secret=cfg.ispring_client_secret,
    )


def heading(title: str, command: str) -> None:
    print(f"\n== {title}\n   $ {command}")


def show_progress(progress: ModuleProgress) -> None:
    if progress.is_locked:
        print(f"   {progress.module_name}: locked for this learner")
        return
    print(f"   {progress.module_name} ({len(progress.entities)} items)")
    for entity in progress.entities:
        mark = "done   " if entity.is_complete else "pending"
        mandatory = "mandatory" if entity.is_mandatory else "optional"
        print(f"   - [{mark}] {entity.label}: {entity.name} ({mandatory}, id {entity.entity_id})")


async def tour(server: SandboxServer) -> None:
    async with LmsClients(settings_for(server)) as lms:
        zoho, ispring = lms.zoho, lms.ispring
        heading(
            "A learner's progress in a blended module",
            f"lmsbot lms module-progress --course {COURSE} --batch {BATCH} --module {MODULE} --learner {LEARNER}",
        )
        show_progress(await zoho.module_progress(COURSE, MODULE, LEARNER, batch_id=BATCH))

        heading(
            "A module locked until the previous one is completed",
            f"lmsbot lms module-progress --course {SELF_PACED} --module {LOCKED_MODULE} --learner 100002000000032193",
        )
        show_progress(await zoho.module_progress(SELF_PACED, LOCKED_MODULE, "100002000000032193"))

        heading("Learning plans", f"lmsbot lms plans --learner {PLAN_LEARNER}")
        for plan in await zoho.learning_plans(PLAN_LEARNER):
            state = "completed" if plan.user.completed else ("joined" if plan.user.joined else "not joined")
            print(f"   - {plan.name}: {state}, {plan.info.mandatory_course_count} mandatory course(s)")

        office_hours = str(seed.BL_OFFICE_HOURS)
        heading(
            "Upcoming sessions",
            f"lmsbot lms sessions --course {COURSE} --batch {BATCH} --module {office_hours}",
        )
        sessions = await zoho.module_sessions(COURSE, BATCH, office_hours)
        for session in [s for s in sessions if s.start_date and s.start_date >= date.today()][:5]:
            when = session.starts_at.strftime("%a %d %b %H:%M") if session.starts_at else "date to be set"
            print(f"   - {when}  {session.name} · {session.session_type} · {session.room} · {session.trainer}")

        until = date.today() + timedelta(days=14)
        heading(
            "A trainer locks a module until a date (Zoho Update Modules PATCH)",
            f"lmsbot lms update-module --course {SELF_PACED} --module {seed.SP_MODULE_1} --name 'Phishing basics' "
            f"--duration 45 --lock-type 1 --lock-until {until:%d-%m-%Y}",
        )
        update = validate_module_update(
            name="Phishing basics", duration="45", lock_type="1", lock_until=until.strftime("%d-%m-%Y")
        )
        module = await zoho.update_module(SELF_PACED, str(seed.SP_MODULE_1), update)
        print(
            f"   {module.name}: {module.duration_minutes:.0f} min, {LOCK_TYPE_LABELS[module.lock_type].lower()} "
            f"({module.lock_until:%d %b %Y})"
        )

        heading("A manager's view of iSpring results", "lmsbot lms results --page-size 2")
        results = await ispring.module_results(ResultsFilter(page_size=2))
        overdue = [r for r in results if r.is_overdue]
        print(f"   {len(results)} results fetched page by page; {len(overdue)} overdue:")
        for result in overdue[:5]:
            due = result.due_date.strftime("%d %b %Y") if result.due_date else "no due date"
            print(f"   - {result.module_title}: {result.completion_status}, {result.progress or 0:.0f}%, due {due}")

        budget = await lms.limiter.budget(zoho.transport.limit_key("module-progress"))
        print(f"\nRate limit: {budget.remaining} of {budget.limit} module-progress calls left this minute.")
        calls = zoho.transport.calls + ispring.transport.calls
        print("Calls the sandbox received:", dict(sorted(calls.items())))


def run_demo() -> int:
    print("lmsbot demo: the LMS sandbox stands in for Zoho People and iSpring Learn (nothing leaves this machine).")
    with SandboxServer(SandboxConfig()) as server:
        print(f"Sandbox running at {server.url}. Start your own with: lmsbot sandbox --port 8900")
        try:
            asyncio.run(tour(server))
        except LMSError as exc:
            print(f"error: {exc}")
            return 1
    print("\nThe Slack side (slash commands, modals, reminders) arrives with the next issues.")
    return 0
