"""Multi-workspace mode: installing through Bolt's OAuth flow, then using the bot in that workspace."""

from __future__ import annotations

import httpx
from sqlalchemy import create_engine, text

from bot.devkit.devstack import DevStack
from tests.slack.conftest import command, text_of, wait_for


async def test_install_flow_stores_an_encrypted_installation_and_the_bot_answers() -> None:
    stack = DevStack(seed_demo=False, multi_workspace=True).start()
    workspace = stack.slack.workspace
    try:
        assert stack.web is not None and stack.settings is not None
        public, local = stack.settings.lmsbot_public_url, stack.web.base_url
        async with httpx.AsyncClient() as browser:
            page = await browser.get(local + "/slack/install")
            assert page.status_code == 200
            authorize = next(
                part.split('"')[0] for part in page.text.split('href="')[1:] if "oauth/v2/authorize" in part
            )
            authorize = authorize.replace("&amp;", "&")
            consent = await browser.get(authorize)
            assert consent.status_code == 302
            back = consent.headers["location"].replace(public, local)
            # Bolt's state cookie is `Secure` (https only); a real browser on https sends it back, so do we.
            cookie = page.headers["set-cookie"].split(";")[0]
            done = await browser.get(back, headers={"cookie": cookie})
            assert done.status_code == 200, done.text
        assert stack.slack.calls_for("oauth.v2.access")
        engine = create_engine(stack.settings.database_url)
        with engine.connect() as conn:
            installs = conn.execute(text("SELECT team_id, bot_token FROM slack_installations")).all()
        engine.dispose()
        assert [row.team_id for row in installs] == [workspace.team_id]
        assert workspace.bot_token not in str(installs)  # encrypted at rest
        # The installed workspace can use the bot (Bolt finds the bot token in the installation store), but
        # not the operator's own LMS accounts from the environment: it must connect its own.
        refused = text_of(await command(stack, "U0GRACE", "link grace.hopper@example.com"))
        assert "No LMS is connected yet" in refused
        assert stack.driver is not None
        await stack.driver.command("U0GRACE", "connect ispring")
        modal = await wait_for(lambda: stack.slack.top_modal("U0GRACE"))
        key = {
            "ispring_client_id": {"value": stack.sandbox.config.ispring_client_id},
            "ispring_client_secret": {"value": stack.sandbox.config.ispring_client_secret},
        }
        await stack.driver.view_submission("U0GRACE", modal, key)
        await wait_for(lambda: "iSpring is connected" in text_of(stack.slack.top_modal("U0GRACE") or {}) and True)
        linked = text_of(await command(stack, "U0GRACE", "link grace.hopper@example.com"))
        assert "linked to iSpring" in linked
        results = text_of(await command(stack, "U0GRACE", "results"))
        assert "Module results" in results
    finally:
        stack.stop()
