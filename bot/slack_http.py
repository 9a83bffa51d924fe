"""Bolt's Slack calls on the process's one connection pool (bot.services.slack_transport.SlackHttp).

Bolt gives each request a Web API client built from the app's, and a `respond()` that opens a fresh aiohttp
session per call. This middleware hands both the shared session, so a command's replies and Web API calls
reuse kept-alive connections instead of a new TCP (and TLS) connection each.

Bolt gives each lazy listener a deep copy of the request (its context holds that client and `respond`): the
session is shared, not copied (it cannot be: it holds the pool's tasks), so lazy listeners use the pool too.
"""

from __future__ import annotations

import copyreg
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.services.slack_transport import SlackHttp


class PooledRespond(AsyncRespond):
    """Bolt's `respond()`, posting to the response URL on a shared session (same arguments, same message)."""

    def __init__(self, *, response_url: str | None, session: aiohttp.ClientSession) -> None:
        super().__init__(response_url=response_url)
        self.session = session

    async def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        client = AsyncWebhookClient(url=self.response_url, session=self.session)
        if isinstance(text, dict):
            return await client.send_dict(_build_message(**text))
        message = _build_message(
            text=text,
            blocks=blocks,
            attachments=attachments,
            response_type=response_type,
            replace_original=replace_original,
            delete_original=delete_original,
            unfurl_links=unfurl_links,
            unfurl_media=unfurl_media,
            thread_ts=thread_ts,
            metadata=metadata,
        )
        return await client.send_dict(message)


def _shared(session: aiohttp.ClientSession) -> str:
    """`copy.deepcopy` returns an object whose reduction is a string as it is: a session is shared, not copied."""
    return "ClientSession"


def use_shared_session(app: AsyncApp, http: SlackHttp) -> None:
    """Every request's `client` and `respond` on `http`'s session (registered before other middleware)."""
    copyreg.pickle(aiohttp.ClientSession, _shared)

    @app.middleware
    async def shared_session(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        session = http.session()
        context.client.session = session
        app.client.session = session  # Bolt builds each request's client from this one
        if context.response_url is not None:
            context["respond"] = PooledRespond(response_url=context.response_url, session=session)
        await next()
