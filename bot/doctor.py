"""`lmsbot doctor`: check the whole setup and print one line per check, `ok` or what to fix.

Checks every setting (the bot's and the REMINDER_* ones), the Slack settings for the chosen mode, the
database (reachable, migrations at head), the encryption key (it decrypts what is stored), the shared rate-limit
backend, Slack (auth.test at SLACK_API_URL with SLACK_BOT_TOKEN, or api.test and each installed workspace's bot
token) and each configured LMS (one cheap read each: the environment's accounts and every workspace's stored
connection; those two are in bot/doctor_remote.py). The exit code is 1 when any check fails (warnings do not
count). Nothing secret is printed: tokens, keys and passwords never; the database URL without its password.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from typing import Literal, TextIO
from urllib.parse import urlsplit

from pydantic import ValidationError

from bot.config import Settings
from bot.doctor_remote import check_lms, check_slack
from storage.crypto import Keyring

Status = Literal["ok", "warn", "FAIL"]
DATABASE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"


@dataclass
class Report:
    out: TextIO
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: Status, detail: str) -> Check:
        check = Check(name, status, detail)
        self.checks.append(check)
        print(check.line(), file=self.out, flush=True)
        return check

    def ok(self, name: str, detail: str = "ok") -> Check:
        return self.add(name, "ok", detail)

    def warn(self, name: str, detail: str) -> Check:
        return self.add(name, "warn", detail)

    def fail(self, name: str, detail: str) -> Check:
        return self.add(name, "FAIL", detail)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.checks if c.status == "FAIL")


def add_arguments(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser(
        "doctor",
        help="check the settings, database, migrations, encryption key, Slack and each LMS; one line per check",
    )


def run(out: TextIO | None = None) -> int:
    report = Report(out or sys.stdout)
    asyncio.run(diagnose(report))
    total, failed = len(report.checks), report.failed
    summary = f"{failed} of {total} checks failed" if failed else f"all {total} checks passed"
    print(summary, file=report.out)
    return 1 if failed else 0


async def diagnose(report: Report) -> None:
    settings = _settings(report)
    if settings is None:
        return
    _slack_settings(report, settings)
    _public_url(report, settings)
    await _rate_limit_backend(report, settings)
    keyring = _keyring(report, settings)
    migrated = await _database(report, settings)
    keys_ok = keyring is not None and migrated and await _stored_secrets(report, settings, keyring)
    await check_slack(report, settings, keyring if keys_ok else None)
    await check_lms(report, settings, keyring if keys_ok else None, migrated)


# --- settings ------------------------------------------------------------------------------------------------


def _settings(report: Report) -> Settings | None:
    from bot.config import ReminderConfig
    from bot.preflight import describe

    settings: Settings | None = None
    try:
        settings = Settings()
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())).upper() or "settings"
            report.fail(f"setting {where}", str(err.get("msg")).removeprefix("Value error, "))
        report.fail("settings", f"{len(exc.errors())} malformed: fix them, then run `lmsbot doctor` again")
    else:
        report.ok("settings", "every setting parses")
    try:
        _ = settings.reminders if settings is not None else ReminderConfig()  # the REMINDER_* ones on their own
    except ValidationError as exc:
        report.fail("reminder settings", describe(exc))
    else:
        report.ok("reminder settings", "every REMINDER_* setting parses")
    return settings


def _slack_settings(report: Report, s: Settings) -> None:
    name = "Slack settings"
    problems: list[str] = []
    if s.slack_signing_secret is None:
        problems.append("set SLACK_SIGNING_SECRET (Slack app settings → Basic Information → Signing Secret)")
    if s.slack_client_id and not s.slack_client_secret:
        problems.append("SLACK_CLIENT_ID is set without SLACK_CLIENT_SECRET")
    elif s.slack_client_secret and not s.slack_client_id:
        problems.append("SLACK_CLIENT_SECRET is set without SLACK_CLIENT_ID")
    elif not s.multi_workspace and s.slack_bot_token is None:
        problems.append("set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (many)")
    if s.slack_bot_token is not None and not s.slack_bot_token.get_secret_value().startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN is not a bot token (it starts with xoxb-: OAuth & Permissions)")
    if s.slack_app_token is not None and not s.slack_app_token.get_secret_value().startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN is not an app-level token (it starts with xapp-: Basic Information)")
    if problems:
        report.fail(name, "; ".join(problems))
        return
    mode = "multi-workspace (install at /slack/install)" if s.multi_workspace else "single workspace (SLACK_BOT_TOKEN)"
    socket = ", Socket Mode available (SLACK_APP_TOKEN)" if s.slack_app_token is not None else ""
    report.ok(name, mode + socket)


def _public_url(report: Report, s: Settings) -> None:
    parts = urlsplit(s.lmsbot_public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        report.fail(
            "LMSBOT_PUBLIC_URL", f"{s.lmsbot_public_url!r} is not an http(s) URL such as https://lmsbot.example.com"
        )
    elif parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        report.warn("LMSBOT_PUBLIC_URL", "is not https: Zoho and Slack redirect browsers here, use https")
    else:
        report.ok(
            "LMSBOT_PUBLIC_URL",
            f"{s.lmsbot_public_url} (Zoho redirect URI: {s.lmsbot_public_url}/connect/zoho/callback)",
        )


async def _rate_limit_backend(report: Report, s: Settings) -> None:
    name = "RATE_LIMIT_BACKEND"
    if s.rate_limit_backend == "memory":
        report.warn(
            name, "memory: each process keeps its own LMS budget; use database (or redis) when web and worker run"
        )
        return
    if s.rate_limit_backend == "database":
        report.ok(name, "database (shared through DATABASE_URL)")
        return
    import redis.asyncio as redis

    client = redis.from_url(s.redis_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - reported, whatever it is
        report.fail(name, f"redis: cannot reach REDIS_URL ({_host_of(s.redis_url)}): {type(exc).__name__}")
    else:
        report.ok(name, f"redis at {_host_of(s.redis_url)}")
    finally:
        await client.aclose()


# --- storage -------------------------------------------------------------------------------------------------


def _keyring(report: Report, s: Settings) -> Keyring | None:
    from bot.container import dev_key_file
    from storage.crypto import load_keyring
    from storage.errors import ConfigurationError

    try:
        keyring = load_keyring(
            s.lmsbot_encryption_keys,
            production=s.lmsbot_env == "production",
            dev_key_file=dev_key_file(s.database_url),
        )
    except (ConfigurationError, ValueError) as exc:
        report.fail("LMSBOT_ENCRYPTION_KEYS", str(exc))
        return None
    source = "LMSBOT_ENCRYPTION_KEYS" if s.lmsbot_encryption_keys else "the development key file"
    report.ok("LMSBOT_ENCRYPTION_KEYS", f"{len(keyring)} key(s) from {source}")
    return keyring


async def _database(report: Report, s: Settings) -> bool:
    """Reachable and at the newest migration."""
    from storage import migrate
    from storage.db import Database, parse_url
    from storage.errors import ConfigurationError, unavailable_cause

    try:
        _, url = parse_url(s.database_url)
        where = url.render_as_string(hide_password=True)
        db = Database(s.database_url)
    except ConfigurationError as exc:
        report.fail("DATABASE_URL", str(exc))
        return False
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS), db.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - reported, whatever it is
        cause = unavailable_cause(exc) or f"{type(exc).__name__}: {exc}"
        report.fail("database", f"cannot reach {where}: {cause}")
        return False
    finally:
        await db.dispose()
    report.ok("database", f"reachable ({where})")
    try:
        have, want = await asyncio.to_thread(migrate.current, s.database_url), migrate.head()
    except Exception as exc:  # noqa: BLE001
        report.fail("migrations", f"cannot read the revision: {type(exc).__name__}")
        return False
    if have != want:
        state = "has no lmsbot tables" if have is None else f"is at {have}, this lmsbot needs {want}"
        report.fail("migrations", f"the database {state}: run `lmsbot db upgrade`")
        return False
    report.ok("migrations", f"at head ({want})")
    return True


async def _stored_secrets(report: Report, s: Settings, keyring: Keyring) -> bool:
    from storage.db import Database
    from storage.errors import DecryptionError
    from storage.rotation import check_keys

    db = Database(s.database_url)
    try:
        await check_keys(db, keyring)
    except DecryptionError as exc:
        report.fail("stored credentials", str(exc))
        return False
    finally:
        await db.dispose()
    report.ok("stored credentials", "the configured key(s) decrypt every stored secret")
    return True


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port}" if parts.port else parts.hostname or "?"
