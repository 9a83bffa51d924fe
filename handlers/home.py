"""App Home: the learner's pending items, locked modules, sessions and plans, with reminder controls.

Built from cached LMS data when it is fresh (the reminder sweep and commands keep it warm), so opening the
tab does not spend the LMS's 30-a-minute budget every time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.learning import LearningService, NeedsSetup
from bot.services.links import LinkService
from bot.services.preferences import PreferenceError, PreferenceService
from bot.services.roles import RoleService
from bot.services.slack_gateway import SlackGateway
from bot.services.status import StatusService
from bot.services.types import ModuleStatus, PlansReport, Provider, SessionsReport
from handlers.context import team_of, user_of
from handlers.errors import guarded, message_for
from handlers.reminder_settings import RemindServices, clear_digest_notes, remind_command
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
from handlers.views.home import (
    HOME_LINK_ME_ACTION,
    NO_DAYS_NOTE,
    NO_EMAIL_NOTE,
    REMIND_DAYS_ACTION,
    REMIND_QUIET_ACTION,
    REMIND_SNOOZE_DAY_ACTION,
    REMIND_SNOOZE_UNTIL_ACTION,
    REMIND_SNOOZE_WEEK_ACTION,
    link_me_note,
    refused_note,
)
from handlers.views.kit import SlackMessage
from handlers.views.problems import problem_text

log = logging.getLogger(__name__)
HOME_MAX_AGE = 900.0  # seconds a cached answer is good enough for the Home tab
# Refresh asks the LMS again. The reads go through the same interactive budget and bounded wait as commands
# (and the daily budget): when there is none left, the cached copy is shown, marked with its age and why.
REFRESH_MAX_AGE = 0.0


@dataclass(frozen=True, slots=True)
class HomeServices:
    """What the Home tab shows and its controls change."""

    links: LinkService
    learning: LearningService
    roles: RoleService
    status: StatusService
    preferences: PreferenceService
    slack: SlackGateway
    lms_now: Callable[[], datetime]  # now, in the LMS's zone (sessions are compared in its wall-clock time)
    remind: RemindServices  # the controls that do what `/lms remind …` does


async def publish_home(
    s: HomeServices,
    client: AsyncWebClient,
    team_id: str,
    user_id: str,
    *,
    refresh: bool = False,
    welcome: bool = False,
    note: str | None = None,
) -> None:
    zoho_linked = await s.links.learner_for(team_id, user_id, Provider.ZOHO) is not None
    fetch = s.learning.interactive()
    max_age = REFRESH_MAX_AGE if refresh else HOME_MAX_AGE
    fetch = type(fetch)(priority=fetch.priority, max_wait=fetch.max_wait, max_age=max_age)
    modules: list[ModuleStatus] = []
    tracked_total: int | None = None
    sessions: SessionsReport | None = None
    plans: PlansReport | None = None
    ispring = await s.learning.ispring_progress(team_id, user_id, fetch=fetch)  # None: no iSpring link
    linked = zoho_linked or ispring is not None
    if zoho_linked:
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
        reminders=await s.preferences.settings(team_id, user_id),
        now=s.lms_now(),  # sessions are compared in the LMS's own wall-clock time
        sessions=sessions,
        plans=plans,
        admin=admin,
        linked=linked,
        manager=roles.can_see_others,
        tracked_total=tracked_total,
        welcome=welcome,
        note=note,
        ispring=ispring,
        zoho_linked=zoho_linked,
    )
    await client.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, services: HomeServices) -> None:
    @app.event("app_home_opened")
    @guarded
    async def home_opened(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        # Slack sends the current Home view once one was published: without one, this is a first visit.
        first = not event.get("view")
        await publish_home(services, client, team_of(body), str(event.get("user")), welcome=first)

    async def change(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, **changes: object) -> None:
        await ack()
        team_id, user_id = team_of(body), user_of(body)
        note = None
        try:
            await services.preferences.update(team_id, user_id, **changes)
        except PreferenceError as exc:  # the Home tab has no reply box: the refusal is its note
            log.info("home: preference change refused for %s: %s", user_id, exc)
            note = refused_note(problem_text(exc))
        await publish_home(services, client, team_id, user_id, note=note)

    @app.action(REMIND_ON_ACTION)
    @guarded
    async def remind_on(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await change(ack, body, client, enabled=True, snoozed_until=None)
        await clear_digest_notes(services.remind, team_of(body), user_of(body))  # as `/lms remind on` does

    @app.action(REMIND_OFF_ACTION)
    @guarded
    async def remind_off(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await change(ack, body, client, enabled=False)

    @app.action(REMIND_DIGEST_ON_ACTION)
    @guarded
    async def digest_on(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await change(ack, body, client, digest=True)

    @app.action(REMIND_DIGEST_OFF_ACTION)
    @guarded
    async def digest_off(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await change(ack, body, client, digest=False)

    @app.action(REMIND_TIME_ACTION)
    @guarded
    async def remind_time(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        picked = (body.get("actions") or [{}])[0].get("selected_time")
        if not picked:
            await ack()
            return
        await change(ack, body, client, send_time=picked, enabled=True)

    @app.action(REMIND_UNMUTE_ACTION)
    @guarded
    async def unmute(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        team_id, user_id = team_of(body), user_of(body)
        value = (body.get("actions") or [{}])[0].get("value") or ""
        if value.isdigit():
            await services.preferences.unmute(team_id, user_id, int(value))
        await publish_home(services, client, team_id, user_id)

    @app.action(HOME_REFRESH_ACTION)
    @guarded
    async def refresh(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await publish_home(services, client, team_of(body), user_of(body), refresh=True)

    async def remind(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, args: list[str]) -> None:
        """A Home control does what the `/lms remind …` command does; its first line is shown on the tab."""
        await ack()
        team_id, user_id = team_of(body), user_of(body)
        reply = await remind_command(services.remind, team_id, user_id, args)
        await publish_home(services, client, team_id, user_id, note=_first_line(reply))

    def picked(body: dict[str, Any]) -> dict[str, Any]:
        return dict((body.get("actions") or [{}])[0])

    @app.action(REMIND_DAYS_ACTION)
    @guarded
    async def days(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        chosen = [str(o.get("value")) for o in picked(body).get("selected_options") or []]
        if not chosen:  # no day at all is no reminders: say how to turn them off instead
            await ack()
            await publish_home(services, client, team_of(body), user_of(body), note=NO_DAYS_NOTE)
            return
        await remind(ack, body, client, ["days", ",".join(chosen)])

    @app.action(REMIND_QUIET_ACTION)
    @guarded
    async def quiet(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        value = str((picked(body).get("selected_option") or {}).get("value") or "off")
        await remind(ack, body, client, ["quiet", value])

    @app.action(REMIND_SNOOZE_DAY_ACTION)
    @guarded
    async def snooze_day(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await remind(ack, body, client, ["snooze", "1d"])

    @app.action(REMIND_SNOOZE_WEEK_ACTION)
    @guarded
    async def snooze_week(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await remind(ack, body, client, ["snooze", "1w"])

    @app.action(REMIND_SNOOZE_UNTIL_ACTION)
    @guarded
    async def snooze_until(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        day = str(picked(body).get("selected_date") or "")
        if not day:
            await ack()
            return
        await remind(ack, body, client, ["snooze", "until", day])

    @app.action(HOME_LINK_ME_ACTION)
    @guarded
    async def link_me(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        team_id, user_id = team_of(body), user_of(body)
        note = await _link_by_slack_email(services, team_id, user_id)
        await publish_home(services, client, team_id, user_id, welcome=True, note=note)


def _first_line(reply: SlackMessage) -> str:
    return str(reply.get("text") or "").split("\n", 1)[0][:300]


async def _link_by_slack_email(s: HomeServices, team_id: str, user_id: str) -> str:
    """Link the person to every connected LMS that knows their Slack e-mail; says per LMS what happened."""
    try:
        email = (await s.slack.user(team_id, user_id)).email
    except Exception as exc:  # noqa: BLE001 - said in plain words on the tab
        log.info("home: no Slack profile for %s: %s", user_id, exc)
        email = None
    if not email:
        return NO_EMAIL_NOTE
    said: list[tuple[Provider, str | None, str | None]] = []
    for provider in await s.links.providers(team_id):
        try:
            result = await s.links.link(team_id, user_id, email, actor=user_id, provider=provider)
        except Exception as exc:  # noqa: BLE001 - LinkError or an LMS failure: in words, per LMS
            said.append((provider, None, message_for(exc)["text"]))
            continue
        said.append((provider, result.link.learner_id, None))
    return link_me_note(said)
