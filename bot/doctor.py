"""`lmsbot doctor`: check the whole setup and print one line per check, `ok` or what to fix.

Checks every setting (the bot's and the REMINDER_* ones), the Slack settings for the chosen mode, the
database (reachable, migrations at head), the encryption key (it decrypts what is stored), the shared rate-limit
backend, Slack (auth.test at SLACK_API_URL with SLACK_BOT_TOKEN, or api.test and each installed workspace's bot
token) and each configured LMS (one cheap read each: the environment's accounts and every workspace's stored
connection). The exit code is 1 when any check fails (warnings do not count). Nothing secret is printed:
tokens, keys and passwords never; the database URL without its password.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TextIO
from urllib.parse import urlsplit

from pydantic import ValidationError

from bot.config import Settings
from bot.lms.factory import LmsClients
from storage.crypto import Keyring

Status = Literal["ok", "warn", "FAIL"]
SLACK_TIMEOUT_SECONDS = 10
DATABASE_TIMEOUT_SECONDS = 10.0
MAX_WORKSPACES_CHECKED = 20  # installed workspaces whose bot token is tried (multi-workspace mode)


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
    await _slack(report, settings, keyring if keys_ok else None)
    await _lms(report, settings, keyring if keys_ok else None, migrated)


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


# --- Slack ---------------------------------------------------------------------------------------------------


async def _slack(report: Report, s: Settings, keyring: Keyring | None) -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    where = s.slack_api_url
    if s.slack_bot_token is not None and not s.multi_workspace:
        client = AsyncWebClient(
            token=s.slack_bot_token.get_secret_value(), base_url=where, timeout=SLACK_TIMEOUT_SECONDS
        )
        await _auth_test(report, "Slack", where, lambda: client.auth_test(), "SLACK_BOT_TOKEN")
        return
    client = AsyncWebClient(base_url=where, timeout=SLACK_TIMEOUT_SECONDS)
    try:
        await client.api_test()
    except Exception as exc:  # noqa: BLE001
        report.fail("Slack", f"cannot reach {where} (SLACK_API_URL): {_slack_error(exc)}")
        return
    report.ok("Slack", f"{where} answers api.test")
    if not s.multi_workspace or keyring is None:
        return
    await _installed_workspaces(report, s, keyring)


async def _installed_workspaces(report: Report, s: Settings, keyring: Keyring) -> None:
    from bot.container import build_services

    services = build_services(s, keyring=keyring)
    try:
        teams = await services.workspaces.installed_teams()
        if not teams:
            report.warn("Slack workspaces", "none installed yet: open <LMSBOT_PUBLIC_URL>/slack/install")
        for team in teams[:MAX_WORKSPACES_CHECKED]:

            async def call(team: str = team) -> object:
                return await (await services.slack.client(team)).auth_test()

            await _auth_test(report, f"Slack workspace {team}", s.slack_api_url, call, "its bot token")
        if len(teams) > MAX_WORKSPACES_CHECKED:
            report.warn("Slack workspaces", f"{len(teams) - MAX_WORKSPACES_CHECKED} more installed, not checked")
    finally:
        await services.aclose()


async def _auth_test(
    report: Report, name: str, where: str, call: Callable[[], Awaitable[object]], token_name: str
) -> None:
    from slack_sdk.errors import SlackApiError

    try:
        answer = await call()
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error in ("token_revoked", "account_inactive"):
            fix = "the token was revoked (app uninstalled?): reinstall the app and use its new bot token"
        elif error in ("invalid_auth", "not_authed"):
            fix = "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page again"
        else:
            fix = "see Slack's auth.test documentation"
        report.fail(name, f"Slack refused {token_name} ({error}): {fix}")
        return
    except Exception as exc:  # noqa: BLE001
        report.fail(name, f"cannot reach {where} (SLACK_API_URL): {_slack_error(exc)}")
        return
    data = getattr(answer, "data", {})
    team = data.get("team_id", "?") if isinstance(data, dict) else "?"
    user = data.get("user", "?") if isinstance(data, dict) else "?"
    report.ok(name, f"auth.test at {where}: workspace {team}, bot @{user}")


def _slack_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}{': ' + str(exc) if str(exc) and 'xox' not in str(exc) else ''}"


# --- the LMSs ------------------------------------------------------------------------------------------------


async def _lms(report: Report, s: Settings, keyring: Keyring | None, migrated: bool) -> None:
    from bot.container import build_services
    from bot.lms.factory import build_rate_limiter, ispring_credentials, zoho_credentials

    zoho, ispring = zoho_credentials(s), ispring_credentials(s)
    partial_zoho = [n for n, v in _zoho_env(s).items() if v] if zoho is None else []
    if partial_zoho:
        missing = [n for n, v in _zoho_env(s).items() if not v]
        report.fail("Zoho (environment)", f"{', '.join(partial_zoho)} set but not {', '.join(missing)}")
    if bool(s.ispring_client_id) != bool(s.ispring_client_secret):
        report.fail("iSpring (environment)", "set both ISPRING_CLIENT_ID and ISPRING_CLIENT_SECRET")
    # With a usable database the calls count in the shared LMS budget, as the bot's own do.
    services = build_services(s, keyring=keyring) if keyring is not None and migrated else None
    try:
        if zoho is not None or ispring is not None:
            private = s.model_copy(update={"rate_limit_backend": "memory"})
            limiter = services.limiter if services is not None else build_rate_limiter(private)
            async with LmsClients(s, limiter=limiter, zoho=zoho, ispring=ispring) as clients:
                if zoho is not None:
                    fix = "check ZOHO_DATA_CENTER / ZOHO_PEOPLE_URL / ZOHO_ACCOUNTS_URL and the ZOHO_* credentials"
                    await _read(report, "Zoho (environment)", s.zoho_people_url, clients, "zoho", fix)
                if ispring is not None:
                    fix = "check ISPRING_API_URL and ISPRING_CLIENT_ID / ISPRING_CLIENT_SECRET"
                    await _read(report, "iSpring (environment)", s.ispring_api_url, clients, "ispring", fix)
        if services is None:
            if zoho is None and ispring is None:
                report.warn("LMS", "none checked: none in the environment, and the stored ones cannot be read")
            return
        connections = await services.connections_repo.list()
        if not connections and zoho is None and ispring is None:
            report.warn("LMS", "none connected yet: an admin runs `/lms connect zoho` or `/lms connect ispring`")
        for conn in connections:
            clients = await services.registry.for_team(conn.team_id)
            name = f"{'Zoho' if conn.provider == 'zoho' else 'iSpring'} of {conn.team_id}"
            fix = f"an admin of {conn.team_id} reconnects it with `/lms connect {conn.provider}`"
            await _read(report, name, conn.api_url, clients, conn.provider, fix)
    finally:
        if services is not None:
            await services.aclose()


async def _read(report: Report, name: str, where: str, clients: LmsClients, provider: str, fix: str) -> None:
    """One cheap read: Zoho's own courses (GET /api/v1/courses/mycourses), iSpring's departments."""
    from bot.lms.errors import LMSError

    try:
        if provider == "zoho":
            await clients.zoho.my_courses()
        else:
            await clients.ispring.departments()
    except LMSError as exc:
        status = f" (status {exc.status})" if exc.status else ""
        report.fail(name, f"{where}: {exc.message}{status}: {fix}")
        return
    report.ok(name, f"{where} answered (credentials accepted)")


def _zoho_env(s: Settings) -> dict[str, object]:
    return {
        "ZOHO_CLIENT_ID": s.zoho_client_id,
        "ZOHO_CLIENT_SECRET": s.zoho_client_secret,
        "ZOHO_REFRESH_TOKEN": s.zoho_refresh_token,
    }


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port}" if parts.port else parts.hostname or "?"
