"""`/lms results` against a hostile iSpring: a plain ephemeral reply within the deadline, never a hang and never
"Something went wrong"."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.slack.conftest import command, text_of
from tests.support.hostile_lms import HostileLms, Mode

MANAGER = "U0MARGARET"
DEADLINE = 5.0  # roomy enough to stream 20 MB (and inflate a gzip bomb) on a busy 2-core machine
EXPECTED = {
    Mode.SLOWLORIS: "not answering right now",
    Mode.HUGE_BODY: "larger than 20 MB",
    Mode.GZIP_BOMB: "larger than 20 MB",
    Mode.REDIRECT: "does not follow redirects",
    Mode.REPEATED_TOKEN: "repeated a page token",
    Mode.XML_ENTITIES: "declares entities",
    Mode.JSON_BIG_INT: "too many digits",
    Mode.JSON_INFINITY: "too large to represent",
    Mode.JSON_DEEP: "nested more than",
    Mode.HTML_200: "web page",
    Mode.ERROR_200: "Access denied",
    # Last: with the shipped page cap and 30 calls a minute it spends the minute's budget, and the cases above
    # would then wait for it.
    Mode.ENDLESS_PAGES: "its list did not end within",
}


@pytest.mark.timeout(120)
async def test_results_against_a_hostile_ispring_gets_a_plain_reply(make_stack: Any) -> None:
    with HostileLms(Mode.HEALTHY, trickle_interval=0.2) as hostile:
        stack = make_stack(ispring_api_url=hostile.ispring_url, lms_call_deadline_seconds=DEADLINE, lms_cache_seconds=0)
        for mode, words in EXPECTED.items():
            hostile.mode = mode
            started = time.monotonic()
            reply = text_of(await command(stack, MANAGER, "results", timeout=DEADLINE + 5))
            took = time.monotonic() - started
            assert words in reply, (mode, reply)
            assert "Something went wrong" not in reply and "Traceback" not in reply, (mode, reply)
            assert took < DEADLINE + 5, (mode, took)
