"""`lmsbot workspace purge --team T [--yes]`: delete everything the bot stores for one workspace.

It lists what it is about to delete (rows per table), asks for the workspace id to be typed back (or takes
`--yes`), deletes it all in one transaction and prints what it deleted. Running it again deletes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from bot.config import Settings
from bot.container import Services, build_services

COMMANDS = {"workspace"}
Ask = Callable[[str], str]


def add_arguments(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("workspace", help="a workspace's data: purge everything the bot stores for it")
    ws_sub = p.add_subparsers(dest="workspace_command", required=True, metavar="COMMAND")
    purge = ws_sub.add_parser(
        "purge",
        help="delete everything of one workspace: links, settings, LMS connections, cache, sent log, Slack tokens",
    )
    purge.add_argument("--team", required=True, help="Slack team (workspace) id, e.g. T0123")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run(args: argparse.Namespace, settings: Settings, ask: Ask | None = None) -> int:
    return asyncio.run(_purge(settings, args.team.strip(), yes=args.yes, ask=ask or input))


async def _purge(settings: Settings, team: str, *, yes: bool, ask: Ask) -> int:
    services = build_services(settings)
    try:
        return await purge(services, team, yes=yes, ask=ask)
    finally:
        await services.aclose()


async def purge(services: Services, team: str, *, yes: bool, ask: Ask) -> int:
    if not team:
        print("error: --team needs a workspace id (T…)", file=sys.stderr)
        return 2
    found = await services.workspaces.inventory(team)
    if not found:
        print(f"nothing is stored for workspace {team} (nothing changed)")
        return 0
    total = sum(found.values())
    print(f"workspace {team}: {total} row(s) in {len(found)} table(s):")
    for table, count in sorted(found.items()):
        print(f"  {table}\t{count}")
    mark = await services.workspaces.uninstall_mark(team)
    if mark is None:
        print(f"note: {team} has not uninstalled lmsbot; purging it also deletes its Slack tokens", file=sys.stderr)
    if not yes:
        try:
            answer = ask(f"Type {team} to delete all of it (anything else keeps it): ")
        except EOFError:
            answer = ""
        if answer.strip() != team:
            print("not confirmed: nothing deleted (pass --yes to run without asking)", file=sys.stderr)
            return 1
    deleted = await services.workspaces.purge(team)
    for table, count in sorted(deleted.items()):
        print(f"deleted {count} row(s) from {table}")
    print(f"workspace {team} purged: {sum(deleted.values())} row(s) deleted")
    return 0
