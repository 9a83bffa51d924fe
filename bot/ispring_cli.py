"""`lmsbot ispring webhooks register|status|remove`: iSpring's webhooks, so completions tick digests off at once.

One subscriber per event type (iSpring: "A subscriber can only be subscribed to one type of event"), each at
`<LMSBOT_PUBLIC_URL>/ispring/webhooks/<team>?event=<TYPE>`. Registering a URL makes iSpring post a
confirmation code to it; the running web process (`lmsbot serve`) keeps the code in the database, and this
command posts it back, then subscribes the URL to its event. The daily sweep still reconciles whatever
iSpring could not deliver.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

from bot.config import Settings
from bot.container import Services, build_services
from bot.lms.errors import LMSError
from bot.lms.factory import http_limits
from bot.lms.ispring_webhooks import ISpringWebhookAdmin, OwnerLogin
from bot.services.ispring_webhooks import COMPLETION_EVENTS, confirmation_key
from bot.web import ISPRING_WEBHOOK_PATH

COMMANDS = {"ispring"}
CONFIRM_WAIT_SECONDS = 60.0
Out = Callable[[str], None]


def add_arguments(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ispring", help="iSpring Learn webhooks (completions tick digests off within a minute)")
    ispring_sub = p.add_subparsers(dest="ispring_command", required=True, metavar="COMMAND")
    hooks = ispring_sub.add_parser("webhooks", help="register, show or remove lmsbot's iSpring webhooks")
    hooks_sub = hooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    for name, text in (
        ("register", "register and confirm lmsbot's callback URLs, subscribed to completion events"),
        ("status", "what iSpring says about lmsbot's subscribers and subscriptions"),
        ("remove", "remove lmsbot's subscribers"),
    ):
        action = hooks_sub.add_parser(name, help=text)
        action.add_argument("--team", required=True, help="Slack team (workspace) id, e.g. T0123")
        action.add_argument("--url", help="the bot's public base URL (default: LMSBOT_PUBLIC_URL)")


def callback_urls(public_url: str, team_id: str) -> dict[str, str]:
    base = f"{public_url.rstrip('/')}{ISPRING_WEBHOOK_PATH}/{team_id}"
    return {event: f"{base}?event={event}" for event in sorted(COMPLETION_EVENTS)}


def missing(settings: Settings) -> list[str]:
    wanted: dict[str, object] = {
        "ISPRING_WEBHOOK_SECRET": settings.ispring_webhook_secret,
        "ISPRING_ACCOUNT_URL": settings.ispring_account_url,
        "ISPRING_ADMIN_EMAIL": settings.ispring_admin_email,
        "ISPRING_ADMIN_PASSWORD": settings.ispring_admin_password,
    }
    return [name for name, value in wanted.items() if not value]


def run(args: argparse.Namespace, settings: Settings) -> int:
    lacking = missing(settings)
    if lacking:
        print(f"error: missing setting{'s' if len(lacking) > 1 else ''}: {', '.join(lacking)}", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    services = build_services(settings)
    try:
        admin = webhook_admin(services)
        urls = callback_urls(args.url or settings.lmsbot_public_url, args.team)
        action = args.webhooks_command
        if action == "register":
            await register(services, admin, args.team, urls, print)
        elif action == "remove":
            for event, url in urls.items():
                await admin.remove(url)
                print(f"removed the {event} subscriber ({url})")
        else:
            print(f"subscriber: {_show(await admin.subscriber_info())}")
            print(f"subscriptions: {_show(await admin.subscriptions())}")
        return 0
    except (LMSError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await services.aclose()


def webhook_admin(services: Services) -> ISpringWebhookAdmin:
    s = services.settings
    assert s.ispring_account_url and s.ispring_admin_email and s.ispring_admin_password
    login = OwnerLogin(s.ispring_account_url, s.ispring_admin_email, s.ispring_admin_password.get_secret_value())
    return ISpringWebhookAdmin(services.http, s.ispring_api_url, login, http_limits(s))


async def register(
    services: Services,
    admin: ISpringWebhookAdmin,
    team_id: str,
    urls: dict[str, str],
    out: Out,
    *,
    wait_seconds: float = CONFIRM_WAIT_SECONDS,
) -> None:
    secret = services.settings.ispring_webhook_secret
    assert secret is not None
    for event, url in urls.items():
        await admin.register(url, secret.get_secret_value())
        await admin.send_code(url)
        code = await _wait_for_code(services, team_id, event, wait_seconds)
        await admin.confirm(url, code)
        await admin.subscribe(url, event)
        out(f"subscribed {url} to {event}")


async def _wait_for_code(services: Services, team_id: str, event: str, wait_seconds: float) -> str:
    """The confirmation code the web process received for this subscriber (polled in the database)."""
    key = confirmation_key(team_id, event)
    deadline = time.monotonic() + wait_seconds
    while True:
        found = await services.cache.store.get(key)
        if found is not None and isinstance(found[0], dict) and found[0].get("code"):
            return str(found[0]["code"])
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"iSpring's confirmation code for {event} did not reach the bot within {wait_seconds:g} s: "
                "is `lmsbot serve` running at that URL, with the same ISPRING_WEBHOOK_SECRET and database?"
            )
        await asyncio.sleep(1.0)


def _show(answer: Any) -> str:
    return "none" if answer in (None, "", [], {}) else str(answer)
