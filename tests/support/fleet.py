"""Many workspaces at once, for the scale-out tests and bench/scale_out.py: each workspace connected to its own
Zoho organisation in the sandbox (its own refresh token and rate limit), its own Slack people linked to
sandbox learners, the same tracked modules, and everyone's digest due now.

Also the worker processes those tests start (`lmsbot worker`, read line by line as they print)."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bot.container import Services
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.slackstub import SlackStub
from storage.db import Database
from tests.reminders.conftest import TRACKS  # the same five tracked modules as the reminder tests

EVERY_DAY = "mon,tue,wed,thu,fri,sat,sun"
PROCRASTINATE_TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)


def team_id(n: int) -> str:
    return f"T0W{n:03d}"


def user_id(n: int, person: int) -> str:
    return f"UW{n:03d}P{person:02d}"


def midday_zone(at: datetime | None = None) -> str:
    """A fixed-offset zone where it is about noon now: far from midnight, so a run never crosses into the next
    day's digest period."""
    hour = (at or datetime.now(UTC)).hour
    offset = 12 - hour  # local = UTC + offset: from -11 to +12, all of which Etc/GMT has
    # Etc/GMT signs are POSIX's: Etc/GMT-5 is UTC+5.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@dataclass
class Fleet:
    teams: list[str]
    people: dict[str, list[str]] = field(default_factory=dict)  # workspace -> its Slack users

    @property
    def users(self) -> set[str]:
        return {u for users in self.people.values() for u in users}

    def team_of(self, user: str) -> str:
        return next(team for team, users in self.people.items() if user in users)


async def build_fleet(
    services: Services,
    sandbox: SandboxServer,
    slack: SlackStub,
    *,
    workspaces: int,
    people: int,
    learners: Sequence[int],
    tracks: Sequence[tuple[str, int, int | None, int]] = TRACKS,
) -> Fleet:
    """`workspaces` workspaces of `people` Slack users each, linked in turn to `learners` (sandbox learner ids);
    every digest due now (a send time of 00:00 every day, in a zone where it is midday)."""
    cfg = sandbox.config
    zone = midday_zone()
    fleet = Fleet([team_id(n) for n in range(workspaces)])
    gate = asyncio.Semaphore(4)  # a few workspaces written at once (the database pool's size)

    async def one(n: int, team: str) -> None:
        async with gate:
            refresh = sandbox.state.add_zoho_account(f"org-{team}")
            await services.connections_repo.save_zoho(
                team,
                data_center=None,
                api_url=sandbox.url,
                accounts_url=sandbox.url,
                client_id=cfg.zoho_client_id,
                client_secret=cfg.zoho_client_secret,
                refresh_token=refresh,
                scopes=None,
                connected_by="fleet",
            )
            for alias, course, batch, module in tracks:
                await services.modules_repo.track(
                    team, "zoho", str(course), str(batch) if batch else None, str(module), alias=alias, created_by="t"
                )
            users = fleet.people.setdefault(team, [])
            for p in range(people):
                user = user_id(n, p)
                learner = learners[(n * people + p) % len(learners)]
                slack.workspace.add_user(user, user.lower(), f"Person {p} of {team}", None, zone)
                await services.links_repo.link(
                    team, user, "zoho", str(learner), email=None, method="admin", linked_by="t"
                )
                await services.preferences.update(team, user, send_time="00:00", weekdays=EVERY_DAY, timezone=zone)
                users.append(user)

    await asyncio.gather(*(one(n, team) for n, team in enumerate(fleet.teams)))
    return fleet


async def clear_job_queue(database_url: str) -> None:
    """Empty procrastinate's tables (the test database is shared by a session's tests)."""
    db = Database(database_url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(PROCRASTINATE_TABLES)} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()


def digests_per_user(slack: SlackStub) -> Counter[str]:
    """Successful chat.postMessage calls per recipient, as the Slack stand-in saw them."""
    users = {channel: user for user, channel in slack.workspace.dms.items()}
    return Counter(users.get(str(c.response.get("channel")), "?") for c in slack.calls_for("chat.postMessage") if c.ok)


def lmsbot_command(*args: str) -> list[str]:
    """lmsbot exactly as the Procfile and operators run it: `lmsbot …` (`python -m bot …`)."""
    return [sys.executable, "-m", "bot", *args]


@dataclass(frozen=True)
class Line:
    text: str
    at: float  # time.monotonic() when it was read


class Proc:
    """A process whose output is read line by line in the background (each line with when it was read)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self.lines: queue.Queue[Line] = queue.Queue()
        self.output: list[str] = []
        self.seen: list[Line] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(Line(line.rstrip("\n"), time.monotonic()))

    def drain(self) -> list[Line]:
        """The lines printed since the last call (also kept in `output` and `seen`)."""
        new: list[Line] = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            new.append(line)
            self.seen.append(line)
            self.output.append(line.text)
        return new

    async def wait_line(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        checked = 0
        while time.monotonic() < deadline:
            self.drain()
            for line in self.seen[checked:]:
                checked += 1
                if re.search(pattern, line.text):
                    return line.text
            if self.popen.poll() is not None and self.lines.empty():
                break
            await asyncio.sleep(0.02)
        raise AssertionError(f"no line matching {pattern!r}; output so far:\n" + "\n".join(self.output))

    def cpu_seconds(self) -> float:
        """User + system CPU the process has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 20.0, *, signalled: bool = False) -> int:
        """SIGTERM (unless `signalled`: one was sent already; a second, arriving while the first's clean exit runs,
        would find Python's default handler back and end it with -15), then SIGKILL if it does not end in time."""
        if not signalled:
            self.kill(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(timeout=10)
