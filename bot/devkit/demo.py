"""`make demo`: lmsbot end to end on embedded defaults — SQLite, the LMS sandbox, a console stand-in for Slack.

A scripted tour of every command runs first (non-interactive when stdin is not a terminal), then the shell.
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import nullcontext

from bot.devkit.console import Console, play_tour, run_interactive
from bot.devkit.demo_clock import demo_clock
from bot.devkit.devstack import DevStack
from bot.devkit.slackstub.render import Style


def run_demo(*, tour: bool = True, shell: bool | None = None) -> int:
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    style = Style(ansi=sys.stdout.isatty())
    print("lmsbot demo — the LMS sandbox stands in for Zoho People and iSpring, a local stand-in for Slack.")
    print("Nothing leaves this machine. Starting…", flush=True)
    with demo_clock("UTC") if tour else nullcontext() as morning, DevStack() as stack:
        if morning is not None:
            print(f"  demo clock:    {morning:%A %d %b %Y, %H:%M} UTC, ticking (the tour is a weekday morning's)")
        print(f"  LMS sandbox:   {stack.sandbox.url}")
        print(f"  Slack stand-in: {stack.slack_server.url}")
        print(f"  lmsbot serve:  {stack.events_url}  (signed requests, as Slack sends them)")
        print(f"  database:      {stack.database_url}")
        console = Console(stack, style=style, ask=input if tty else None)
        if tour:
            asyncio.run(play_tour(console))
        if shell if shell is not None else tty:
            print()
            try:
                run_interactive(console)
            except KeyboardInterrupt:  # Ctrl-C while the bot was working, not at a prompt
                print("\n(bye)")
        else:
            print("\n(stdin is not a terminal: skipping the interactive shell; run `lmsbot shell` to try it)")
    return 0


def run_shell() -> int:
    return run_demo(tour=False, shell=True)
