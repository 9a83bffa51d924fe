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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.lms.errors import LMSError

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


class ISpringWebhookAdmin:
    def __init__(self, http: httpx.AsyncClient, base_url: str, login: OwnerLogin) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.login = login

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
        try:
            reply = await self.http.request(method, self.base_url + path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise LMSError(f"iSpring did not answer {path}: {type(exc).__name__}", provider="iSpring") from None
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
        if not reply.content:
            return None
        try:
            return reply.json()
        except ValueError:
            return reply.text[:2000]
