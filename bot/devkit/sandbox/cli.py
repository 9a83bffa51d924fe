"""`lmsbot sandbox`: argument wiring and the start-up banner (the lead's CLI calls these)."""

from __future__ import annotations

import argparse

from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.server import serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--seed", default="demo", help="seed string for the deterministic world")
    parser.add_argument("--learners", type=int, default=0, help="extra generated learners (e.g. 1000)")
    parser.add_argument("--rate-limit", type=int, default=30, help="calls per endpoint per window")
    parser.add_argument("--rate-window", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--lock-seconds", type=float, default=300.0)
    parser.add_argument("--lock-status", type=int, choices=[200, 400, 422, 429], default=422)
    parser.add_argument(
        "--lock-code",
        type=int,
        choices=[7209],
        help="answer locks with Zoho's threshold body {code: 7209} (HTTP --lock-status)",
    )
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="added to every LMS call")
    parser.add_argument("--clock-speed", type=float, default=1.0, metavar="X", help="sandbox clock speed-up")


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        learners=args.learners,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        lock_seconds=args.lock_seconds,
        lock_status=args.lock_status,
        lock_code=args.lock_code,
        latency=args.latency,
        clock_speed=args.clock_speed,
    )


def banner(config: SandboxConfig) -> str:
    base = f"http://{config.host}:{config.port}"
    return "\n".join(
        [
            f"LMS sandbox (seed {config.seed!r}, +{config.learners} learners) on {base}",
            f"  Zoho People:   {base}/api/v1/...",
            f"  Zoho Accounts: {base}/oauth/v2/token",
            f"  iSpring Learn: {base}/ispring",
            f"  Call log:      {base}/_sandbox/calls",
            "Sandbox-only credentials (fake values):",
            f"  export ZOHO_PEOPLE_URL={base}",
            f"  export ZOHO_ACCOUNTS_URL={base}",
            f"  export ZOHO_CLIENT_ID={config.zoho_client_id}",
            f"  export ZOHO_CLIENT_SECRET={config.zoho_client_secret}",
            f"  export ZOHO_REFRESH_TOKEN={config.zoho_refresh_token}",
            f"  # read-only refresh token: {config.zoho_readonly_refresh_token}",
            f"  export ISPRING_API_URL={base}/ispring",
            f"  export ISPRING_CLIENT_ID={config.ispring_client_id}",
            f"  export ISPRING_CLIENT_SECRET={config.ispring_client_secret}",
        ]
    )


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    print(banner(config), flush=True)
    serve(config)
    return 0
