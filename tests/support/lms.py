"""Clients wired to a running LMS sandbox, as an operator would configure them."""

from __future__ import annotations

from typing import Any

from bot.clock import Clock
from bot.config import Settings
from bot.devkit.sandbox.server import SandboxServer
from bot.lms.factory import LmsClients
from bot.lms.ratelimit import MemoryBackend, RateLimiter, RateLimitPolicy
from bot.lms.transport import RetryPolicy


def sandbox_settings(server: SandboxServer, **overrides: Any) -> Settings:
    cfg = server.config
    values: dict[str, Any] = {
        "zoho_people_url": server.url,
        "zoho_accounts_url": server.url,
        "zoho_client_id": cfg.zoho_client_id,
        "zoho_client_secret": cfg.zoho_client_secret,
        "zoho_refresh_token": cfg.zoho_refresh_token,
        "ispring_api_url": server.url + "/ispring",
        "ispring_client_id": cfg.ispring_client_id,
        "ispring_client_secret": cfg.ispring_client_secret,
        "lms_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def sandbox_clients(
    server: SandboxServer,
    *,
    clock: Clock | None = None,
    policy: RateLimitPolicy | None = None,
    **overrides: Any,
) -> LmsClients:
    settings = sandbox_settings(server, **overrides)
    limiter = RateLimiter(MemoryBackend(), policy or RateLimitPolicy(), clock)
    return LmsClients(settings, limiter=limiter, retry=RetryPolicy(max_retries=2, initial_wait=0.01, max_wait=0.05))


def sandbox_env(server: SandboxServer) -> dict[str, str]:
    """The environment an operator would export to point lmsbot at this sandbox."""
    cfg = server.config
    return {
        "ZOHO_PEOPLE_URL": server.url,
        "ZOHO_ACCOUNTS_URL": server.url,
        "ZOHO_CLIENT_ID": cfg.zoho_client_id,
        "ZOHO_CLIENT_SECRET": cfg.zoho_client_secret,
        "ZOHO_REFRESH_TOKEN": cfg.zoho_refresh_token,
        "ISPRING_API_URL": server.url + "/ispring",
        "ISPRING_CLIENT_ID": cfg.ispring_client_id,
        "ISPRING_CLIENT_SECRET": cfg.ispring_client_secret,
    }
