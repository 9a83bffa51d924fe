"""Long-running processes: `lmsbot serve` (HTTP, the Procfile web line) and `lmsbot socket` (Socket Mode)."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from bot.app import build_app
from bot.config import Settings
from bot.container import build_services
from bot.logsetup import uvicorn_log_config
from bot.web import build_web

log = logging.getLogger(__name__)


def warn_if_budget_is_private(settings: Settings) -> None:
    """The web and worker processes both call the LMS: with the in-process budget each thinks it has 30 calls
    a minute, and together they can trip Zoho's 5-minute lock."""
    if settings.rate_limit_backend == "memory":
        log.warning(
            "RATE_LIMIT_BACKEND=memory: this process keeps its own LMS budget; when the web and worker processes "
            "both run, set RATE_LIMIT_BACKEND=database (or redis) so they share Zoho's 30 calls a minute"
        )


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Slack requests at /slack/events, install/connect endpoints and /healthz, under uvicorn."""
    warn_if_budget_is_private(settings)
    services = build_services(settings)
    web = build_web(build_app(services), services)
    log.warning("lmsbot listening on http://%s:%s (Slack request URL: <public url>/slack/events)", host, port)
    uvicorn.run(
        web,
        host=host,
        port=port,
        log_level="info",
        log_config=uvicorn_log_config(),  # LOG_FORMAT=json: uvicorn's lines are JSON too
        proxy_headers=True,
        forwarded_allow_ips="*",
    )


def socket(settings: Settings, *, host: str, port: int | None) -> None:
    """Socket Mode (no public URL for Slack needed); `--port` also serves /healthz and the Zoho connect flow."""
    from slack_bolt.adapter.socket_mode.websockets import AsyncSocketModeHandler

    if settings.slack_app_token is None:
        raise SystemExit("error: SLACK_APP_TOKEN (xapp-…) is needed for Socket Mode")
    warn_if_budget_is_private(settings)
    services = build_services(settings)
    app = build_app(services)
    app_token = settings.slack_app_token.get_secret_value()

    async def main() -> None:
        # Made on the running loop: its client schedules a task when made, and the preflight's asyncio.run has
        # already closed and unset the default loop (outside a loop this raised "no current event loop").
        handler = AsyncSocketModeHandler(app, app_token)
        tasks = [handler.start_async()]  # type: ignore[no-untyped-call]
        if port is not None:
            config = uvicorn.Config(
                build_web(app, services), host=host, port=port, log_level="info", log_config=uvicorn_log_config()
            )
            server = uvicorn.Server(config)
            tasks.append(server.serve())
        await asyncio.gather(*tasks)

    asyncio.run(main())
