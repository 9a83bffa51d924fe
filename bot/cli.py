"""The `lmsbot` command (also `python -m bot`).

Each command's module is imported only when that command is parsed: `lmsbot --help` lists the commands from
COMMANDS below without importing any of them, and `lmsbot serve` loads what serving needs and nothing else (no
development tools). tests/test_cli.py checks COMMANDS against what the modules define.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from bot.config import Settings

    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time
    _SubParsers = argparse._SubParsersAction


class Command(NamedTuple):
    help: str  # its line in `lmsbot --help`
    module: str = ""  # the module that defines its arguments and runs it; "" for the commands defined here


LMS = "bot.lms_cli"
SANDBOX = "bot.devkit.sandbox.cli"
ADMIN = "bot.admin_cli"
REMINDERS = "bot.reminders_cli"
ISPRING = "bot.ispring_cli"
WORKSPACE = "bot.workspace_cli"
DOCTOR = "bot.doctor"
# Their add_arguments(parser) fills the one command's parser; the other modules' add_arguments(sub) add their
# commands to the subcommands.
FILLS_ONE_PARSER = {LMS, SANDBOX}

COMMANDS: dict[str, Command] = {
    "lms": Command("query the configured LMS and print JSON", LMS),
    "sandbox": Command("run the local LMS sandbox (Zoho People + iSpring emulator)", SANDBOX),
    "db": Command("database migrations", ADMIN),
    "link": Command("link a Slack user to an LMS learner (or import a CSV of links)", ADMIN),
    "unlink": Command("remove a Slack user's LMS link", ADMIN),
    "links": Command("list links, or with --unmatched the members still unlinked", ADMIN),
    "track": Command("follow a module (for pickers and reminders)", ADMIN),
    "untrack": Command("stop following a module", ADMIN),
    "tracked": Command("list tracked modules", ADMIN),
    "connect": Command("connect a workspace to Zoho (OAuth link) or iSpring (API key)", ADMIN),
    "status": Command(
        "per Zoho account: calls in the last 24 h, the daily budget, and the projection for today", ADMIN
    ),
    "keys": Command("encryption keys for secrets at rest", ADMIN),
    "remind": Command("send the reminders that are due, right now", REMINDERS),
    "scheduler": Command(
        "run the reminder scheduler (REMINDER_EXECUTOR=apscheduler, the default); a second one waits as a hot standby",
        REMINDERS,
    ),
    "worker": Command(
        "run procrastinate workers for the reminder sweeps (REMINDER_EXECUTOR=procrastinate, PostgreSQL): "
        "one sweep job per workspace and period, shared by every worker",
        REMINDERS,
    ),
    "ispring": Command("iSpring Learn webhooks (completions tick digests off within a minute)", ISPRING),
    "workspace": Command("a workspace's data: purge everything the bot stores for it", WORKSPACE),
    "doctor": Command(
        "check the settings, database, migrations, encryption key, Slack and each LMS; one line per check", DOCTOR
    ),
    "demo": Command("the whole bot locally: sandbox LMS, Slack stand-in, scripted tour, then the shell"),
    "shell": Command("talk to the bot as a demo user in the terminal (console stand-in for Slack)"),
    "serve": Command("run the bot over HTTP: Slack requests at /slack/events (the web process)"),
    "socket": Command("run the bot in Socket Mode (SLACK_APP_TOKEN)"),
}


class _Commands(_SubParsers):
    """The subcommands, each an empty parser until it is chosen: then its module is imported and defines it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._defined: set[str] = set()  # the modules whose commands have their real parsers

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        assert isinstance(values, list) and values  # nargs=PARSER: the command, then its arguments
        self.define(values[0])
        super().__call__(parser, namespace, values, option_string)

    def define(self, command: str) -> None:
        """Give `command`, and the other commands of its module, the parsers that module defines."""
        module = COMMANDS[command].module
        if not module or module in self._defined:
            return
        add_arguments: Callable[[Any], None] = importlib.import_module(module).add_arguments
        if module in FILLS_ONE_PARSER:
            add_arguments(self.choices[command])
        else:  # the module adds its commands to a scratch set; their parsers replace the empty ones
            scratch = argparse._SubParsersAction(
                option_strings=[], prog=self._prog_prefix, parser_class=self._parser_class
            )
            add_arguments(scratch)
            for name, defined in scratch.choices.items():
                if name not in COMMANDS or COMMANDS[name].module != module:
                    raise RuntimeError(f"{module} defines the command {name!r}; bot.cli.COMMANDS must list it")
                self.choices[name] = defined
        self._defined.add(module)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmsbot", description="Zoho People LMS and iSpring Learn in Slack.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level (secrets are never logged)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, action=_Commands)
    parsers = {name: sub.add_parser(name, help=command.help) for name, command in COMMANDS.items()}
    for name in ("serve", "socket"):
        parsers[name].add_argument("--host", default="0.0.0.0")
    parsers["serve"].add_argument("--port", type=int, default=3000)
    parsers["socket"].add_argument(
        "--port", type=int, help="also serve /healthz and the Zoho connect flow on this port"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from bot.logsetup import configure_logging, parse_log_format

    # `lms` prints JSON or one error line; its warnings would only get in the way of scripts.
    quiet = logging.ERROR if args.command == "lms" else logging.WARNING
    level = logging.DEBUG if args.verbose else quiet
    try:
        log_format = parse_log_format(os.environ.get("LOG_FORMAT"))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(level, log_format)
    if args.command == "sandbox":
        from bot.devkit.sandbox import cli as sandbox_cli

        return sandbox_cli.run(args)
    if args.command == "demo":
        from bot.devkit.demo import run_demo

        return run_demo()
    if args.command == "shell":
        from bot.devkit.demo import run_shell

        return run_shell()
    if args.command == "doctor":  # it checks (and reports) what the preflight below would stop at
        from bot import doctor

        return doctor.run()

    from bot import preflight
    from storage.errors import ConfigurationError, DatabaseUnavailable, DecryptionError

    try:
        settings = preflight.settings_or_error()
        if settings.log_format != log_format:  # LOG_FORMAT given in .env rather than the environment
            configure_logging(level, settings.log_format)
        preflight.check(args, settings)
        return _dispatch(args, settings)
    except preflight.OperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ConfigurationError, DecryptionError) as exc:  # met later than the checks could see it
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DatabaseUnavailable as exc:  # it went away while the command ran
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in ("serve", "socket"):
        return _run_server(args, settings)
    run: Callable[[argparse.Namespace, Settings], int] = importlib.import_module(COMMANDS[args.command].module).run
    return run(args, settings)


def _run_server(args: argparse.Namespace, settings: Settings) -> int:
    from bot import runtime
    from bot.app import SlackConfigError
    from storage.errors import StorageError

    try:
        if args.command == "serve":
            runtime.serve(settings, host=args.host, port=args.port)
        else:
            runtime.socket(settings, host=args.host, port=args.port)
    except (SlackConfigError, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
