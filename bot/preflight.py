"""What every command checks before it starts, so an operator's mistake is one clear line and exit code 2:

- settings that are malformed, or missing for this command (all of them listed at once);
- a database that cannot be reached or is not migrated;
- an encryption key that is missing or malformed, or (for the processes that run for long: `serve`, `socket`,
  `scheduler`, and `remind`, which sends) that cannot decrypt the credentials already stored.
"""

from __future__ import annotations

import argparse
import asyncio

from pydantic import ValidationError

from bot.config import Settings
from bot.container import dev_key_file
from storage.crypto import Keyring, load_keyring
from storage.errors import ConfigurationError, DecryptionError, unavailable_cause

# Commands that read or write the database: they refuse to run on one that is not migrated.
NEEDS_DATABASE = {
    "ispring",
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
    "worker",
    "status",
    "workspace",
}
# Commands that read stored credentials on behalf of every workspace: a key that cannot read them stops them.
CHECKS_STORED_SECRETS = {"serve", "socket", "scheduler", "worker", "remind"}
SENDS_TO_SLACK = {"serve", "socket", "scheduler", "worker", "remind"}
ISPRING_LMS_COMMANDS = {"results"}
SLACK_TOKEN = "SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (install in many)"


class OperatorError(Exception):
    """Something the operator must fix before the command can run; the message is the whole line to print."""


def settings_or_error() -> Settings:
    """The settings, or OperatorError listing every malformed one."""
    try:
        return Settings()
    except ValidationError as exc:
        raise OperatorError(f"configuration: {describe(exc)}") from None


def reminder_config_or_error(settings: Settings) -> None:
    """Raise OperatorError listing every malformed REMINDER_* setting, before a command builds on them."""
    try:
        _ = settings.reminders
    except ValidationError as exc:
        raise OperatorError(f"reminder configuration: {describe(exc, prefix='REMINDER_')}") from None


def describe(exc: ValidationError, prefix: str = "") -> str:
    """Every problem pydantic found, on one line: `LMS_RATE_LIMIT: Input should be …; LMS_TIMEOUT_SECONDS: …`.

    `prefix` is the settings class's env prefix (`REMINDER_`), so each name is the variable the operator sets."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())).upper()
        where = f"{prefix}{where}" if where else where
        msg = str(err.get("msg")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def uses_database(args: argparse.Namespace) -> bool:
    return args.command in NEEDS_DATABASE or (args.command == "keys" and args.keys_command == "rotate")


def missing_settings(args: argparse.Namespace, settings: Settings) -> list[str]:
    """The settings this command needs and does not have, each with where to get it."""
    command = args.command
    missing: list[str] = []
    if command in ("serve", "socket") and settings.slack_signing_secret is None:
        missing.append("SLACK_SIGNING_SECRET (Slack app settings → Basic Information)")
    if command in SENDS_TO_SLACK and settings.slack_bot_token is None and not settings.multi_workspace:
        if settings.slack_client_id and not settings.slack_client_secret:
            missing.append("SLACK_CLIENT_SECRET (SLACK_CLIENT_ID is set)")
        elif settings.slack_client_secret and not settings.slack_client_id:
            missing.append("SLACK_CLIENT_ID (SLACK_CLIENT_SECRET is set)")
        else:
            missing.append(SLACK_TOKEN)
    if command == "socket" and settings.slack_app_token is None:
        missing.append("SLACK_APP_TOKEN (xapp-…, for Socket Mode)")
    if uses_database(args) and settings.lmsbot_env == "production" and not _has_keys(settings):
        missing.append(
            "LMSBOT_ENCRYPTION_KEYS (generate one with `lmsbot keys generate`; LMSBOT_ENV=development uses a local "
            "key file instead)"
        )
    if command == "lms":
        if getattr(args, "lms_command", None) in ISPRING_LMS_COMMANDS:
            wanted: dict[str, object] = {
                "ISPRING_CLIENT_ID": settings.ispring_client_id,
                "ISPRING_CLIENT_SECRET": settings.ispring_client_secret,
            }
        else:
            wanted = {
                "ZOHO_CLIENT_ID": settings.zoho_client_id,
                "ZOHO_CLIENT_SECRET": settings.zoho_client_secret,
                "ZOHO_REFRESH_TOKEN": settings.zoho_refresh_token,
            }
        missing += [name for name, value in wanted.items() if not value]
    return missing


def check(args: argparse.Namespace, settings: Settings) -> None:
    """Raise OperatorError with the one line to print when this command cannot run as configured."""
    missing = missing_settings(args, settings)
    if missing:
        label = "missing setting" if len(missing) == 1 else "missing settings"
        raise OperatorError(f"{label}: " + "; ".join(missing))
    if args.command in SENDS_TO_SLACK:  # these build the reminder engine (serve: /lms status and Home read it too)
        reminder_config_or_error(settings)
    # `lmsbot lms` counts its calls in the shared budget's tables when RATE_LIMIT_BACKEND=database.
    budget_tables = args.command == "lms" and settings.rate_limit_backend == "database"
    if not uses_database(args) and not budget_tables:
        return
    from storage import migrate

    url = settings.database_url
    try:
        migrate.require_current(url)
        if not uses_database(args):
            return
        keyring = load_keyring(
            settings.lmsbot_encryption_keys,
            production=settings.lmsbot_env == "production",
            dev_key_file=dev_key_file(url),
        )
        if args.command in CHECKS_STORED_SECRETS:
            asyncio.run(_check_stored_secrets(url, keyring))
    except (ConfigurationError, DecryptionError) as exc:  # a bad URL, unmigrated, a malformed or wrong key
        raise OperatorError(str(exc)) from None
    except Exception as exc:
        cause = unavailable_cause(exc)
        if cause is None:
            raise
        raise OperatorError(f"cannot reach the database in DATABASE_URL: {cause}") from None


async def _check_stored_secrets(url: str, keyring: Keyring) -> None:
    from storage.db import Database
    from storage.rotation import check_keys

    db = Database(url)
    try:
        await check_keys(db, keyring)
    finally:
        await db.dispose()


def _has_keys(settings: Settings) -> bool:
    keys = settings.lmsbot_encryption_keys
    return keys is not None and bool(keys.get_secret_value().strip())
