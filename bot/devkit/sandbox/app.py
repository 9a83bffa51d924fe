"""The sandbox Starlette app: routing plus the guard every LMS call passes through.

Guard order for LMS calls: latency -> token (401) -> rate limit (422/429) -> injected fault -> scope (403)
-> handler. Every call, refused or not, lands in the call log. Handlers run under the state lock and never
await, so the test thread always sees a consistent world.

Size (~400 lines): the whole route table and its one guard sit together so the order above is read in one
place; the per-API handlers are in zoho.py, ispring.py, oauth.py and admin.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import date, time
from typing import Any, Literal
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.devkit.sandbox import admin, ispring, oauth, zoho
from bot.devkit.sandbox.common import ZOHO_LOCK_MESSAGE, ApiError, ApiRequest, ispring_error, zoho_error
from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.state import AccessToken, CallRecord, SandboxState

Handler = Callable[[ApiRequest, SandboxState], Response]
TokenHandler = Callable[[ApiRequest, SandboxState, SandboxConfig], Response]
Endpoint = Callable[[Request], Awaitable[Response]]
ApiKind = Literal["zoho", "ispring"]
logger = logging.getLogger(__name__)


@dataclass
class Context:
    state: SandboxState
    config: SandboxConfig


def set_state(app: Starlette, state: SandboxState) -> None:
    """Swap in a fresh world without restarting the server."""
    state.latency = state.latency or app.state.ctx.config.latency
    app.state.ctx.state = state


async def _read(request: Request) -> ApiRequest:
    return ApiRequest(
        method=request.method,
        path=request.url.path,
        params=dict(request.path_params),
        query=parse_qs(request.url.query, keep_blank_values=True),
        body=await request.body(),
        content_type=request.headers.get("content-type", ""),
        accept=request.headers.get("accept", ""),
        extra={"base_url": str(request.base_url).rstrip("/")},
    )


def _raw(body: bytes) -> str | None:
    return body.decode("utf-8", "replace") if body else None


def _error(api: ApiKind, status: int, message: str | None = None) -> Response:
    return zoho_error(status, message) if api == "zoho" else ispring_error(status, message)


def _authenticate(request: Request, state: SandboxState, api: ApiKind) -> AccessToken | None:
    header = request.headers.get("authorization", "").strip()
    if api == "zoho":
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "zoho-oauthtoken":
            return None
    else:  # iSpring docs show both "Bearer <token>" and the bare token
        value = header[7:] if header.lower().startswith("bearer ") else header
    with state.lock:
        token = state.tokens.get(value.strip())
        if token is None or token.api != api or token.expires_at <= state.now():
            return None
        return token


def _scope_ok(scope: str, write: bool) -> bool:
    granted = {s.strip().lower() for s in scope.replace(",", " ").split()}
    wanted = (
        "zohopeople.training.all",
        "zohopeople.training.update" if write else "zohopeople.training.read",
    )
    return any(w in granted for w in wanted)


def _rate_limit(state: SandboxState, config: SandboxConfig, account: str, endpoint: str) -> Response | None:
    """Rolling window per (account, endpoint); the call over the limit starts a lock period."""
    with state.lock:
        now, key = state.now(), (account, endpoint)
        until = state.locked_until.get(key)
        if until is not None and now < until:
            return _refusal(config, until - now)
        state.locked_until.pop(key, None)
        window = state.windows.setdefault(key, deque())
        while window and window[0] <= now - config.rate_window:
            window.popleft()
        if len(window) >= config.rate_limit:
            state.locked_until[key] = now + config.lock_seconds
            window.clear()  # a fresh budget once the lock is over
            return _refusal(config, config.lock_seconds)
        window.append(now)
        return None


def _refusal(config: SandboxConfig, remaining: float) -> Response:
    headers = {"Retry-After": str(max(1, math.ceil(remaining)))} if config.lock_status == 429 else None
    if config.lock_code is not None:
        body = {"code": config.lock_code, "message": ZOHO_LOCK_MESSAGE}
        return JSONResponse(body, status_code=config.lock_status, headers=headers)
    return zoho_error(config.lock_status, "Maximum limit exceeded", headers)


def lms(name: str, handler: Handler, api: ApiKind = "zoho", write: bool = False) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        ctx: Context = request.app.state.ctx
        state, config = ctx.state, ctx.config
        req = await _read(request)
        arrived = state.now()
        if state.latency > 0:
            await asyncio.sleep(state.latency)
        token = _authenticate(request, state, api)
        response: Response | None = None
        if token is None:
            response = _error(api, 401)
        elif api == "zoho":
            response = _rate_limit(state, config, token.account, name)
        if response is None and token is not None:
            fault = state.take_fault(name, lms=True)
            if fault is not None and fault.delay > 0:
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.status:
                response = _error(api, fault.status)
            elif api == "zoho" and not _scope_ok(token.scope, write):
                response = _error(api, 403)
            else:
                with state.lock:
                    try:
                        response = handler(req, state)
                    except ApiError as exc:
                        response = _error(api, exc.status, exc.message)
                    except Exception:  # a sandbox bug should look like the documented 500, and be visible
                        logger.exception("sandbox handler %s failed", name)
                        response = _error(api, 500)
        assert response is not None
        account = token.account if token else None
        state.record(
            CallRecord(
                arrived,
                req.method,
                req.path,
                name,
                account,
                response.status_code,
                req.query,
                _raw(req.body),
                req.module_data,
                req.transport,
            )
        )
        return response

    return endpoint


def token_endpoint(name: str, handler: TokenHandler, api: ApiKind) -> Endpoint:
    """Token endpoints: no latency, no rate limit; faults only when injected for this endpoint by name."""

    async def endpoint(request: Request) -> Response:
        ctx: Context = request.app.state.ctx
        state, config = ctx.state, ctx.config
        req = await _read(request)
        arrived = state.now()
        fault = state.take_fault(name, lms=False)
        if fault is not None and fault.delay > 0:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status:
            response = _error(api, fault.status)
        else:
            with state.lock:
                response = handler(req, state, config)
        state.record(
            CallRecord(
                arrived,
                req.method,
                req.path,
                name,
                req.param("client_id"),
                response.status_code,
                req.query,
                _raw(req.body),
            )
        )
        return response

    return endpoint


def _not_found(req: ApiRequest, state: SandboxState) -> Response:
    raise ApiError(404)


async def _health(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def _calls(request: Request) -> Response:
    state: SandboxState = request.app.state.ctx.state
    wanted = request.query_params.get("endpoint")
    calls = state.calls_for(wanted) if wanted else state.calls
    return JSONResponse([asdict(c) for c in calls])


async def _clear_calls(request: Request) -> Response:
    request.app.state.ctx.state.clear_calls()
    return JSONResponse({"ok": True})


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ApiError(400, "the body is not JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _admin(action: Callable[[Request, SandboxState, dict[str, Any]], Awaitable[dict[str, Any]]]) -> Endpoint:
    """An admin endpoint: JSON in, JSON out, plain errors (400/404/409) instead of tracebacks."""

    async def endpoint(request: Request) -> Response:
        state: SandboxState = request.app.state.ctx.state
        try:
            return JSONResponse(await action(request, state, await _json(request)))
        except ApiError as exc:
            return JSONResponse({"ok": False, "error": exc.message or "refused"}, status_code=exc.status)
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"ok": False, "error": f"bad request: {exc}"}, status_code=400)

    return endpoint


async def _complete(request: Request, state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        done, outbound = admin.complete(state, str(body["learner"]), str(body["item"]))
    delivered = await _deliver(outbound)
    return {"ok": True, **done, "webhooks": delivered}


async def _deliver(outbound: list[admin.Outbound]) -> list[dict[str, Any]]:
    """Send iSpring webhooks now, one after another (as iSpring does); a refused one is reported, not retried."""
    results: list[dict[str, Any]] = []
    if not outbound:
        return results
    async with httpx.AsyncClient(timeout=5.0) as client:
        for out in outbound:
            try:
                reply = await client.post(
                    out.url,
                    content=out.body,
                    headers={"Content-Type": "application/json", "X-Hub-Signature": out.signature},
                )
                results.append({"url": out.url, "status": reply.status_code})
            except httpx.HTTPError as exc:
                results.append({"url": out.url, "error": type(exc).__name__})
    return results


async def _move_session(request: Request, state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    end = body.get("end")
    with state.lock:
        moved = admin.move_session(
            state,
            int(request.path_params["sid"]),
            date.fromisoformat(str(body["day"])),
            time.fromisoformat(str(body["start"])),
            time.fromisoformat(str(end)) if end else None,
        )
    return {"ok": True, **moved}


async def _add_learner(request: Request, state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    course, batch = body.get("course_id"), body.get("batch_id")
    with state.lock:
        learner = admin.add_learner(
            state,
            str(body["name"]),
            str(body["email"]),
            int(course) if course is not None else None,
            int(batch) if batch is not None else None,
        )
    return {"ok": True, "learner_id": str(learner.learner_id), "name": learner.name, "email": learner.email}


async def _add_ispring_learners(request: Request, state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        added = admin.add_ispring_learners(state, int(body["count"]), str(body["department"]))
        department = state.ispring_departments[added[0].department_id].name
    return {"ok": True, "department": department, "learners": [{"id": u.user_id, "name": u.name} for u in added]}


async def _add_webhook(request: Request, state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        state.webhooks[str(body["url"])] = str(body["secret"])
        return {"ok": True, "webhooks": sorted(state.webhooks)}


async def _list_webhooks(request: Request) -> Response:
    state: SandboxState = request.app.state.ctx.state
    return JSONResponse({"ok": True, "webhooks": sorted(state.webhooks)})


def create_app(state: SandboxState, config: SandboxConfig) -> Starlette:
    course, batch = "/api/v1/courses/{c}", "/api/v1/courses/{c}/batches/{b}"
    progress, modules = zoho.module_progress, zoho.course_modules
    routes = [
        Route("/api/v1/courses/mycourses", lms("my-courses", zoho.my_courses), methods=["GET"]),
        Route(f"{course}/batches", lms("course-batches", zoho.course_batches), methods=["GET"]),
        Route(f"{course}/modules", lms("course-modules", modules), methods=["GET"]),
        Route(f"{batch}/modules", lms("course-modules", modules), methods=["GET"]),
        Route(f"{course}/modules/{{m}}", lms("single-module", zoho.single_module), methods=["GET"]),
        Route(f"{batch}/modules/{{m}}", lms("single-module", zoho.single_module), methods=["GET"]),
        Route(f"{course}/modules/{{m}}", lms("update-module", zoho.update_module, write=True), methods=["PATCH"]),
        Route(f"{batch}/modules/{{m}}", lms("update-module", zoho.update_module, write=True), methods=["PATCH"]),
        Route(
            f"{course}/modules/{{m}}/learners/{{l}}/progress",
            lms("module-progress", progress),
            methods=["GET"],
        ),
        Route(
            f"{batch}/modules/{{m}}/learners/{{l}}/progress",
            lms("module-progress", progress),
            methods=["GET"],
        ),
        Route(f"{course}/course-progress", lms("course-progress", zoho.course_progress), methods=["GET"]),
        Route(f"{batch}/course-progress", lms("course-progress", zoho.course_progress), methods=["GET"]),
        Route(
            f"{course}/learners/{{l}}/course-progress",
            lms("learner-course-progress", zoho.learner_course_progress),
            methods=["GET"],
        ),
        Route(
            f"{batch}/learners/{{l}}/course-progress",
            lms("learner-course-progress", zoho.learner_course_progress),
            methods=["GET"],
        ),
        Route(f"{course}/modules/{{m}}/sessions", lms("module-sessions", zoho.module_sessions), methods=["GET"]),
        Route(f"{batch}/modules/{{m}}/sessions", lms("module-sessions", zoho.module_sessions), methods=["GET"]),
        Route(
            "/api/v1/learners/{l}/learning-plans/progress",
            lms("learning-plans-progress", zoho.learning_plans_progress),
            methods=["GET"],
        ),
        Route(
            "/api/v1/{rest:path}",
            lms("unknown", _not_found),
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        ),
        Route("/oauth/v2/token", token_endpoint("zoho-token", oauth.zoho_token, "zoho"), methods=["POST"]),
        Route(
            "/oauth/v2/token/revoke",
            token_endpoint("zoho-revoke", oauth.zoho_revoke, "zoho"),
            methods=["POST"],
        ),
        Route("/oauth/v2/auth", token_endpoint("zoho-auth", oauth.zoho_authorize, "zoho"), methods=["GET"]),
        Route(
            "/ispring/api/v3/token",
            token_endpoint("ispring-token", oauth.ispring_token, "ispring"),
            methods=["POST"],
        ),
        Route(
            "/ispring/learners/modules/results",
            lms("ispring-results", ispring.module_results, api="ispring"),
            methods=["GET"],
        ),
        Route("/ispring/users", lms("ispring-users", ispring.users, api="ispring"), methods=["GET"]),
        Route("/ispring/department", lms("ispring-departments", ispring.departments, api="ispring"), methods=["GET"]),
        Route(
            "/ispring/course/{course}/modules",
            lms("ispring-course-modules", ispring.course_modules, api="ispring"),
            methods=["GET"],
        ),
        Route("/_sandbox/health", _health, methods=["GET"]),
        Route("/_sandbox/calls", _calls, methods=["GET"]),
        Route("/_sandbox/calls/clear", _clear_calls, methods=["POST"]),
        Route("/_sandbox/complete", _admin(_complete), methods=["POST"]),
        Route("/_sandbox/sessions/{sid:int}/move", _admin(_move_session), methods=["POST"]),
        Route("/_sandbox/learners", _admin(_add_learner), methods=["POST"]),
        Route("/_sandbox/ispring/learners", _admin(_add_ispring_learners), methods=["POST"]),
        Route("/_sandbox/ispring/webhooks", _admin(_add_webhook), methods=["POST"]),
        Route("/_sandbox/ispring/webhooks", _list_webhooks, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.ctx = Context(state, config)
    state.latency = state.latency or config.latency
    return app
