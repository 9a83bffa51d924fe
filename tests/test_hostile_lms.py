"""A slow or hostile LMS never hangs anything: the CLI and Slack answer in plain words within the deadline.

Each case runs against tests/support/hostile_lms.py with a 2 s deadline (LMS_CALL_DEADLINE_SECONDS) and is
held to "deadline + 5 s".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.devkit.sandbox.server import SandboxServer
from bot.lms import ispring, zoho
from tests.support.hostile_lms import CONTENT_MODES, HostileLms, Mode
from tests.support.lms import sandbox_env

DEADLINE = 2.0
ALL_MODES = [m for m in Mode if m is not Mode.HEALTHY]
COMMANDS = {"ispring": ["lms", "results"], "zoho": ["lms", "courses"]}


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileLms]:
    with HostileLms(trickle_interval=0.2) as server:
        yield server


@pytest.fixture
def hostile_env(
    hostile: HostileLms, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> HostileLms:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name, value in sandbox_env(sandbox).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ZOHO_PEOPLE_URL", hostile.url)
    monkeypatch.setenv("ZOHO_ACCOUNTS_URL", hostile.url)
    monkeypatch.setenv("ISPRING_API_URL", hostile.ispring_url)
    monkeypatch.setenv("LMS_CALL_DEADLINE_SECONDS", str(DEADLINE))
    monkeypatch.setenv("LMS_MAX_RESPONSE_BYTES", str(20 * 1024 * 1024))
    monkeypatch.setenv("LMS_RATE_LIMIT", "100000")  # endless pages reach the page cap, not the rate limit
    # A small page cap keeps the endless-pages case short; the real caps are checked in test_transport.py.
    monkeypatch.setattr(ispring, "MAX_PAGES", 40)
    monkeypatch.setattr(zoho, "MAX_PAGES", 40)
    hostile.hostile_tokens = False
    return hostile


@pytest.mark.timeout(60)
@pytest.mark.parametrize("provider", sorted(COMMANDS))
@pytest.mark.parametrize("mode", ALL_MODES, ids=str)
def test_cli_fails_in_one_plain_line_within_the_deadline(
    hostile_env: HostileLms, capsys: pytest.CaptureFixture[str], mode: Mode, provider: str
) -> None:
    hostile_env.mode = mode
    started = time.monotonic()
    code = main(COMMANDS[provider])
    took = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code != 0, out[:300]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    assert "Traceback" not in err and "Something went wrong" not in err
    assert took < DEADLINE + 5, took
    assert out == ""


_PLAIN_WORDS = {
    Mode.SLOWLORIS: f"no complete answer within {DEADLINE:.0f} s",
    Mode.ENDLESS_PAGES: "more than 40 pages",
    Mode.REPEATED_TOKEN: "repeated a page token",
    Mode.HUGE_BODY: "larger than 20 MB",
    Mode.REDIRECT: "redirect",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", list(_PLAIN_WORDS), ids=str)
def test_cli_says_what_happened(hostile_env: HostileLms, capsys: pytest.CaptureFixture[str], mode: Mode) -> None:
    hostile_env.mode = mode
    code = main(COMMANDS["ispring"])
    _, err = capsys.readouterr()
    assert code == 1
    assert _PLAIN_WORDS[mode] in err, err


@pytest.mark.timeout(60)
def test_zoho_sending_the_same_page_again_stops_at_once(
    hostile_env: HostileLms, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMS_RATE_LIMIT", "30")  # as shipped: 40 identical pages would take over a minute
    hostile_env.mode = Mode.REPEATED_TOKEN  # for Zoho: the same 25 records with hasMoreRecords, every time
    started = time.monotonic()
    code = main(COMMANDS["zoho"])
    _, err = capsys.readouterr()
    assert code == 1 and "sent the same page again" in err, err
    assert time.monotonic() - started < DEADLINE + 5


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", [m for m in CONTENT_MODES if m is not Mode.ERROR_200], ids=str)
def test_hostile_content_is_an_answer_lmsbot_cannot_read(
    hostile_env: HostileLms, capsys: pytest.CaptureFixture[str], mode: Mode
) -> None:
    hostile_env.mode = mode
    for command in COMMANDS.values():
        code = main(command)
        _, err = capsys.readouterr()
        assert code == 1
        assert "sent an answer lmsbot cannot read" in err, err


@pytest.mark.timeout(60)
def test_token_requests_have_the_deadline_too(hostile_env: HostileLms, capsys: pytest.CaptureFixture[str]) -> None:
    hostile_env.mode = Mode.SLOWLORIS
    hostile_env.hostile_tokens = True
    for command in COMMANDS.values():
        started = time.monotonic()
        code = main(command)
        took = time.monotonic() - started
        _, err = capsys.readouterr()
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert f"within {DEADLINE:.0f} s" in err and took < DEADLINE + 5, (err, took)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("provider", sorted(COMMANDS))
def test_endless_pages_end_within_the_deadline_with_the_shipped_rate_limit_and_page_caps(
    hostile_env: HostileLms, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    """At 30 calls a minute the page caps alone (1,000 / 400 pages) would hold the CLI for many minutes: a list
    read while someone waits ends, all its pages and waits for budget together, within the deadline."""
    monkeypatch.setenv("LMS_RATE_LIMIT", "30")
    monkeypatch.setattr(ispring, "MAX_PAGES", 1000)
    monkeypatch.setattr(zoho, "MAX_PAGES", 400)
    hostile_env.mode = Mode.ENDLESS_PAGES
    started = time.monotonic()
    code = main(COMMANDS[provider])
    took = time.monotonic() - started
    _, err = capsys.readouterr()
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert f"its list did not end within {DEADLINE:g} s" in err and "pages read" in err, err
    assert took < DEADLINE + 5, took
