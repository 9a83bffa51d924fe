"""`lmsbot doctor`'s checks over the network: Slack (auth.test, or api.test and each installed workspace's token)
and each configured LMS (one cheap read each). The checks of this machine's own setup are in bot/doctor.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.config import Settings
from bot.lms.factory import LmsClients
from storage.crypto import Keyring


class Report(Protocol):
    """Where a check's line goes (bot.doctor.Report)."""

    def ok(self, name: str, detail: str = "ok") -> object: ...

    def warn(self, name: str, detail: str) -> object: ...

    def fail(self, name: str, detail: str) -> object: ...


SLACK_TIMEOUT_SECONDS = 10
MAX_WORKSPACES_CHECKED = 20  # installed workspaces whose bot token is tried (multi-workspace mode)


# --- Slack ---------------------------------------------------------------------------------------------------


async def check_slack(report: Report, s: Settings, keyring: Keyring | None) -> None:
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


async def check_lms(report: Report, s: Settings, keyring: Keyring | None, migrated: bool) -> None:
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
