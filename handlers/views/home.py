"""The App Home tab: what the learner must do, what is locked, what is coming, and their reminder controls;
admins also see connections, tracked modules and the last reminder sweep."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from bot.services.types import (
    IspringProgress,
    ModuleStatus,
    PlansReport,
    Provider,
    ReminderSettings,
    SessionsReport,
    StatusReport,
)
from handlers.views import kit, limits
from handlers.views.formatting import (
    LOCKED,
    WARNING,
    code,
    entity_line,
    esc,
    freshness_line,
    lock_reason,
    oldest,
    provider_name,
    tracked_where,
)
from handlers.views.ispring import ispring_blocks, ispring_summary
from handlers.views.kit import Element, SlackView
from handlers.views.limits import Block
from handlers.views.progress import (
    is_locked,
    missed_note,
    module_name,
    module_problem,
    pending_items,
    progress_summary,
    unchecked_line,
)
from handlers.views.reports import plan_line, session_line, split_sessions
from handlers.views.status import (
    budget_line,
    connection_lines,
    daily_budget_text,
    reminder_lines,
    sweep_line,
    tracked_line,
)

REMIND_ON_ACTION = "remind_on"
REMIND_OFF_ACTION = "remind_off"
REMIND_TIME_ACTION = "remind_time"  # timepicker: selected_time "HH:MM"
REMIND_DIGEST_ON_ACTION = "remind_digest_on"
REMIND_DIGEST_OFF_ACTION = "remind_digest_off"
REMIND_UNMUTE_ACTION = "remind_unmute"  # value: tracked id
HOME_REFRESH_ACTION = "home_refresh"
HOME_LINK_ME_ACTION = "home_link_me"  # link the person by their Slack e-mail
REMIND_DAYS_ACTION = "remind_days"  # multi_static_select: selected_options mon…sun
REMIND_QUIET_ACTION = "remind_quiet"  # static_select: "HH:MM-HH:MM" or "off"
REMIND_SNOOZE_DAY_ACTION = "remind_snooze_1d"
REMIND_SNOOZE_WEEK_ACTION = "remind_snooze_1w"
REMIND_SNOOZE_UNTIL_ACTION = "remind_snooze_until"  # datepicker: selected_date
REMINDER_CONTROLS_BLOCK = "home_reminder_controls"
REMINDER_SCHEDULE_BLOCK = "home_reminder_schedule"
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday"}
DAY_NAMES |= {"sat": "Saturday", "sun": "Sunday"}
QUIET_PRESETS = ("22:00-07:00", "20:00-08:00", "18:00-09:00", "12:00-13:00")
NO_DAYS_NOTE = ":warning: Choose at least one day (or turn reminders off)."
NO_EMAIL_NOTE = ":warning: Slack did not give your e-mail address: use `/lms link you@company.com` instead."


def refused_note(problem: str) -> str:
    """A reminder control that could not be applied: the tab's note says why."""
    return f":warning: {problem}"[:300]


def link_me_note(said: Sequence[tuple[Provider, str | None, str | None]]) -> str:
    """What "Link me" did per LMS: (provider, learner id linked, or the problem in words)."""
    lines = [
        f"{provider_name(provider)}: " + (f"linked as learner {learner}" if learner is not None else str(problem))
        for provider, learner, problem in said
    ]
    return "; ".join(lines) or ":warning: No LMS is connected yet: ask an admin to run `/lms connect`."


# Lines per section; each list ends with "…and N more" when longer.
TODO_LINES = 15
LOCKED_LINES = 10
SESSION_LINES = 5
PLAN_LINES = 5
TRACKED_LINES = 10
UNMUTE_LINES = 10


def _list(title: str, lines: list[str], *, noun: str, max_lines: int, hint: str | None = None) -> list[Block]:
    blocks = [kit.section(f"*{title}*")]
    return blocks + limits.list_blocks(
        lines, noun=noun, max_blocks=3, max_chars=limits.SECTION_TEXT * 2, max_lines=max_lines, hint=hint
    )


def _learner_blocks(
    modules: Sequence[ModuleStatus], sessions: SessionsReport | None, plans: PlansReport | None, now: datetime
) -> list[Block]:
    todo = [f"{entity_line(e, s.now)} · {code(s.tracked.label)}" for s in modules for e in pending_items(s)]
    unchecked = unchecked_line(modules)
    if not todo:  # "nothing waiting" only when every module could be checked
        todo = [
            f"{WARNING} Nothing due in what we could check: {unchecked}."
            if unchecked
            else "Nothing mandatory is waiting. :tada:"
        ]
    blocks = _list(
        "To do",
        todo,
        noun="items",
        max_lines=TODO_LINES,
        hint="see all with `/lms progress`",
    )
    missed = [note for s in modules if (note := missed_note(s)) is not None]
    if missed:
        blocks.append(kit.context(limits.clip("\n".join(missed), limits.SECTION_TEXT)))
    problems = [f"{WARNING} {code(s.tracked.label)}: {esc(p)}" for s in modules if (p := module_problem(s)) is not None]
    if problems:
        blocks.append(kit.context(limits.clip("\n".join(problems), limits.SECTION_TEXT)))
    locked = [
        f"{LOCKED} *{esc(module_name(s) or s.tracked.label)}* — {lock_reason(s.module)}"
        for s in modules
        if is_locked(s)
    ]
    if locked:
        blocks += _list("Locked modules", locked, noun="locked modules", max_lines=LOCKED_LINES)
    if sessions is not None:
        upcoming, _ = split_sessions(sessions.sessions, now)
        lines = [session_line(i, now) for i in upcoming] or ["No sessions coming up."]
        blocks += _list("Upcoming sessions", lines, noun="sessions", max_lines=SESSION_LINES, hint="`/lms sessions`")
    if plans is not None and plans.plans:
        open_plans = [p for p in plans.plans if not p.user.completed]
        lines = [plan_line(p) for p in open_plans] or ["Every learning plan is completed. :tada:"]
        blocks += _list("Learning plans", lines, noun="plans", max_lines=PLAN_LINES, hint="`/lms plans`")
    return blocks


def hh_mm(text: str) -> str | None:
    """ "9:00" -> "09:00": the timepicker takes only HH:mm (24-hour); anything else shows no initial time."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        return None
    return f"{int(match[1]):02d}:{match[2]}"


def _days_select(settings: ReminderSettings) -> Element:
    options = [kit.option(name, day) for day, name in DAY_NAMES.items()]
    chosen = [o for o in options if o["value"] in settings.weekdays]
    element: Element = {
        "type": "multi_static_select",
        "action_id": REMIND_DAYS_ACTION,
        "placeholder": kit.plain("Days", limits.PLACEHOLDER),
        "options": options,
    }
    if chosen:
        element["initial_options"] = chosen
    return element


def _quiet_select(settings: ReminderSettings) -> Element:
    current = f"{settings.quiet_start}-{settings.quiet_end}" if settings.quiet_start and settings.quiet_end else None
    spans = list(QUIET_PRESETS) + ([current] if current and current not in QUIET_PRESETS else [])
    options = [kit.option("No quiet hours", "off")] + [
        kit.option(f"Quiet {span.replace('-', '–')}", span) for span in spans
    ]
    initial = next((o for o in options if o["value"] == (current or "off")), None)
    return kit.static_select(REMIND_QUIET_ACTION, placeholder="Quiet hours", options=options, initial_option=initial)


def _reminder_blocks(
    settings: ReminderSettings, now: datetime, *, manager: bool, note: str | None = None
) -> list[Block]:
    controls: list[Element] = [
        kit.button("Turn reminders off", REMIND_OFF_ACTION)
        if settings.enabled
        else kit.button("Turn reminders on", REMIND_ON_ACTION, style="primary"),
        kit.timepicker(REMIND_TIME_ACTION, initial=hh_mm(settings.send_time), timezone=settings.timezone),
    ]
    if manager:  # the weekly overdue digest goes to managers and admins only: nobody else needs its switch
        controls.append(
            kit.button("Weekly digest off", REMIND_DIGEST_OFF_ACTION)
            if settings.digest
            else kit.button("Weekly digest on", REMIND_DIGEST_ON_ACTION)
        )
    schedule: list[Element] = [_days_select(settings), _quiet_select(settings)]
    if settings.enabled:
        schedule += [
            kit.button("Snooze 1 day", REMIND_SNOOZE_DAY_ACTION),
            kit.button("Snooze 1 week", REMIND_SNOOZE_WEEK_ACTION),
            kit.datepicker(REMIND_SNOOZE_UNTIL_ACTION, placeholder="Snooze until…"),
        ]
    blocks = [
        kit.divider(),
        kit.section("*Reminders*\n" + "\n".join(reminder_lines(settings, now=now, manager=manager))),
        *([kit.context(note)] if note else []),
        kit.actions(controls, block_id=REMINDER_CONTROLS_BLOCK),
        kit.actions(schedule, block_id=REMINDER_SCHEDULE_BLOCK),
    ]
    if settings.muted:
        blocks.append(kit.section(f":mute: *Muted modules* ({len(settings.muted)})"))
        # One button per section: Slack wants action_ids unique within a block, and handlers match one id.
        for tracked in settings.muted[:UNMUTE_LINES]:
            unmute = kit.button("Unmute", REMIND_UNMUTE_ACTION, value=str(tracked.id))
            blocks.append(kit.section(f"{code(tracked.label)} — {tracked_where(tracked)}", accessory=unmute))
        if len(settings.muted) > UNMUTE_LINES:
            hidden = len(settings.muted) - UNMUTE_LINES
            blocks.append(kit.context(limits.more_line(hidden, "muted modules") + " — `/lms remind status`"))
    return blocks


WELCOME_TEXT = (
    "*Welcome to lmsbot* :wave:\n"
    "• Your to-dos from the LMS, here and in one short daily DM at a time you choose\n"
    "• Upcoming sessions in your own time zone, and what you missed\n"
    "• Reminders you control below: time, days, quiet hours, snooze — or `/lms remind`\n"
    "Type `/lms help` for every command."
)


def _welcome_blocks(linked: bool) -> list[Block]:
    """A first visit: what the bot does, and (not linked yet) a button that links by the Slack e-mail."""
    if linked:
        return [kit.section(WELCOME_TEXT), kit.divider()]
    link = kit.button("Link me", HOME_LINK_ME_ACTION, style="primary")
    return [
        kit.section(WELCOME_TEXT, accessory=link),
        kit.context("Link me finds you in the LMS by your Slack e-mail address."),
        kit.divider(),
    ]


def _admin_blocks(status: StatusReport) -> list[Block]:
    blocks = [
        kit.divider(),
        kit.header("Admin"),
        kit.section("*Connections*\n" + "\n".join(connection_lines(status.connections))),
    ]
    if status.budgets:
        blocks.append(kit.section("*LMS request budget*\n" + "\n".join(budget_line(b) for b in status.budgets)))
    if status.daily is not None:
        blocks.append(kit.section(daily_budget_text(status.daily)))
    blocks += _list(
        f"Tracked modules ({len(status.tracked)})",
        [tracked_line(t) for t in status.tracked] or ["None yet — add one with `/lms track`."],
        noun="tracked modules",
        max_lines=TRACKED_LINES,
        hint="`/lms status`",
    )
    blocks.append(kit.context(sweep_line(status.last_sweep, status.last_sweep_summary)))
    return blocks


def home_view(
    *,
    modules: Sequence[ModuleStatus],
    reminders: ReminderSettings,
    now: datetime,
    sessions: SessionsReport | None = None,
    plans: PlansReport | None = None,
    admin: StatusReport | None = None,
    linked: bool = True,
    manager: bool = False,
    tracked_total: int | None = None,
    welcome: bool = False,
    note: str | None = None,
    ispring: IspringProgress | None = None,
    zoho_linked: bool = True,
) -> SlackView:
    """The Home tab for views.publish. Pass `admin` (the status report) only for admins.

    `now` splits upcoming from past sessions and hides a snooze that has run out; `welcome` (a first visit)
    adds what the bot does and, when not linked, a "Link me" button; `note` says what the last change did.
    `tracked_total`: how many modules are tracked, when `modules` holds only some of them.
    """
    fresh = freshness_line(
        oldest([s.freshness for s in modules] + [r.freshness for r in (sessions, plans, ispring) if r is not None])
    )
    refresh = kit.button("Refresh", HOME_REFRESH_ACTION)
    blocks: list[Block] = _welcome_blocks(linked) if welcome else []
    blocks.append(kit.header("Your learning"))
    if linked:
        summaries = []
        if zoho_linked:
            summaries.append(progress_summary(modules) if modules else "No modules are tracked yet.")
        if ispring is not None:  # an iSpring-only learner sees their iSpring modules, not a "link" prompt
            summaries.append(ispring_summary(ispring))
        blocks.append(kit.section(f"*{' · '.join(summaries)}*", accessory=refresh))
        if fresh:
            blocks.append(kit.context(fresh))
        if tracked_total is not None and tracked_total > len(modules):
            # Home reads a capped number of modules from the LMS each time it is built.
            blocks.append(
                kit.context(
                    f"Showing {len(modules)} of {tracked_total} tracked modules: the others are read a few at a "
                    "time — press Refresh for more, or use `/lms progress`."
                )
            )
        if zoho_linked:
            blocks += _learner_blocks(modules, sessions, plans, now)
        if ispring is not None:
            blocks += ispring_blocks(ispring, summary=zoho_linked)
    else:
        blocks.append(
            kit.section(
                "Link your LMS account to see your progress here: `/lms link &lt;learner id or e-mail&gt;`.",
                accessory=refresh,
            )
        )
    blocks += _reminder_blocks(reminders, now, manager=manager or admin is not None, note=note)
    if admin is not None:
        blocks += _admin_blocks(admin)
    return kit.home(blocks)
