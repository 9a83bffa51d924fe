"""The `lmsbot` command (also `python -m bot`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError as SettingsError

from bot import admin_cli, lms_cli, reminders_cli
from bot.config import Settings
from bot.logsetup import configure_logging

# Commands that read or write the database: they refuse to run on one that is not migrated.
NEEDS_DATABASE = {
    "serve",
    "socket",
    "link",
    "unlink",
    "links",
    "track",
    "untrack",
    "tracked",
    "connect",
    "remind",
    "scheduler",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmsbot", description="Zoho People LMS and iSpring Learn in Slack.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level (secrets are never logged)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lms = sub.add_parser("lms", help="query the configured LMS and print JSON")
    lms_cli.add_arguments(lms)

    from bot.sandbox import cli as sandbox_cli

    sandbox = sub.add_parser("sandbox", help="run the local LMS sandbox (Zoho People + iSpring emulator)")
    sandbox_cli.add_arguments(sandbox)

    admin_cli.add_arguments(sub)
    reminders_cli.add_arguments(sub)

    sub.add_parser("demo", help="the whole bot locally: sandbox LMS, Slack stand-in, scripted tour, then the shell")
    sub.add_parser("shell", help="talk to the bot as a demo user in the terminal (console stand-in for Slack)")
    p = sub.add_parser("serve", help="run the bot over HTTP: Slack requests at /slack/events (the web process)")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=3000)
    p = sub.add_parser("socket", help="run the bot in Socket Mode (SLACK_APP_TOKEN)")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, help="also serve /healthz and the Zoho connect flow on this port")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # `lms` prints JSON or one error line; its warnings would only get in the way of scripts.
    quiet = logging.ERROR if args.command == "lms" else logging.WARNING
    configure_logging(logging.DEBUG if args.verbose else quiet)
    if args.command == "sandbox":
        from bot.sandbox import cli as sandbox_cli

        return sandbox_cli.run(args)
    if args.command == "demo":
        from bot.demo import run_demo

        return run_demo()
    if args.command == "shell":
        from bot.demo import run_shell

        return run_shell()

    try:
        settings = Settings()
    except SettingsError as exc:
        print(f"error: configuration: {_first_error(exc)}", file=sys.stderr)
        return 2
    if args.command in NEEDS_DATABASE or (args.command == "keys" and args.keys_command == "rotate"):
        from storage import migrate
        from storage.errors import StorageError

        try:
            migrate.require_current(settings.database_url)
        except StorageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command in ("serve", "socket"):
        return _run_server(args, settings)
    if args.command in reminders_cli.COMMANDS:
        return reminders_cli.run(args, settings)
    if args.command in admin_cli.COMMANDS:
        return admin_cli.run(args, settings)
    return lms_cli.run(args, settings)


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


def _first_error(exc: SettingsError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())).upper()
    return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
