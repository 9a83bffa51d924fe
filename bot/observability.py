"""The operator's view of a process: request ids in logs, `/metrics`, `/readyz` (and the worker's `/healthz`).

- `RequestContext` (ASGI middleware on the web app) gives every HTTP request an id at arrival, binds it to the
  log context for everything the request causes (Bolt's lazy listeners included: their tasks copy the
  context), answers it in `X-Request-Id`, and times Slack's requests to /slack/events up to the ack.
- `request_middleware` (Bolt global middleware) adds the workspace and the Slack user to the log context and
  names the request's kind for the ack histogram; in Socket Mode it makes the request id itself.
- `instrument_web` adds `/metrics` and `/readyz` to the web app; `ops_app` is the worker's own small app
  (`lmsbot scheduler --metrics-port P`): `/metrics`, `/healthz`, `/readyz`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import logcontext, metrics
from bot.readiness import ReadinessProbe

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp, AsyncBoltContext

    from bot.container import Services

Asgi = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
SLACK_PATHS = frozenset({"/slack/events"})
REQUEST_ID_HEADER = b"x-request-id"


@dataclass(slots=True)
class _Incoming:
    """One HTTP request as the middleware and Bolt's middleware share it."""

    request_id: str
    kind: str | None = None  # set by Bolt's middleware once the request reaches Bolt


_incoming: ContextVar[_Incoming | None] = ContextVar("lmsbot_incoming_request", default=None)


class RequestContext:
    """ASGI middleware: a request id for every HTTP request; Slack's ack latency by request kind."""

    def __init__(self, app: Asgi) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = _Incoming(logcontext.new_id())
        timed = scope.get("path") in SLACK_PATHS

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if timed and incoming.kind is not None:
                    metrics.ACK_SECONDS.labels(incoming.kind).observe(time.perf_counter() - started)
                headers = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER, incoming.request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        token = _incoming.set(incoming)
        try:
            with logcontext.bound(request_id=incoming.request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            _incoming.reset(token)


def install_request_middleware(app: AsyncApp) -> None:
    """Bolt global middleware (register it first): workspace, Slack user and request id in the log context."""

    @app.middleware
    async def request_context(
        context: AsyncBoltContext, body: Mapping[str, Any], next: Callable[[], Awaitable[None]]
    ) -> None:
        incoming = _incoming.get()
        if incoming is not None:
            incoming.kind = metrics.slack_request_kind(body)
        # Bolt runs global middleware one after the other and the listeners after them, all in this request's
        # task: the context is set for the rest of the task, not for a block. Over HTTP the task is the
        # request's own; in Socket Mode each message gets a fresh id, so nothing of an earlier one carries over.
        logcontext.replace(
            request_id=incoming.request_id if incoming is not None else logcontext.new_id(),
            workspace=context.team_id,
            slack_user=context.user_id,
        )
        await next()


# --- endpoints -----------------------------------------------------------------------------------------------------


def metrics_endpoint(services: Services) -> Callable[[Request], Awaitable[Response]]:
    async def serve_metrics(_: Request) -> Response:
        await metrics.refresh_daily(services.limiter)
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return serve_metrics


def readyz_endpoint(services: Services) -> Callable[[Request], Awaitable[Response]]:
    probe = ReadinessProbe(services.db, services.keyring)

    async def readyz(_: Request) -> Response:
        readiness = await probe.check()
        return JSONResponse(readiness.body(), status_code=200 if readiness.ready else 503)

    return readyz


def instrument_web(web: Starlette, services: Services) -> Starlette:
    """The web app with `/metrics`, `/readyz` and the request-id middleware."""
    web.router.routes.append(Route("/metrics", metrics_endpoint(services), methods=["GET"]))
    web.router.routes.append(Route("/readyz", readyz_endpoint(services), methods=["GET"]))
    web.add_middleware(RequestContext)
    return web


def ops_app(services: Services, state: Callable[[], Mapping[str, object]]) -> Starlette:
    """The worker's app: `/metrics`, `/readyz`, and `/healthz` (liveness; `state()` says what the worker does)."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True, "status": "ok", **state()})

    return Starlette(
        routes=[
            Route("/metrics", metrics_endpoint(services), methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz_endpoint(services), methods=["GET"]),
        ]
    )


class OpsServer(uvicorn.Server):
    """uvicorn for the worker's ops app, inside the worker's own loop: it leaves SIGTERM and SIGINT to the
    worker (which stops its sweeps first), instead of capturing them."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def ops_server(app: Starlette, host: str, port: int) -> OpsServer:
    from bot.logsetup import uvicorn_log_config

    config = uvicorn.Config(app, host=host, port=port, log_config=uvicorn_log_config(), access_log=False)
    return OpsServer(config)
