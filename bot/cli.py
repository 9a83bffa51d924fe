"""The `lmsbot` command (also `python -m bot`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from bot import admin_cli, doctor, ispring_cli, lms_cli, preflight, reminders_cli, workspace_cli
from bot.config import Settings
from bot.logsetup import configure_logging, parse_log_format
from storage.errors import ConfigurationError, DatabaseUnavailable, DecryptionError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmsbot", description="Zoho People LMS and iSpring Learn in Slack.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level (secrets are never logged)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lms = sub.add_parser("lms", help="query the configured LMS and print JSON")
    lms_cli.add_arguments(lms)

    from bot.devkit.sandbox import cli as sandbox_cli

    sandbox = sub.add_parser("sandbox", help="run the local LMS sandbox (Zoho People + iSpring emulator)")
    sandbox_cli.add_arguments(sandbox)

    admin_cli.add_arguments(sub)
    reminders_cli.add_arguments(sub)
    ispring_cli.add_arguments(sub)
    workspace_cli.add_arguments(sub)
    doctor.add_arguments(sub)

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
        return doctor.run()

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
    if args.command in reminders_cli.COMMANDS:
        return reminders_cli.run(args, settings)
    if args.command in ispring_cli.COMMANDS:
        return ispring_cli.run(args, settings)
    if args.command in workspace_cli.COMMANDS:
        return workspace_cli.run(args, settings)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
