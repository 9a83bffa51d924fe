"""`/lms status` (connections, links, tracked modules, request budget, last sweep) and `/lms remind status`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.services.types import (
    BudgetLine,
    ConnectionState,
    DailyBudgetLine,
    Provider,
    ReminderSettings,
    StatusReport,
    TrackedModuleRef,
)
from handlers.views import kit, limits
from handlers.views.formatting import (
    LOCKED,
    WARNING,
    as_aware,
    bar,
    code,
    duration_words,
    esc,
    plural,
    provider_name,
    slack_time,
    tracked_where,
    weekdays,
)
from handlers.views.kit import SlackMessage
from handlers.views.limits import Block

TRACKED_LINES = 20


def budget_line(line: BudgetLine) -> str:
    """ "`zoho.progress` `▰▰▰▰▰▰▰▰▱▱` 25 of 30 left" or "🔒 locked for 3 min" (Zoho's lock period)."""
    name = code(line.endpoint)
    if line.locked_for > 0:
        return f"{name} {LOCKED} locked for {duration_words(line.locked_for)}"
    fraction = line.remaining / line.limit if line.limit > 0 else 0.0
    return f"{name} {bar(fraction)} {line.remaining} of {line.limit} left"


def daily_budget_text(line: DailyBudgetLine) -> str:
    """ "*Zoho daily API budget*" then used in the last 24 h of the budget, and today's projection."""
    fraction = line.remaining / line.limit if line.limit > 0 else 0.0
    used = f"{bar(fraction)} {line.used:,} of {line.limit:,} calls used in the last 24 h ({line.remaining:,} left)"
    today = (
        f"Today ({esc(line.zone)}): {line.used_today:,} so far; at this pace about {line.projected_today:,} by midnight"
    )
    if line.projected_today > line.limit:
        today += f" {WARNING} more than the budget: people may be told to try later"
    return f"*Zoho daily API budget*\n{used}\n{today}"


def connection_lines(connections: dict[Provider, ConnectionState]) -> list[str]:
    return [f"• {provider_name(p)}: {connection_words(connections.get(p))}" for p in Provider]


def connection_words(state: ConnectionState | None) -> str:
    """ "connected (eu data center) by <@U…> on 02 Mar 2026", "connected through the bot's configuration"."""
    if state is None or state.via is None:
        return "not connected"
    if state.via == "configuration":
        return "connected through the bot's configuration"
    where = f" ({state.data_center} data center)" if state.data_center else ""
    by = f" by <@{state.connected_by}>" if state.connected_by else ""
    since = f" on {state.since:%d %b %Y}" if state.since else ""
    return f"connected{where}{by}{since}"


def link_lines(linked_as: dict[Provider, str]) -> list[str]:
    return [
        f"• {provider_name(p)}: " + (f"learner {code(linked_as[p])}" if p in linked_as else "not linked")
        for p in Provider
    ]


def tracked_line(tracked: TrackedModuleRef) -> str:
    return f"• {code(tracked.label)} — {tracked_where(tracked)}"


def sweep_line(last_sweep: datetime | None, summary: str | None) -> str:
    if last_sweep is None:
        return "Reminders have not been swept yet."
    return f"Last reminder sweep {slack_time(last_sweep, '{date_short_pretty} {time}')}" + (
        f" — {esc(summary)}" if summary else ""
    )


ITEM_URL_SETTINGS = {Provider.ZOHO: "REMINDER_ZOHO_ITEM_URL", Provider.ISPRING: "REMINDER_ISPRING_ITEM_URL"}


def item_link_lines(report: StatusReport) -> list[str]:
    """Admins: whether each connected LMS's "Open in LMS" buttons can open the item (its URL template is set)."""
    if report.item_links_error:
        return [f"{WARNING} The reminder settings could not be read: {esc(report.item_links_error)}"]
    lines: list[str] = []
    for provider, is_set in (report.item_links or {}).items():
        setting = code(ITEM_URL_SETTINGS[provider])
        if is_set:
            lines.append(f"{provider_name(provider)}: {setting} is set — each module's button opens its item.")
        elif provider is Provider.ZOHO:
            lines.append(
                f"{WARNING} {provider_name(provider)}: no {setting} set — digests can only offer the Zoho People"
                " home page. Set it to your item address (placeholders in the README, Reminders)."
            )
        else:
            lines.append(
                f"{WARNING} {provider_name(provider)}: no {setting} set — an iSpring item whose course iSpring"
                " gives no address for has no Open in LMS button."
            )
    return lines


def status_message(report: StatusReport) -> SlackMessage:
    blocks: list[Block] = [
        kit.header("LMS bot status"),
        kit.section("*Connections*\n" + "\n".join(connection_lines(report.connections))),
        *([kit.context(f"Zoho People bulk reads: {esc(report.zoho_bulk_reads)}")] if report.zoho_bulk_reads else []),
        kit.section(
            "*Your links*\n" + "\n".join(link_lines(report.linked_as)),
        ),
    ]
    if not report.linked_as:
        blocks.append(kit.context("Link yourself with `/lms link &lt;learner id or e-mail&gt;`."))
    if report.budgets:
        blocks.append(kit.section("*LMS request budget*\n" + "\n".join(budget_line(b) for b in report.budgets)))
    if report.daily is not None:
        blocks.append(kit.section(daily_budget_text(report.daily)))
    if links := item_link_lines(report):
        blocks.append(kit.section("*Open in LMS links*\n" + "\n".join(links)))
    tail = [kit.context(sweep_line(report.last_sweep, report.last_sweep_summary))]
    blocks.append(kit.section(f"*Tracked modules* ({len(report.tracked)})"))
    if report.tracked:
        blocks += limits.list_blocks(
            [tracked_line(t) for t in report.tracked],
            noun="tracked modules",
            max_blocks=limits.MESSAGE_BLOCKS - len(blocks) - len(tail),
            max_chars=limits.MESSAGE_TEXT_BUDGET - limits.text_size(blocks + tail),
            max_lines=TRACKED_LINES,
        )
    else:
        blocks.append(kit.context("None yet — admins add modules with `/lms track`."))
    connected = ", ".join(provider_name(p) for p in report.connections) or "nothing connected"
    return kit.message(f"LMS bot status: {connected}; {plural(len(report.tracked), 'tracked module')}", blocks + tail)


def learner_status_message(
    report: StatusReport, reminders: ReminderSettings, *, now: datetime | None = None, manager: bool = False
) -> SlackMessage:
    """`/lms status` for people who are not admins: their own links and reminder settings, in words — not the
    LMS request budget or raw ids, which only admins can act on."""
    # Their own learner id stays (it is what an admin asks for when sorting out a link); course, batch and
    # module ids and the request budget are for admins.
    links = [
        f"• {provider_name(p)}: "
        + (
            f"linked :white_check_mark: (learner {code(report.linked_as[p])})"
            if p in report.linked_as
            else "not linked"
        )
        for p in report.connections
    ] or ["• No LMS is connected yet: ask an admin to run `/lms connect`."]
    blocks: list[Block] = [
        kit.header("Your lmsbot status"),
        kit.section("*Your links*\n" + "\n".join(links)),
    ]
    if any(p not in report.linked_as for p in report.connections):
        blocks.append(kit.context("Link yourself with `/lms link you@company.com` (or the Link me button on Home)."))
    lines = reminder_lines(reminders, now=now, manager=manager)
    if (muted := muted_line(reminders.muted)) is not None:
        lines.append(muted)
    blocks += [
        kit.section("*Your reminders*\n" + "\n".join(lines)),
        kit.context("Change them with `/lms remind …` or on the bot's Home tab."),
    ]
    labels = [code(t.label) for t in report.tracked]
    followed = ", ".join(labels[:TRACKED_LINES]) + (
        f" …and {len(labels) - TRACKED_LINES} more" if len(labels) > TRACKED_LINES else ""
    )
    blocks.append(kit.section(f"*Modules followed* ({len(labels)})\n" + (followed or "None yet.")))
    linked = ", ".join(provider_name(p) for p in report.linked_as) or "not linked"
    state = "on" if reminders.enabled else "off"
    return kit.message(f"Your lmsbot status: {linked}; reminders {state}", blocks)


# --- reminders -------------------------------------------------------------------------------------------------


def reminder_lines(settings: ReminderSettings, *, now: datetime | None = None, manager: bool = True) -> list[str]:
    """The learner's reminder preferences in words, one fact a line (the weekly digest's only for `manager`)."""
    if not settings.enabled:
        return [":no_bell: Reminders are *off*."]
    zone = f" ({esc(settings.timezone)})" if settings.timezone else ""
    lines = [f":bell: Reminders are *on* — at *{esc(settings.send_time)}*{zone}, {weekdays(settings.weekdays)}."]
    if manager:
        lines.append(f"Weekly overdue digest (managers and admins): *{'on' if settings.digest else 'off'}*")
    if settings.quiet_start and settings.quiet_end:
        lines.append(f"Quiet hours: {esc(settings.quiet_start)}–{esc(settings.quiet_end)}")
    if settings.snoozed_until is not None and (now is None or as_aware(settings.snoozed_until) > as_aware(now)):
        lines.append(f":zzz: Snoozed until {slack_time(settings.snoozed_until, '{date_short_pretty} {time}')}")
    return lines


def muted_line(muted: Sequence[TrackedModuleRef]) -> str | None:
    if not muted:
        return None
    return ":mute: Muted: " + ", ".join(code(t.label) for t in muted)


def reminder_settings_message(
    settings: ReminderSettings, *, now: datetime | None = None, manager: bool = True
) -> SlackMessage:
    """`/lms remind status`. `now` hides a snooze that has already run out; the manager-only weekly digest
    switch is shown to `manager`s only."""
    lines = reminder_lines(settings, now=now, manager=manager)
    if (muted := muted_line(settings.muted)) is not None:
        lines.append(muted)
    blocks: list[Block] = [
        kit.section("\n".join(lines)),
        kit.context(
            "Change them: `/lms remind on|off|at HH:MM|days mon-fri|quiet HH:MM-HH:MM|snooze 1d|mute …"
            + ("|digest on|off" if manager else "")
            + "` — or from the bot's Home tab."
        ),
    ]
    state = "on at " + settings.send_time if settings.enabled else "off"
    return kit.message(f"Reminders are {state}.", blocks)


REMINDER_HOME_HINT = "Days, quiet hours and snooze can also be set on the bot's Home tab."


def reminder_changed_message(note: str, settings: ReminderSettings, *, manager: bool) -> SlackMessage:
    """`/lms remind …` done: what changed, then the settings as they are now."""
    status = reminder_settings_message(settings, manager=manager)
    return kit.message(note, [kit.section(f":white_check_mark: {note}"), *status["blocks"]])


def reminder_refused_message(problem: str) -> SlackMessage:
    """`/lms remind …` that could not be applied: why, and where else it can be set."""
    return kit.message(problem, [kit.section(f":warning: {problem}"), kit.context(REMINDER_HOME_HINT)])
