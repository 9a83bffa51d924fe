"""iSpring Learn's webhook management API: register a subscriber, confirm it, subscribe it to events.

What the reference (iSpring's webhook help pages; docs/references.md) documents, and so what is used here:
the endpoints (`POST /webhook/register`, `/webhook/code/send`, `/webhook/confirm`, `/webhook/subscribe`,
`/webhook/remove`, `GET /webhook/subscriber/info`, `/webhook/subscription/list`), that a subscriber "can only be
subscribed to one type of event", that the callback receives a confirmation code to post back, and that these
calls authenticate with an account owner's `X-Auth-Account-Url`, `X-Auth-Email`, `X-Auth-Password` (not the
API client credentials).

Not documented there: the JSON field names of the request bodies. They are named once, in `FIELDS`, after the
reference's own words (callback URL, secret, code, event type), so they can be corrected in one place against
an account's API page. `lmsbot ispring webhooks status` shows iSpring's own answers verbatim.

Like every LMS call, each one is bounded (`bot.lms.exchange`: LMS_CALL_DEADLINE_SECONDS, LMS_MAX_RESPONSE_BYTES,
no redirects) and its body is read by `bot.lms.content`, so a hostile answer is one InvalidResponseError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.lms.content import is_web_page, read_json
from bot.lms.errors import InvalidResponseError, LMSError
from bot.lms.exchange import HttpLimits, exchange

# Request-body field names: NOT in the vendor reference (see the module docstring).
FIELDS = {"callback_url": "callbackUrl", "secret": "secret", "code": "code", "event_type": "eventType"}


@dataclass(frozen=True, slots=True)
class OwnerLogin:
    """An iSpring account owner's or administrator's login, as webhook management requires."""

    account_url: str
    email: str
    password: str

    def headers(self) -> dict[str, str]:
        return {"X-Auth-Account-Url": self.account_url, "X-Auth-Email": self.email, "X-Auth-Password": self.password}


def _answer(reply: httpx.Response, path: str) -> Any:
    """iSpring's JSON answer; any other text as sent (`status` shows it verbatim), but never a web page or JSON
    lmsbot refuses to read."""
    body = reply.content.strip()
    if not body:
        return None
    kind = reply.headers.get("content-type", "")
    try:
        return read_json(body, provider="iSpring", endpoint=path, content_type=kind)
    except InvalidResponseError:
        if "json" in kind or body.startswith((b"{", b"[")) or is_web_page(body, kind):
            raise
        return body[:2000].decode("utf-8", "replace")


class ISpringWebhookAdmin:
    def __init__(
        self, http: httpx.AsyncClient, base_url: str, login: OwnerLogin, limits: HttpLimits | None = None
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.login = login
        self.limits = limits or HttpLimits()

    async def register(self, callback_url: str, secret: str) -> Any:
        return await self._call(
            "POST", "/webhook/register", {FIELDS["callback_url"]: callback_url, FIELDS["secret"]: secret}
        )

    async def send_code(self, callback_url: str) -> Any:
        return await self._call("POST", "/webhook/code/send", {FIELDS["callback_url"]: callback_url})

    async def confirm(self, callback_url: str, code: str) -> Any:
        return await self._call(
            "POST", "/webhook/confirm", {FIELDS["callback_url"]: callback_url, FIELDS["code"]: code}
        )

    async def subscribe(self, callback_url: str, event_type: str) -> Any:
        body = {FIELDS["callback_url"]: callback_url, FIELDS["event_type"]: event_type}
        return await self._call("POST", "/webhook/subscribe", body)

    async def remove(self, callback_url: str) -> Any:
        return await self._call("POST", "/webhook/remove", {FIELDS["callback_url"]: callback_url})

    async def subscriber_info(self) -> Any:
        return await self._call("GET", "/webhook/subscriber/info")

    async def subscriptions(self) -> Any:
        return await self._call("GET", "/webhook/subscription/list")

    async def _call(self, method: str, path: str, body: dict[str, str] | None = None) -> Any:
        headers = {**self.login.headers(), "Accept": "application/json"}
        reply = await exchange(
            self.http,
            method,
            self.base_url + path,
            limits=self.limits,
            provider="iSpring",
            endpoint=path,
            json=body,
            headers=headers,
        )
        if reply.status_code == 404:
            raise LMSError(f"iSpring: {path}: subscriber not found (404)", provider="iSpring")
        if reply.status_code in (401, 403):
            raise LMSError(
                f"iSpring refused {path} ({reply.status_code}): webhook management needs an account owner's or "
                "administrator's login (ISPRING_ACCOUNT_URL, ISPRING_ADMIN_EMAIL, ISPRING_ADMIN_PASSWORD)",
                provider="iSpring",
            )
        if reply.status_code >= 400:
            raise LMSError(f"iSpring answered {path} with {reply.status_code}", provider="iSpring")
        return _answer(reply, path)
