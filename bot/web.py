"""The bot's HTTP surface (`lmsbot serve`): Slack requests, the install and connect flows, health and metrics.

Starlette under uvicorn: Slack's events, commands, interactions and options all arrive at /slack/events, and
pass `bot.slack_guard` (size, signature, shape, replays) before Bolt sees them. iSpring's webhooks arrive at
/ispring/webhooks/<team id> (size-capped, signature-checked, answered at once, processed in the background).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.container import Services
from bot.observability import instrument_web
from bot.services import ispring_webhooks
from bot.services.connections import CALLBACK_PATH, START_PATH, ConnectError
from bot.slack_guard import Refused, SlackGuard, read_body
from handlers.views.problems import problem_text
from storage.errors import unavailable_cause

log = logging.getLogger(__name__)
ISPRING_WEBHOOK_PATH = "/ispring/webhooks"  # + "/<Slack team id>": the URL registered with iSpring
TEAM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a Slack team id, nothing a log line could be confused by
HEALTH_DB_TIMEOUT_SECONDS = 5.0  # a health check must answer even when the database hangs


def build_web(app: AsyncApp, services: Services) -> Starlette:
    handler = AsyncSlackRequestHandler(app)
    secret = services.settings.slack_signing_secret
    if secret is None:  # build_app refuses to build without it; a web app must not serve Slack unsigned
        raise ValueError("SLACK_SIGNING_SECRET is not set")
    guard = SlackGuard(app, secret.get_secret_value(), services.deliveries)

    async def slack_events(request: Request) -> Response:
        return await guard.handle(request)

    async def slack_install(request: Request) -> Response:
        return await handler.handle(request)  # GET: the install page and the OAuth redirect (no body)

    async def healthz(_: Request) -> Response:
        # 200 even when degraded: the process is up and answers people ("the database is unavailable — try again
        # in a minute"); a 503 would make a load balancer pull every instance (they share the database), and
        # Slack would then show people its own dispatch_failed instead. Monitors read "status".
        try:
            async with asyncio.timeout(HEALTH_DB_TIMEOUT_SECONDS), services.db.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - report, don't crash, the health check
            cause = unavailable_cause(exc) or f"{type(exc).__name__}: {exc}"
            log.warning("health check: database unavailable: %s", cause)
            return JSONResponse({"ok": False, "status": "degraded", "database": "unavailable"})
        return JSONResponse({"ok": True, "status": "ok", "database": "ok"})

    async def zoho_start(request: Request) -> Response:
        state = request.query_params.get("state", "")
        if not state:
            return _page("Missing link details", "Run <code>/lms connect zoho</code> in Slack again.", 400)
        data_center = request.query_params.get("dc") or None
        return RedirectResponse(services.connections.authorize_url(state, data_center), status_code=302)

    async def zoho_callback(request: Request) -> Response:
        q = request.query_params
        if q.get("error"):
            return _page("Zoho did not connect", f"Zoho said: {html.escape(q['error'])}. Nothing was saved.", 400)
        try:
            done = await services.connections.finish_zoho(
                code=q.get("code", ""),
                state=q.get("state", ""),
                location=q.get("location"),
                accounts_server=q.get("accounts-server"),
            )
        except ConnectError as exc:
            return _page("Zoho did not connect", html.escape(problem_text(exc)), 400)
        await _tell_admin(services, done.team_id, done.slack_user_id)
        return _page("Zoho People is connected", "You can close this tab and go back to Slack.", 200)

    async def ispring_webhook(request: Request) -> Response:
        # Size, then signature, then the ledger; 200 at once, the work in the background (iSpring resends
        # anything not answered 200, for a day).
        team_id = request.path_params["team_id"]
        if not TEAM_ID.fullmatch(team_id):
            return PlainTextResponse("not found", status_code=404)
        webhook_secret = services.settings.ispring_webhook_secret
        try:
            body = await read_body(request, ispring_webhooks.MAX_BODY_BYTES)
        except Refused as refused:
            log.info("refused an iSpring webhook: %s (%s)", refused.reason, refused.status)
            return PlainTextResponse(refused.reason, status_code=refused.status)
        if webhook_secret is None or not ispring_webhooks.signed(
            body, request.headers.get("x-hub-signature"), webhook_secret.get_secret_value()
        ):
            log.info("refused an iSpring webhook for %s: missing or invalid X-Hub-Signature (401)", team_id)
            return PlainTextResponse("invalid signature", status_code=401)
        if not await services.ispring_webhooks.accept(team_id, body, request.query_params.get("event")):
            log.info("ignored an iSpring webhook delivery already taken in (%s)", team_id)
        return PlainTextResponse("ok")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await services.aclose()  # on the server's own loop, where the pools were opened

    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route(ISPRING_WEBHOOK_PATH + "/{team_id}", ispring_webhook, methods=["POST"]),
        Route(START_PATH, zoho_start, methods=["GET"]),
        Route(CALLBACK_PATH, zoho_callback, methods=["GET"]),
    ]
    if services.settings.multi_workspace:
        routes += [
            Route("/slack/install", slack_install, methods=["GET"]),
            Route("/slack/oauth_redirect", slack_install, methods=["GET"]),
        ]
    return instrument_web(Starlette(routes=routes, lifespan=lifespan), services)  # /metrics, /readyz, request ids


async def _tell_admin(services: Services, team_id: str, user_id: str) -> None:
    """A DM to the admin who connected, so Slack shows the result where they started."""
    if user_id == "cli":
        return
    try:
        text = ":white_check_mark: Zoho People is connected. Try `/lms progress` or `/lms status`."
        await services.slack.post_dm(
            team_id, user_id, text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        )
    except Exception as exc:  # noqa: BLE001 - the connection is saved; the DM is a courtesy
        log.warning("could not tell %s that Zoho is connected: %s", user_id, exc)


def _page(title: str, body: str, status: int) -> HTMLResponse:
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>lmsbot</title></head>"
        "<body style='font-family:sans-serif;max-width:36em;margin:4em auto'>"
        f"<h1>{html.escape(title)}</h1><p>{body}</p></body></html>"
    )
    return HTMLResponse(page, status_code=status)
