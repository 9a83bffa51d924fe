"""The Bolt app: single workspace (SLACK_BOT_TOKEN) or multi-workspace (Bolt's OAuth install flow)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import utc
from bot.container import Services
from bot.lms.ispring_models import ModuleResult
from bot.observability import install_request_middleware
from bot.reminders.actions import ReminderActions
from bot.reminders.engine import ReminderEngine
from bot.reminders_root import build_actions, build_engine
from bot.slack_http import use_shared_session
from handlers import commands, errors, home, inbound, lifecycle, linking, modals, reminder_actions, results_actions
from handlers.commands import CommandServices
from handlers.home import HomeServices
from handlers.linking import LinkingServices
from handlers.modals import ModalServices
from handlers.reminder_settings import RemindServices
from handlers.results_query import ResultsServices
from storage.slack_stores import oauth_state_store

log = logging.getLogger(__name__)


class SlackConfigError(Exception):
    """Slack settings are missing or contradictory; the message names the variables."""


def build_app(services: Services) -> AsyncApp:
    s = services.settings
    if s.slack_signing_secret is None:
        raise SlackConfigError("SLACK_SIGNING_SECRET is not set (Slack app settings → Basic Information)")
    signing_secret = s.slack_signing_secret.get_secret_value()
    if s.multi_workspace and s.slack_client_id and s.slack_client_secret:
        oauth = AsyncOAuthFlow(
            client=AsyncWebClient(base_url=s.slack_api_url),
            settings=AsyncOAuthSettings(
                client_id=s.slack_client_id,
                client_secret=s.slack_client_secret.get_secret_value(),
                scopes=[scope.strip() for scope in s.slack_scopes.split(",") if scope.strip()],
                installation_store=services.installation_store,
                state_store=oauth_state_store(services.db),
                redirect_uri=f"{s.lmsbot_public_url}/slack/oauth_redirect",
                install_path="/slack/install",
                authorization_url=s.slack_authorize_url,
                redirect_uri_path="/slack/oauth_redirect",
            ),
        )
        app = AsyncApp(
            signing_secret=signing_secret,
            oauth_flow=oauth,
            client=AsyncWebClient(base_url=s.slack_api_url),
            installation_store=services.installation_store,
        )
    elif s.slack_bot_token is not None:
        token = s.slack_bot_token.get_secret_value()
        # The client carries the token (Bolt takes the token from it): one object, pointed at SLACK_API_URL.
        app = AsyncApp(signing_secret=signing_secret, client=AsyncWebClient(token=token, base_url=s.slack_api_url))
    else:
        raise SlackConfigError(
            "Set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (install in many)"
        )
    install_request_middleware(app)  # first: every later line of the request names it, its workspace and user
    use_shared_session(app, services.slack.http)
    register_listeners(app, services)
    # Commands and Home that read fresher LMS data tick finished items off the learner's recent digests.
    services.tickoff.set_updater(partial(_tick_off, build_engine(services)))
    return app


async def _tick_off(engine: ReminderEngine, team_id: str, user_id: str, ispring: list[ModuleResult] | None) -> None:
    await engine.tick_off(team_id, user_id, ispring=ispring)


# --- the listeners, each given the few services it uses ------------------------------------------------------------

Wiring = Callable[[AsyncApp, Services], None]


def register_listeners(app: AsyncApp, services: Services) -> None:
    """The error boundary, then every concern's listeners (global middleware first)."""
    errors.install(app)
    for wire in LISTENERS:
        wire(app, services)


def inbound_listeners(app: AsyncApp, s: Services) -> None:
    inbound.register(app, s.deliveries, multi_workspace=s.settings.multi_workspace)


def command_listeners(app: AsyncApp, s: Services) -> None:
    commands.register(app, command_services(s))


def modal_listeners(app: AsyncApp, s: Services) -> None:
    modals.register(app, modal_services(s))


def home_listeners(app: AsyncApp, s: Services) -> None:
    home.register(app, home_services(s))


def reminder_action_listeners(app: AsyncApp, s: Services) -> None:
    reminder_actions.register(app, digest_actions(s))


def results_listeners(app: AsyncApp, s: Services) -> None:
    results_actions.register(app, results_services(s), s.nudges)


def linking_listeners(app: AsyncApp, s: Services) -> None:
    linking.register(app, LinkingServices(links=s.links, roles=s.roles, slack=s.slack))


def lifecycle_listeners(app: AsyncApp, s: Services) -> None:
    lifecycle.register(app, s.workspaces)


LISTENERS: tuple[Wiring, ...] = (
    inbound_listeners,  # global middleware: the configured workspace only, each event once
    command_listeners,
    modal_listeners,
    home_listeners,
    reminder_action_listeners,
    results_listeners,
    linking_listeners,
    lifecycle_listeners,
)


def digest_actions(s: Services) -> ReminderActions:
    return build_actions(s, partial(utc, s.clock))


def remind_services(s: Services) -> RemindServices:
    return RemindServices(
        preferences=s.reminder_prefs, roles=s.roles, digests=digest_actions(s), slack=s.slack, clock=s.clock
    )


def modal_services(s: Services) -> ModalServices:
    return ModalServices(
        roles=s.roles,
        tracking=s.tracking,
        module_edit=s.module_edit,
        connections=s.connections,
        lms_now=s.lms_now,
    )


def results_services(s: Services) -> ResultsServices:
    return ResultsServices(roles=s.roles, people=s.people, learning=s.learning, links=s.links, slack=s.slack)


def home_services(s: Services) -> HomeServices:
    return HomeServices(
        links=s.links,
        learning=s.learning,
        roles=s.roles,
        status=s.status,
        preferences=s.reminder_prefs,
        slack=s.slack,
        lms_now=s.lms_now,
        remind=remind_services(s),
    )


def command_services(s: Services) -> CommandServices:
    return CommandServices(
        learning=s.learning,
        roles=s.roles,
        links=s.links,
        connections=s.connections,
        tracking=s.tracking,
        status=s.status,
        preferences=s.reminder_prefs,
        slack=s.slack,
        clock=s.clock,
        lms_now=s.lms_now,
        results=results_services(s),
        modals=modal_services(s),
        remind=remind_services(s),
    )
