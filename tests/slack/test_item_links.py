"""Issue 11 item 8: `/lms status` tells admins whether "Open in LMS" can open the item (its URL template set)."""

from __future__ import annotations

import pytest

from bot.devkit.devstack import DevStack
from tests.slack.conftest import command, text_of

GRACE, ADA = "U0GRACE", "U0ADA"  # Grace is a workspace admin, Ada a learner


async def test_status_warns_admins_when_no_item_template_is_set(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REMINDER_ZOHO_ITEM_URL", raising=False)
    monkeypatch.delenv("REMINDER_ISPRING_ITEM_URL", raising=False)
    reply = text_of(await command(stack, GRACE, "status"))
    assert "*Open in LMS links*" in reply
    assert "no `REMINDER_ZOHO_ITEM_URL` set — digests can only offer the Zoho People home page" in reply
    assert "no `REMINDER_ISPRING_ITEM_URL` set — an iSpring item whose course iSpring gives no address" in reply
    assert "Open in LMS links" not in text_of(await command(stack, ADA, "status"))  # admins only

    monkeypatch.setenv("REMINDER_ZOHO_ITEM_URL", "https://people.zoho.com/acme/lms#course/{course_id}/{item_id}")
    monkeypatch.setenv("REMINDER_ISPRING_ITEM_URL", "https://acme.ispringlearn.com/app/course/{course_id}")
    reply = text_of(await command(stack, GRACE, "status"))
    assert "`REMINDER_ZOHO_ITEM_URL` is set — each module's button opens its item" in reply
    assert "`REMINDER_ISPRING_ITEM_URL` is set" in reply and "no `REMINDER_" not in reply

    monkeypatch.setenv("REMINDER_ZOHO_ITEM_URL", "https://people.zoho.com/acme/{lesson}")
    reply = text_of(await command(stack, GRACE, "status"))
    assert (
        "The reminder settings could not be read: REMINDER_ZOHO_ITEM_URL has an unknown placeholder {lesson}" in reply
    )
