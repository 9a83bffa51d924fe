"""`/lms help`, and the short answer to an unknown subcommand or bad arguments (with the closest commands)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from handlers.views import kit
from handlers.views.formatting import WARNING, esc
from handlers.views.kit import SlackMessage
from handlers.views.limits import Block

SLASH_COMMAND = "/lms"
ADMINS = "admins"


@dataclass(frozen=True, slots=True)
class CommandHelp:
    name: str
    usage: str  # arguments after the subcommand
    summary: str
    examples: tuple[str, ...] = ()  # only where arguments need showing
    audience: str | None = None  # None = everyone; otherwise who may run it
    admin_usage: str | None = None  # an extra form only admins may use


COMMANDS: tuple[CommandHelp, ...] = (
    CommandHelp(
        "link",
        "<learner id or e-mail>",
        "Link your Slack account to your learner records; the reply says what was linked in each LMS.",
        ("link jane@example.com",),
        admin_usage="link @user <learner id or e-mail>",
    ),
    CommandHelp(
        "unlink",
        "[zoho|ispring]",
        "Forget your link to one LMS, or to both (asks first).",
        ("unlink zoho",),
        admin_usage="unlink @user [zoho|ispring]",
    ),
    CommandHelp(
        "progress", "[module]", "Your progress in the tracked modules, or in one.", ("progress", "progress M1")
    ),
    CommandHelp("plans", "", "Your learning plans and how far you are."),
    CommandHelp(
        "sessions", "[module]", "Upcoming sessions: date, time, room and trainer.", ("sessions", "sessions M1")
    ),
    CommandHelp(
        "remind",
        "on|off|at HH:MM|days mon-fri|quiet HH:MM-HH:MM|snooze 1d|1w|until <date>|mute <module>|unmute <module>|status",
        "Your daily reminder DM: switch it, pick the time and the days (`days mon-fri`), snooze it (`snooze 1w`).",
        ("remind at 08:30", "remind status"),
    ),
    CommandHelp(
        "status",
        "",
        "Your links and reminder settings (admins: connections, tracked modules and the LMS request budget).",
    ),
    CommandHelp("help", "", "This list."),
    CommandHelp(
        "results",
        "[filters]",
        "Your team's iSpring module results (admins: `all` for everyone), 40 a page, with a CSV export.",
        ("results", "results overdue", "results status=failed"),
        audience="admins and managers",
    ),
    CommandHelp(
        "edit-module",
        "[alias or id]",
        "Change a module's name, duration, description or lock (opens a form).",
        ("edit-module", "edit-module M1"),
        audience="admins and trainers",
    ),
    CommandHelp(
        "connect", "zoho|ispring", "Connect the workspace to Zoho People or iSpring Learn.", ("connect zoho",), ADMINS
    ),
    CommandHelp("track", "", "Follow a module: pick course, batch and module (opens a form).", audience=ADMINS),
    CommandHelp("untrack", "", "Stop following a module.", audience=ADMINS),
)
COMMAND_NAMES: tuple[str, ...] = tuple(c.name for c in COMMANDS)


def _usage(command: str, help_: CommandHelp) -> str:
    return f"`{command} {help_.name}{' ' + esc(help_.usage) if help_.usage else ''}`"


def _command_text(command: str, help_: CommandHelp) -> str:
    line = f"{_usage(command, help_)} — {help_.summary}"
    if help_.audience:
        line += f" :lock: _{help_.audience} only_"
    if help_.admin_usage:
        line += f"\n:lock: _admins:_ `{command} {esc(help_.admin_usage)}`"
    if help_.examples:
        line += "\n_e.g._ " + ", ".join(f"`{command} {esc(e)}`" for e in help_.examples)
    return line


def find_command(name: str) -> CommandHelp | None:
    return next((c for c in COMMANDS if c.name == name), None)


def help_message(*, command: str = SLASH_COMMAND) -> SlackMessage:
    everyone = [c for c in COMMANDS if c.audience is None]
    restricted = [c for c in COMMANDS if c.audience is not None]
    blocks: list[Block] = [
        kit.header("LMS bot — commands"),
        kit.section(
            f"Type `{command} &lt;subcommand&gt;`. Items from Zoho People and iSpring Learn, right here in Slack."
        ),
        *(kit.section(_command_text(command, c)) for c in everyone),
        kit.divider(),
        kit.section("*For admins, managers and trainers*"),
        *(kit.section(_command_text(command, c)) for c in restricted),
        kit.context(":lock: marks commands only some people may run; the bot checks when you run them."),
    ]
    return kit.message(f"{command} commands: " + ", ".join(COMMAND_NAMES), blocks)


def closest_commands(word: str, *, limit: int = 3) -> list[str]:
    return difflib.get_close_matches(word.lower(), COMMAND_NAMES, n=limit, cutoff=0.5)


def unknown_command_message(word: str, *, command: str = SLASH_COMMAND) -> SlackMessage:
    """ "Unknown subcommand `x`" with the nearest commands and their usage."""
    shown = esc(word.strip()[:40]) or " "
    close = [c for c in COMMANDS if c.name in closest_commands(word)]
    blocks: list[Block] = [kit.section(f"{WARNING} Unknown subcommand `{shown}`.")]
    if close:
        blocks.append(kit.section("*Did you mean*\n" + "\n".join(_command_text(command, c) for c in close)))
    else:
        blocks.append(kit.section("Commands: " + ", ".join(f"`{n}`" for n in COMMAND_NAMES)))
    blocks.append(kit.context(f"`{command} help` lists every command with examples."))
    hint = f" Did you mean `{close[0].name}`?" if close else ""
    return kit.message(f"Unknown subcommand `{shown}`.{hint}", blocks)


def bad_arguments_message(name: str, *, problem: str | None = None, command: str = SLASH_COMMAND) -> SlackMessage:
    """The usage of one subcommand, with what was wrong (e.g. "HH:MM expected, got 25:00")."""
    help_ = find_command(name)
    if help_ is None:
        return unknown_command_message(name, command=command)
    problem_text = esc(problem) if problem else "Those arguments don't fit this command."
    blocks: list[Block] = [
        kit.section(f"{WARNING} {problem_text}"),
        kit.section("*Usage*\n" + _command_text(command, help_)),
        kit.context(f"`{command} help` lists every command."),
    ]
    usage = f"{command} {name} {esc(help_.usage)}".rstrip()
    return kit.message(f"{esc(problem) if problem else 'Bad arguments'} — usage: {usage}", blocks)
