"""Slack's Web API methods lmsbot uses, served at /api/<method> by a Starlette app.

Arguments are read the ways slack_sdk sends them: query string (GET methods, and POST methods it sends as
`params`), form-encoded bodies (where structured fields such as `blocks` or `view` are JSON strings) and JSON
bodies. The token comes from `Authorization: Bearer …` (or a legacy `token` argument).

Guard order: unknown method -> token (not_authed / invalid_auth) -> the method's rate tier, when the stub
enforces them (`ratelimited`, 429 with Retry-After) -> injected fault -> handler. Every call,
refused or not, lands in the call log the moment it takes effect; a held answer (`hold_answer`) is sent only
later. Response URLs are POST /response/<id>.

Size (~510 lines): one handler per Web API method lmsbot calls, behind the one guard above.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.devkit.slackstub.state import CONTENT_FIELDS, RESPONSE_URL_METHOD, ApiCall, Json, SlackError, SlackStub
from bot.devkit.slackstub.workspace import decode_cursor, encode_cursor

logger = logging.getLogger(__name__)
Handler = Callable[[SlackStub, Json, str], Json]
JSON_FIELDS = ("blocks", "attachments", "view", "metadata")  # JSON strings in form-encoded calls


# -- argument helpers ---------------------------------------------------------------------------------------
def _arg(args: Json, key: str, error: str = "invalid_arguments") -> str:
    value = args.get(key)
    if value is None or value == "":
        raise SlackError(error)
    return str(value)


def _flag(args: Json, key: str) -> bool:
    value = args.get(key)
    return value is True or str(value).lower() in ("1", "true")


def _content(args: Json) -> Json:
    return {k: args[k] for k in CONTENT_FIELDS if k in args}


# -- methods ------------------------------------------------------------------------------------------------
def auth_test(stub: SlackStub, args: Json, caller: str) -> Json:
    ws = stub.workspace
    user = ws.users[caller]
    body: Json = {
        "ok": True,
        "url": ws.url,
        "team": ws.team_name,
        "user": user.name,
        "team_id": ws.team_id,
        "user_id": user.id,
        "is_enterprise_install": False,
    }
    if user.bot_id:
        body["bot_id"] = user.bot_id
    return body


def chat_post_message(stub: SlackStub, args: Json, caller: str) -> Json:
    posted = stub.post_message(_arg(args, "channel", "channel_not_found"), _content(args))
    return {"ok": True, "channel": posted.channel, "ts": posted.ts, "message": posted.message}


def chat_post_ephemeral(stub: SlackStub, args: Json, caller: str) -> Json:
    channel = _arg(args, "channel", "channel_not_found")
    posted = stub.post_ephemeral(channel, _arg(args, "user", "user_not_found"), _content(args))
    return {"ok": True, "message_ts": posted.ts}


def chat_update(stub: SlackStub, args: Json, caller: str) -> Json:
    channel = _arg(args, "channel", "channel_not_found")
    posted = stub.update_message(channel, _arg(args, "ts", "message_not_found"), _content(args))
    message = posted.message
    return {"ok": True, "channel": posted.channel, "ts": posted.ts, "text": message.get("text", ""), "message": message}


def chat_delete(stub: SlackStub, args: Json, caller: str) -> Json:
    channel = _arg(args, "channel", "channel_not_found")
    posted = stub.delete_message(channel, _arg(args, "ts", "message_not_found"))
    return {"ok": True, "channel": posted.channel, "ts": posted.ts}


def chat_get_permalink(stub: SlackStub, args: Json, caller: str) -> Json:
    channel = stub.resolve_channel(_arg(args, "channel", "channel_not_found"))
    ts = _arg(args, "message_ts", "message_not_found")
    if stub.message(channel, ts) is None:
        raise SlackError("message_not_found")
    permalink = f"{stub.workspace.url}archives/{channel}/p{ts.replace('.', '')}"
    return {"ok": True, "channel": channel, "permalink": permalink}


def conversations_open(stub: SlackStub, args: Json, caller: str) -> Json:
    ws = stub.workspace
    raw = args.get("users")
    users = raw if isinstance(raw, list) else [u.strip() for u in str(raw or "").split(",") if u.strip()]
    if not users:
        if args.get("channel"):
            return {"ok": True, "channel": {"id": stub.resolve_channel(str(args["channel"]))}}
        raise SlackError("users_list_not_supplied")
    if len(users) > 8:
        raise SlackError("too_many_users")
    if any(u not in ws.users for u in users):
        raise SlackError("user_not_found")
    if len(users) > 1:  # a group DM: stable per set of people
        channel_id = "G" + "".join(sorted(u[1:5] for u in users))
        return {"ok": True, "channel": {"id": channel_id}}
    with stub.lock:
        already = users[0] in ws.dms
        channel_id = ws.dm_channel(users[0])
    channel: Json = {"id": channel_id}
    if _flag(args, "return_im"):
        channel.update(
            {
                "created": int(stub.now()),
                "is_im": True,
                "is_org_shared": False,
                "user": users[0],
                "last_read": "0000000000.000000",
                "latest": None,
                "unread_count": 0,
                "unread_count_display": 0,
                "is_open": True,
                "priority": 0,
            }
        )
    body: Json = {"ok": True, "channel": channel}
    if already:
        body.update({"no_op": True, "already_open": True})
    return body


HISTORY_DEFAULT_LIMIT = 100  # Slack: "Default 100", and fewer than 1000 at a time
HISTORY_MAX_LIMIT = 999


def _history_cursor(ts: str) -> str:
    # Slack's conversations.history cursors are base64 of "next_ts:<ts without the dot>"; opaque to callers.
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def _ts_arg(args: Json, key: str) -> float | None:
    raw = args.get(key)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise SlackError("invalid_ts_" + key) from exc


def conversations_history(stub: SlackStub, args: Json, caller: str) -> Json:
    """Newest first between `oldest` and `latest`, `limit` a page, paged by `cursor` (response_metadata)."""
    raw_channel = _arg(args, "channel", "channel_not_found")
    ws = stub.workspace
    if raw_channel not in ws.channels and raw_channel not in ws.dms.values():
        raise SlackError("channel_not_found")
    messages = stub.history(
        raw_channel,
        oldest=_ts_arg(args, "oldest"),
        latest=_ts_arg(args, "latest"),
        inclusive=_flag(args, "inclusive"),
        include_metadata=_flag(args, "include_all_metadata"),
    )
    try:
        limit = int(args.get("limit") or HISTORY_DEFAULT_LIMIT)
    except ValueError as exc:
        raise SlackError("invalid_limit") from exc
    limit = min(max(limit, 1), HISTORY_MAX_LIMIT)
    start = 0
    if args.get("cursor"):
        cursors = [_history_cursor(m["ts"]) for m in messages]
        if args["cursor"] not in cursors:
            raise SlackError("invalid_cursor")
        start = cursors.index(str(args["cursor"]))
    page = messages[start : start + limit]
    rest = messages[start + limit :]
    body: Json = {
        "ok": True,
        "messages": page,
        "has_more": bool(rest),
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
    }
    if rest:
        body["response_metadata"] = {"next_cursor": _history_cursor(rest[0]["ts"])}
    return body


def views_open(stub: SlackStub, args: Json, caller: str) -> Json:
    return {"ok": True, "view": stub.open_modal(args.get("trigger_id"), args.get("view"))}


def views_push(stub: SlackStub, args: Json, caller: str) -> Json:
    return {"ok": True, "view": stub.push_modal(args.get("trigger_id"), args.get("view"))}


def views_update(stub: SlackStub, args: Json, caller: str) -> Json:
    view = stub.update_view(args.get("view_id"), args.get("external_id"), args.get("view"), args.get("hash"))
    return {"ok": True, "view": view}


def views_publish(stub: SlackStub, args: Json, caller: str) -> Json:
    user_id = _arg(args, "user_id", "user_not_found")
    return {"ok": True, "view": stub.publish_home(user_id, args.get("view"), args.get("hash"))}


def users_info(stub: SlackStub, args: Json, caller: str) -> Json:
    user = stub.workspace.user(_arg(args, "user", "user_not_found"))
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": user.to_slack(stub.workspace.team_id, stub.now(), locale=_flag(args, "include_locale"))}


def users_list(stub: SlackStub, args: Json, caller: str) -> Json:
    ws = stub.workspace
    people = list(ws.users.values())
    start = 0
    if args.get("cursor"):
        after = decode_cursor(str(args["cursor"]))
        ids = [u.id for u in people]
        if after is None or after not in ids:
            raise SlackError("invalid_cursor")
        start = ids.index(after)
    try:
        limit = int(args.get("limit") or 0)
    except ValueError as exc:
        raise SlackError("invalid_limit") from exc
    page = people[start : start + limit] if limit > 0 else people[start:]
    rest = people[start + len(page) :]
    now = stub.now()
    locale = _flag(args, "include_locale")
    return {
        "ok": True,
        "members": [u.to_slack(ws.team_id, now, locale=locale) for u in page],
        "cache_ts": int(now),
        "response_metadata": {"next_cursor": encode_cursor(rest[0].id) if rest else ""},
    }


def users_lookup_by_email(stub: SlackStub, args: Json, caller: str) -> Json:
    user = stub.workspace.user_by_email(_arg(args, "email", "users_not_found"))
    if user is None:
        raise SlackError("users_not_found")
    return {"ok": True, "user": user.to_slack(stub.workspace.team_id, stub.now())}


def files_get_upload_url_external(stub: SlackStub, args: Json, caller: str) -> Json:
    """files.getUploadURLExternal: filename and length (bytes) required; answers upload_url and file_id."""
    filename = _arg(args, "filename")
    length = str(args.get("length") or "")
    if not length.isdigit() or int(length) <= 0:
        raise SlackError("invalid_arguments")
    upload = stub.new_upload(filename, int(length))
    return {"ok": True, "upload_url": f"{stub.base_url}/upload/v1/{upload.file_id}", "file_id": upload.file_id}


def files_complete_upload_external(stub: SlackStub, args: Json, caller: str) -> Json:
    """files.completeUploadExternal: `files` is a JSON array of {"id", "title"}; channel_id shares them."""
    raw = args.get("files")
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise SlackError("invalid_arguments") from exc
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise SlackError("invalid_arguments")
    channel = str(args.get("channel_id") or args.get("channels") or "") or None
    comment = str(args.get("initial_comment") or "") or None
    return {"ok": True, "files": stub.complete_upload(items, channel, comment)}


def team_info(stub: SlackStub, args: Json, caller: str) -> Json:
    return {"ok": True, "team": stub.workspace.team_json()}


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "conversations.open": conversations_open,
    "conversations.history": conversations_history,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "users.info": users_info,
    "users.list": users_list,
    "users.lookupByEmail": users_lookup_by_email,
    "team.info": team_info,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
}


# -- OAuth install (multi-workspace) ----------------------------------------------------------------------------
async def authorize_page(request: Request) -> Response:
    """Slack's /oauth/v2/authorize after the installer clicks "Allow": back to redirect_uri with a code."""
    stub: SlackStub = request.app.state.stub
    q = request.query_params
    if q.get("client_id") != stub.workspace.client_id:
        return Response("invalid client_id", status_code=400)
    redirect = q.get("redirect_uri") or ""
    if not redirect:
        return Response("redirect_uri is required", status_code=400)
    code = stub.new_oauth_code(scopes=q.get("scope", ""), redirect_uri=redirect)
    sep = "&" if "?" in redirect else "?"
    location = f"{redirect}{sep}{urlencode({'code': code, 'state': q.get('state', '')})}"
    return Response(status_code=302, headers={"location": location})


def oauth_v2_access(stub: SlackStub, args: Json, client_auth: tuple[str, str]) -> Json:
    """Exchange an install code for the bot token (fields as Slack's oauth.v2.access documents them)."""
    ws = stub.workspace
    if client_auth != (ws.client_id, ws.client_secret):
        raise SlackError("invalid_client_id" if client_auth[0] != ws.client_id else "bad_client_secret")
    grant = stub.take_oauth_code(str(args.get("code") or ""))
    if grant is None:
        raise SlackError("invalid_code")
    if args.get("redirect_uri") and args["redirect_uri"] != grant["redirect_uri"]:
        raise SlackError("bad_redirect_uri")
    if ws.bot_token in ws.revoked_tokens:  # installed again after an uninstall: Slack issues a new token
        ws.bot_token = f"{ws.bot_token.split('~')[0]}~{len(ws.revoked_tokens)}"
    return {
        "ok": True,
        "access_token": ws.bot_token,
        "token_type": "bot",
        "scope": grant["scopes"],
        "bot_user_id": ws.bot_user_id,
        "app_id": ws.app_id,
        "team": {"name": ws.team_name, "id": ws.team_id},
        "enterprise": None,
        "is_enterprise_install": False,
        "authed_user": {"id": ws.installer},
    }


def _client_auth(request: Request, args: Json) -> tuple[str, str]:
    """oauth.v2.access takes the app's credentials as HTTP Basic auth or as client_id/client_secret fields."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return "", ""
        return user, password
    return str(args.get("client_id") or ""), str(args.get("client_secret") or "")


# -- HTTP ---------------------------------------------------------------------------------------------------
async def read_args(request: Request) -> Json:
    """Query string, then the body (form or JSON); JSON-string structured fields decoded."""
    args: Json = {k: v[-1] for k, v in parse_qs(request.url.query, keep_blank_values=True).items()}
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if raw and content_type == "application/json":
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise SlackError("invalid_json") from exc
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        args.update(body)
    elif raw:
        args.update({k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()})
    for key in JSON_FIELDS:
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except ValueError as exc:
                raise SlackError("invalid_blocks_format" if key == "blocks" else "invalid_arguments") from exc
    return args


def _caller(stub: SlackStub, request: Request, args: Json) -> str:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else str(args.get("token") or "")
    if not token:
        raise SlackError("not_authed")
    ws = stub.workspace
    if token in ws.revoked_tokens:
        raise SlackError("token_revoked")
    if token == ws.bot_token:
        return ws.bot_user_id
    user_id = ws.user_tokens.get(token)
    if user_id is None:
        raise SlackError("invalid_auth")
    return user_id


def _answer(body: Json, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


async def api_endpoint(request: Request) -> Response:
    stub: SlackStub = request.app.state.stub
    method = request.path_params["method"]
    arrived = stub.now()
    args: Json = {}
    caller: str | None = None
    status, headers = 200, {}
    stub.note_peer(request.client)
    try:
        args = await read_args(request)
        if method == "api.test":  # Slack's reachability check: no token needed
            body = {"ok": True, "args": {k: v for k, v in args.items() if k != "token"}}
            stub.record(ApiCall(method, {}, arrived, body, status, None))
            return _answer(body)
        if method == "oauth.v2.access":  # the one method authenticated by the app, not a token
            with stub.lock:
                body = oauth_v2_access(stub, args, _client_auth(request, args))
            recorded = {k: v for k, v in args.items() if k not in ("token", "client_secret", "code")}
            stub.record(ApiCall(method, recorded, arrived, body, status, None))
            return _answer(body)
        handler = METHODS.get(method)
        if handler is None:
            raise SlackError("unknown_method")
        caller = _caller(stub, request, args)
        wait = stub.take_rate_limit(method, args)
        if wait is not None:
            raise SlackError("ratelimited", status=429, headers={"Retry-After": str(wait)})
        fault = stub.take_fault(method)
        if fault is not None:
            if fault.delay > 0:
                await asyncio.sleep(fault.delay)
            retry = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
            raise SlackError(fault.error, status=fault.status, headers=retry)
        with stub.lock:
            body = handler(stub, args, caller)
    except SlackError as exc:
        body, status, headers = exc.body(), exc.status, exc.headers
    except Exception:  # a stub bug should look like Slack's fatal_error, and be visible
        logger.exception("slack stub method %s failed", method)
        body, status = {"ok": False, "error": "fatal_error"}, 500
    recorded = {k: v for k, v in args.items() if k != "token"}
    stub.record(ApiCall(method, recorded, arrived, body, status, caller))  # it took effect: logged at once
    hold = stub.take_hold(method) if body.get("ok") else None
    if hold is not None:
        started = time.monotonic()  # real time even when the stub runs on a virtual clock
        while not stub.released(hold, time.monotonic() - started):
            await asyncio.sleep(0.02)
    return _answer(body, status, headers)


async def response_url_endpoint(request: Request) -> Response:
    stub: SlackStub = request.app.state.stub
    url_id = request.path_params["rest"]
    arrived = stub.now()
    body: Json = {}
    status = 200
    stub.note_peer(request.client)
    try:
        raw = await request.body()
        try:
            parsed: Any = json.loads(raw or b"{}")
        except ValueError as exc:
            raise SlackError("invalid_payload", status=400) from exc
        if not isinstance(parsed, dict):
            raise SlackError("invalid_payload", status=400)
        body = parsed
        answer = stub.respond(url_id, body)
    except SlackError as exc:
        answer, status = exc.body(), exc.status
    stub.record(ApiCall(RESPONSE_URL_METHOD, body, arrived, answer, status, None, url_id))
    return _answer(answer, status)


async def upload_endpoint(request: Request) -> Response:
    """The upload_url files.getUploadURLExternal handed out: the file's bytes, POSTed raw (as slack_sdk does)."""
    stub: SlackStub = request.app.state.stub
    file_id = request.path_params["file_id"]
    content = await request.body()
    try:
        stub.receive_upload(file_id, content)
    except SlackError as exc:
        return Response(str(exc.body().get("error")), status_code=exc.status)
    return Response(f"OK - {len(content)}", media_type="text/plain")


async def _health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def create_app(stub: SlackStub) -> Starlette:
    app = Starlette(
        routes=[
            Route("/api/{method}", api_endpoint, methods=["GET", "POST"]),
            Route("/response/{rest:path}", response_url_endpoint, methods=["POST"]),
            Route("/upload/v1/{file_id}", upload_endpoint, methods=["POST"]),
            Route("/_stub/health", _health, methods=["GET"]),
            Route("/oauth/v2/authorize", authorize_page, methods=["GET"]),
        ]
    )
    app.state.stub = stub
    return app
