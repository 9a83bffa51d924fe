"""`lmsbot ispring webhooks register|status|remove` against a stand-in for iSpring's webhook management API
(the documented endpoints and owner-login headers): one subscriber per event type, each confirmed with the
code iSpring posts to the callback (kept by the web process in the database), then subscribed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from bot import cli
from bot.container import build_services
from bot.ispring_cli import callback_urls, register, webhook_admin
from bot.services.ispring_webhooks import COMPLETION_EVENTS
from storage import migrate
from tests.reminders.conftest import TEAM
from tests.support.hostile_lms import HostileLms, Mode

LOGIN = {"X-Auth-Account-Url": "https://acme.ispringlearn.com", "X-Auth-Email": "owner@acme.test"}


async def test_register_confirms_and_subscribes_one_subscriber_per_event(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    from bot.config import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        lmsbot_env="development",
        ispring_api_url="https://ispring.invalid",
        ispring_webhook_secret="s3cret",
        ispring_account_url=LOGIN["X-Auth-Account-Url"],
        ispring_admin_email=LOGIN["X-Auth-Email"],
        ispring_admin_password="pw",
    )
    seen: list[tuple[str, str, dict[str, Any]]] = []
    services = build_services(settings)

    async def ispring(request: httpx.Request) -> httpx.Response:
        assert all(request.headers[k] == v for k, v in LOGIN.items()) and request.headers["X-Auth-Password"] == "pw"
        body = json.loads(request.content) if request.content else {}
        seen.append((request.method, request.url.path, body))
        if request.url.path == "/webhook/code/send":  # iSpring posts the code to the callback URL
            event = httpx.URL(body["callbackUrl"]).params["event"]
            delivery = json.dumps({"type": "CONFIRMATION", "payloads": [json.dumps({"code": f"c-{event}"})]})
            await services.ispring_webhooks.process(TEAM, delivery.encode(), event)
        return httpx.Response(200, json={})

    services.http = httpx.AsyncClient(transport=httpx.MockTransport(ispring))
    urls = callback_urls("https://bot.acme.test", TEAM)
    lines: list[str] = []
    try:
        await register(services, webhook_admin(services), TEAM, urls, lines.append, wait_seconds=5)
    finally:
        await services.aclose()
    assert len(lines) == 3 and all(
        line.startswith("subscribed https://bot.acme.test/ispring/webhooks/") for line in lines
    )
    for event in COMPLETION_EVENTS:
        callback = f"https://bot.acme.test/ispring/webhooks/{TEAM}?event={event}"
        calls = [(m, p, b) for m, p, b in seen if b.get("callbackUrl") == callback]
        assert [p for _, p, _ in calls] == [
            "/webhook/register",
            "/webhook/code/send",
            "/webhook/confirm",
            "/webhook/subscribe",
        ]
        assert calls[0][2]["secret"] == "s3cret" and calls[2][2]["code"] == f"c-{event}"
        assert calls[3][2]["eventType"] == event


def test_missing_owner_login_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LMSBOT_ENV", "development")
    # A key of its own: else the first run in a fresh folder warns that it made a development key file.
    monkeypatch.setenv("LMSBOT_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    monkeypatch.chdir(tmp_path)  # no .env
    for name in ("ISPRING_WEBHOOK_SECRET", "ISPRING_ACCOUNT_URL", "ISPRING_ADMIN_EMAIL", "ISPRING_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["ispring", "webhooks", "status", "--team", TEAM]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "error: missing settings: ISPRING_WEBHOOK_SECRET, ISPRING_ACCOUNT_URL, ISPRING_ADMIN_EMAIL, "
        "ISPRING_ADMIN_PASSWORD"
    )


HOSTILE_DEADLINE = 2.0


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "mode",
    [Mode.SLOWLORIS, Mode.HUGE_BODY, Mode.REDIRECT, Mode.JSON_DEEP, Mode.JSON_BIG_INT, Mode.HTML_200],
    ids=str,
)
def test_a_hostile_ispring_is_one_line_within_the_deadline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: Mode
) -> None:
    """Webhook management calls are LMS calls too: LMS_CALL_DEADLINE_SECONDS, LMS_MAX_RESPONSE_BYTES, no
    redirects, hostile content refused in plain words (not printed as if it were iSpring's answer)."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    monkeypatch.chdir(tmp_path)  # no .env
    with HostileLms(mode, trickle_interval=0.2) as hostile:
        for name, value in {
            "DATABASE_URL": url,
            "LMSBOT_ENV": "development",
            "LMSBOT_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ISPRING_API_URL": hostile.ispring_url,
            "ISPRING_WEBHOOK_SECRET": "s3cret",
            "ISPRING_ACCOUNT_URL": LOGIN["X-Auth-Account-Url"],
            "ISPRING_ADMIN_EMAIL": LOGIN["X-Auth-Email"],
            "ISPRING_ADMIN_PASSWORD": "pw",
            "LMS_CALL_DEADLINE_SECONDS": str(HOSTILE_DEADLINE),
        }.items():
            monkeypatch.setenv(name, value)
        started = time.monotonic()
        code = cli.main(["ispring", "webhooks", "status", "--team", TEAM])
        took = time.monotonic() - started
        out, err = capsys.readouterr()  # before the server stops (its own shutdown is not the CLI's output)
    assert code == 1 and out == "", (code, out[:300])
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: iSpring"), err[-2000:]
    assert "Traceback" not in err and took < HOSTILE_DEADLINE + 5, (err[-300:], took)
    expected = {
        Mode.SLOWLORIS: f"no complete answer within {HOSTILE_DEADLINE:g} s",
        Mode.HUGE_BODY: "larger than 20 MB",
        Mode.REDIRECT: "does not follow redirects",
        Mode.JSON_DEEP: "nested more than",
        Mode.JSON_BIG_INT: "too many digits",
        Mode.HTML_200: "web page",
    }[mode]
    assert expected in err, err
