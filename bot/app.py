"""The Bolt app: single workspace (SLACK_BOT_TOKEN) or multi-workspace (Bolt's OAuth install flow)."""

from __future__ import annotations

import logging
from functools import partial

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.container import Services
from bot.lms.ispring_models import ModuleResult
from bot.observability import install_request_middleware
from bot.reminders.engine import ReminderEngine
from bot.slack_http import use_shared_session
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
    handlers.register(app, services)
    # Commands and Home that read fresher LMS data tick finished items off the learner's recent digests.
    from bot.reminders_root import build_engine

    services.tickoff.set_updater(partial(_tick_off, build_engine(services)))
    return app


async def _tick_off(engine: ReminderEngine, team_id: str, user_id: str, ispring: list[ModuleResult] | None) -> None:
    await engine.tick_off(team_id, user_id, ispring=ispring)
