"""A workspace uninstalls the app, or Slack revokes tokens: signed `app_uninstalled` / `tokens_revoked` events
from the stand-in (which revokes the tokens first, as Slack does), then what the bot does and no longer does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from bot.container import build_services
from bot.devkit.devstack import DevStack
from bot.reminders_cli import sweep_now
from tests.slack.conftest import command, text_of, wait_for

ALAN, GRACE = "U0ALAN", "U0GRACE"
ROOT = Path(__file__).resolve().parents[2]


def _query(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def _mark(url: str) -> Any:
    rows = _query(url, "SELECT team_id, reason, token_fingerprint FROM workspace_uninstalls")
    return rows[0] if rows else None


async def _install(stack: DevStack) -> None:
    """Bolt's OAuth install flow, as a browser goes through it (see test_install.py)."""
    assert stack.web is not None and stack.settings is not None
    public, local = stack.settings.lmsbot_public_url, stack.web.base_url
    async with httpx.AsyncClient() as browser:
        page = await browser.get(local + "/slack/install")
        authorize = next(part.split('"')[0] for part in page.text.split('href="')[1:] if "oauth/v2/authorize" in part)
        consent = await browser.get(authorize.replace("&amp;", "&"))
        back = consent.headers["location"].replace(public, local)
        done = await browser.get(back, headers={"cookie": page.headers["set-cookie"].split(";")[0]})
        assert done.status_code == 200, done.text


def _posts(stack: DevStack) -> list[Any]:
    return [c for c in stack.slack.calls_for("chat.postMessage") if c.ok]


async def test_app_uninstalled_stops_the_reminders_keeps_the_data_and_a_new_token_resumes(stack: DevStack) -> None:
    assert stack.driver is not None and stack.settings is not None
    url, team = stack.settings.database_url, stack.slack.workspace.team_id
    links_before = _query(url, "SELECT count(*) FROM learner_links")[0][0]
    assert links_before > 0

    response = await stack.driver.app_uninstalled()

    assert response.status_code == 200
    mark = await wait_for(lambda: _mark(url))
    assert (mark.team_id, mark.reason) == (team, "app_uninstalled")
    assert stack.slack.workspace.bot_token not in str(mark)  # a fingerprint, never the token
    stack.slack.clear()
    stack.sandbox.state.clear_calls()
    report = await sweep_now(stack.settings, force=True)
    assert not report.sent and not report.errors, report.summary()
    assert stack.slack.calls == []  # not a single Slack call for the workspace, so nothing sent
    assert stack.sandbox.state.calls == []  # and its LMS is not read either
    assert _query(url, "SELECT count(*) FROM learner_links")[0][0] == links_before  # the data is kept

    # Installed again: Slack issues a new bot token, the operator sets it, reminders go out again.
    stack.slack.workspace.bot_token = "xoxb-0000-demo-lmsbot-again"
    again = stack.settings.model_copy(update={"slack_bot_token": SecretStr(stack.slack.workspace.bot_token)})
    report = await sweep_now(again, force=True, user=ALAN)
    assert [o.user_id for o in report.sent] == [ALAN], report.summary()
    assert len(_posts(stack)) == 1


async def test_after_an_uninstall_an_ispring_completion_edits_no_digest(stack: DevStack) -> None:
    assert stack.driver is not None and stack.settings is not None
    report = await sweep_now(stack.settings, user=ALAN, force=True)
    assert [o.user_id for o in report.sent] == [ALAN], report.summary()
    await stack.driver.app_uninstalled()
    await wait_for(lambda: _mark(stack.settings.database_url) if stack.settings else None)
    stack.slack.clear()
    stack.sandbox.state.clear_calls()

    async with httpx.AsyncClient(base_url=stack.sandbox.url) as client:
        done = (await client.post("/_sandbox/complete", json={"learner": "Alan Turing", "item": "Anti-Bribery"})).json()

    assert [d["status"] for d in done["webhooks"]] == [200, 200, 200]
    assert await stack.work.wait_idle()
    assert stack.sandbox.state.calls_for("ispring-results")  # the webhook was taken in and read …
    assert stack.slack.calls == []  # … but nothing goes to a workspace without a token


async def test_app_uninstalled_reaches_a_process_that_never_learned_its_workspace(stack: DevStack) -> None:
    """The web process has not called auth.test yet, and now cannot (the token is revoked): the event still counts."""
    assert stack.driver is not None and stack.settings is not None
    response = await stack.driver.app_uninstalled()
    assert response.status_code == 200
    await wait_for(lambda: _mark(stack.settings.database_url) if stack.settings else None)
    revoked = [c for c in stack.slack.calls_for("auth.test") if c.response.get("error") == "token_revoked"]
    assert revoked  # it tried, Slack refused, and the uninstall was recorded anyway


async def test_tokens_revoked_for_some_users_keeps_the_bot_and_for_the_bot_stops_everything() -> None:
    stack = DevStack(seed_demo=False, multi_workspace=True).start()
    try:
        assert stack.driver is not None and stack.settings is not None
        url, team = stack.settings.database_url, stack.slack.workspace.team_id
        await _install(stack)
        # Give the installer a user token (lmsbot asks for none, but a workspace's installation can carry one).
        stack.slack.workspace.user_tokens["xoxp-grace"] = GRACE
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE slack_installations SET user_token = 'xoxp-grace' WHERE user_id = :u"), {"u": GRACE}
            )
        engine.dispose()

        response = await stack.driver.tokens_revoked(users=[GRACE])

        assert response.status_code == 200
        await wait_for(lambda: _query(url, "SELECT user_token FROM slack_installations") == [(None,)])
        assert _query(url, "SELECT count(*) FROM slack_bots")[0][0] == 1
        assert _mark(url) is None
        assert "No LMS is connected yet" in text_of(await command(stack, GRACE, "link grace.hopper@example.com"))

        response = await stack.driver.tokens_revoked(bot=True)

        assert response.status_code == 200
        mark = await wait_for(lambda: _mark(url))
        assert (mark.team_id, mark.reason) == (team, "tokens_revoked")
        assert _query(url, "SELECT count(*) FROM slack_installations")[0][0] == 0
        assert _query(url, "SELECT count(*) FROM slack_bots")[0][0] == 0
    finally:
        stack.stop()


async def test_multi_workspace_uninstall_deletes_the_tokens_and_a_reinstall_resumes_the_reminders() -> None:
    stack = DevStack(seed_demo=False, multi_workspace=True).start()
    try:
        assert stack.driver is not None and stack.settings is not None
        url, team = stack.settings.database_url, stack.slack.workspace.team_id
        await _install(stack)
        services = build_services(stack.settings)
        try:  # the workspace connects its iSpring and Alan links himself, as in Slack
            cfg = stack.sandbox.config
            await services.connections.connect_ispring(
                team, GRACE, client_id=cfg.ispring_client_id, client_secret=cfg.ispring_client_secret
            )
            alan = next(u.user_id for u in stack.sandbox.state.ispring_users.values() if u.name == "Alan Turing")
            await services.links_repo.link(team, ALAN, "ispring", alan, email=None, method="admin", linked_by="t")
        finally:
            await services.aclose()

        response = await stack.driver.app_uninstalled()

        assert response.status_code == 200
        await wait_for(lambda: _mark(url))
        assert _query(url, "SELECT count(*) FROM slack_installations")[0][0] == 0
        assert _query(url, "SELECT count(*) FROM slack_bots")[0][0] == 0
        assert _query(url, "SELECT count(*) FROM provider_connections")[0][0] == 1  # kept for a reinstall
        stack.slack.clear()
        stack.sandbox.state.clear_calls()
        report = await sweep_now(stack.settings, force=True)
        assert not report.sent and not report.errors, report.summary()
        assert stack.slack.calls == [] and stack.sandbox.state.calls == []

        await _install(stack)  # the stand-in issues a new bot token, Bolt stores it

        report = await sweep_now(stack.settings, force=True, user=ALAN)
        assert [o.user_id for o in report.sent] == [ALAN], report.summary()
        [digest] = stack.slack.dm_messages(ALAN)
        assert "Anti-Bribery" in text_of(digest)
    finally:
        stack.stop()


@pytest.mark.parametrize("event", ["app_uninstalled", "tokens_revoked"])
def test_the_manifest_subscribes_to_the_lifecycle_events(event: str) -> None:
    for name in ("manifest.yml", "manifest.socket-mode.yml"):
        manifest = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
        assert event in manifest["settings"]["event_subscriptions"]["bot_events"], name
