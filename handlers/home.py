"""App Home: the learner's pending items, locked modules, sessions and plans, with reminder controls.

Built from cached LMS data when it is fresh (the reminder sweep and commands keep it warm), so opening the
tab does not spend the LMS's 30-a-minute budget every time.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.container import Services
from bot.services.learning import NeedsSetup
from bot.services.preferences import PreferenceError
from bot.services.types import ModuleStatus, PlansReport, Provider, SessionsReport
from handlers.context import team_of, user_of
from handlers.reminder_settings import clear_digest_notes
from handlers.views import (
    HOME_REFRESH_ACTION,
    REMIND_DIGEST_OFF_ACTION,
    REMIND_DIGEST_ON_ACTION,
    REMIND_OFF_ACTION,
    REMIND_ON_ACTION,
    REMIND_TIME_ACTION,
    REMIND_UNMUTE_ACTION,
    home_view,
)

log = logging.getLogger(__name__)
HOME_MAX_AGE = 900.0  # seconds a cached answer is good enough for the Home tab


async def publish_home(s: Services, client: AsyncWebClient, team_id: str, user_id: str) -> None:
    linked = await s.links.learner_for(team_id, user_id, Provider.ZOHO) is not None
    fetch = s.learning.interactive()
    fetch = type(fetch)(priority=fetch.priority, max_wait=fetch.max_wait, max_age=HOME_MAX_AGE)
    modules: list[ModuleStatus] = []
    tracked_total: int | None = None
    sessions: SessionsReport | None = None
    plans: PlansReport | None = None
    if linked:
        try:
            # Cached answers first; at most a page of LMS calls, the rest on the next open or Refresh.
            overview = await s.learning.overview(team_id, user_id, fetch)
            modules, tracked_total = overview.statuses, overview.total
        except NeedsSetup:
            modules = []
        try:
            sessions = await s.learning.sessions(team_id, fetch=fetch)
        except Exception as exc:  # noqa: BLE001 - the tab still shows what it can
            log.info("home: sessions unavailable: %s", exc)
        try:
            plans = await s.learning.plans(team_id, user_id, fetch=fetch)
        except Exception as exc:  # noqa: BLE001
            log.info("home: plans unavailable: %s", exc)
    roles = await s.roles.roles(team_id, user_id)
    admin = await s.status.report(team_id, user_id, admin=True) if roles.admin else None
    view = home_view(
        modules=modules,
        reminders=await s.reminder_prefs.settings(team_id, user_id),
        now=s.settings.lms_now(),  # sessions are compared in the LMS's own wall-clock time
        sessions=sessions,
        plans=plans,
        admin=admin,
        linked=linked,
        manager=roles.can_see_others,
        tracked_total=tracked_total,
    )
    await client.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        await publish_home(services, client, team_of(body), str(event.get("user")))

    async def change(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, **changes: object) -> None:
        await ack()
        team_id, user_id = team_of(body), user_of(body)
        try:
            await services.reminder_prefs.update(team_id, user_id, **changes)
        except PreferenceError as exc:  # the Home tab has no reply box: log it and show the settings as they are
            log.info("home: preference change refused for %s: %s", user_id, exc)
        await publish_home(services, client, team_id, user_id)

    @app.action(REMIND_ON_ACTION)
    async def remind_on(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await change(ack, body, client, enabled=True, snoozed_until=None)
        await clear_digest_notes(services, team_of(body), user_of(body))  # as `/lms remind on` does

    @app.action(REMIND_OFF_ACTION)
    async def remind_off(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await change(ack, body, client, enabled=False)

    @app.action(REMIND_DIGEST_ON_ACTION)
    async def digest_on(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await change(ack, body, client, digest=True)

    @app.action(REMIND_DIGEST_OFF_ACTION)
    async def digest_off(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await change(ack, body, client, digest=False)

    @app.action(REMIND_TIME_ACTION)
    async def remind_time(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        picked = (body.get("actions") or [{}])[0].get("selected_time")
        if not picked:
            await ack()
            return
        await change(ack, body, client, send_time=picked, enabled=True)

    @app.action(REMIND_UNMUTE_ACTION)
    async def unmute(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        team_id, user_id = team_of(body), user_of(body)
        value = (body.get("actions") or [{}])[0].get("value") or ""
        if value.isdigit():
            await services.reminder_prefs.unmute(team_id, user_id, int(value))
        await publish_home(services, client, team_id, user_id)

    @app.action(HOME_REFRESH_ACTION)
    async def refresh(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await publish_home(services, client, team_of(body), user_of(body))
