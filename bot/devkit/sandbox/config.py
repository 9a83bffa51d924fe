"""Sandbox settings (kept apart from server.py so the app can import them without a cycle)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port (SandboxServer reports the real one)
    rate_limit: int = 30  # "Threshold Limit: 30 requests" per endpoint ...
    rate_window: float = 60.0  # ... "within a minute"
    lock_seconds: float = 300.0  # "Lock period: 5 minutes"
    lock_status: int = 422  # "422 Maximum limit exceeded"; 429 adds a Retry-After header
    # Set (7209): the lock answer is Zoho's threshold body `{"code": 7209, "message": …}` with HTTP lock_status
    # (which may be 200: how Zoho pairs the two is undocumented).
    lock_code: int | None = None
    latency: float = 0.0
    clock_speed: float = 1.0
    zoho_client_id: str = "sandbox-zoho-client"
    zoho_client_secret: str = "sandbox-zoho-secret"
    zoho_refresh_token: str = "sandbox-zoho-refresh"
    zoho_readonly_refresh_token: str = "sandbox-zoho-readonly"
    ispring_client_id: str = "sandbox-ispring-client"
    ispring_client_secret: str = "sandbox-ispring-secret"
    zoho_token_ttl: int = 3600
    ispring_token_ttl: int = 1800
    seed: str = "demo"
    learners: int = 0
