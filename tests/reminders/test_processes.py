"""Worker processes for real: killed mid-sweep and restarted, two at once on PostgreSQL, a hot standby that
takes over, SIGTERM. Each reminder must reach Slack exactly once (counted at the Slack stand-in)."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from bot.container import build_services
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.slackstub import SlackStub, SlackStubServer
from bot.devkit.slackstub.driver import SlackDriver
from bot.reminders.settings import ReminderConfig
from bot.reminders.types import DIGEST_KEY
from bot.reminders_root import build_engine
from bot.scheduler import LEASE_NAME
from storage import migrate
from storage.db import Database
from storage.models import SentReminderRow
from storage.repositories.leases import LeaseRepository
from storage.repositories.preferences import PreferenceRepository
from tests.conftest import require_service
from tests.reminders.conftest import PEOPLE, TEAM, TRACKS, empty_tables, world_settings
from tests.support.metrics import Scrape
from tests.support.processes import free_port
from tests.support.slack import text_of
from tests.support.tcpproxy import TcpProxy


def worker_command(*args: str) -> list[str]:
    """The worker exactly as the Procfile and operators run it: `lmsbot …` (`python -m bot …`)."""
    return [sys.executable, "-m", "bot", *args]


class Proc:
    """A worker process whose output is read line by line in the background."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    async def wait_line(self, pattern: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                if self.popen.poll() is not None and self.lines.empty():
                    break
                await asyncio.sleep(0.02)
                continue
            self.output.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r}; output so far:\n" + "\n".join(self.output))

    async def finish(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.popen.poll() is None:
            self.popen.kill()
            raise AssertionError("the worker did not finish")
        await asyncio.sleep(0.05)
        while not self.lines.empty():
            self.output.append(self.lines.get_nowait())
        return int(self.popen.returncode)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)


@dataclass
class Stage:
    sandbox: SandboxServer
    slack: SlackStub
    database_url: str
    env: dict[str, str]
    cwd: Path
    procs: list[Proc]

    def start(self, *args: str, **env: str) -> Proc:
        proc = Proc(worker_command(*args), {**self.env, **env}, self.cwd)
        self.procs.append(proc)
        return proc

    def posts(self) -> Counter[str]:
        """Successful chat.postMessage calls per recipient."""
        users = {channel: user for user, channel in self.slack.workspace.dms.items()}
        return Counter(
            users.get(str(c.response.get("channel")), "?") for c in self.slack.calls_for("chat.postMessage") if c.ok
        )

    async def expected(self) -> set[str]:
        """Who a forced sweep would send a digest to (an in-process dry run), without leaving a cache behind."""
        services = build_services(self._settings())
        try:
            report = await build_engine(services, ReminderConfig(_env_file=None, manager_digest=False)).sweep(  # type: ignore[call-arg]
                force=True, dry_run=True
            )
        finally:
            await services.aclose()
        db = Database(self.database_url)
        async with db.engine.begin() as conn:
            await conn.execute(text("DELETE FROM lms_cache"))
        await db.dispose()
        self.slack.clear()
        return {o.user_id for o in report.sent}

    def _settings(self) -> Any:
        return world_settings(self.sandbox, self.env["SLACK_API_URL"], self.database_url, lms_rate_limit=10_000)


MakeStage = Callable[..., Any]


@pytest.fixture
async def make_stage(
    sandbox_factory: Any, _slack_server: SlackStubServer, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    procs: list[Proc] = []

    async def make(database_url: str | None = None, latency: float = 0.0) -> Stage:
        sandbox = sandbox_factory(rate_limit=10_000, latency=latency, state=seed.build_state("demo"))
        _slack_server.reset()
        url = database_url or f"sqlite:///{tmp_path / 'worker.db'}"
        if database_url is None:
            migrate.upgrade(url)
        else:
            await empty_tables(Database(url))
        settings = world_settings(sandbox, _slack_server.url, url, lms_rate_limit=10_000)
        services = build_services(settings)
        try:
            for user, learner in PEOPLE.items():
                await services.links_repo.link(
                    TEAM, user, "zoho", str(learner), email=None, method="admin", linked_by="t"
                )
            for alias, course, batch, module in TRACKS:
                await services.modules_repo.track(
                    TEAM, "zoho", str(course), str(batch) if batch else None, str(module), alias=alias, created_by="t"
                )
        finally:
            await services.aclose()
        assert settings.lmsbot_encryption_keys is not None
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": url,
            "LMSBOT_ENV": "development",
            "LMSBOT_ENCRYPTION_KEYS": settings.lmsbot_encryption_keys.get_secret_value(),
            "SLACK_BOT_TOKEN": _slack_server.stub.workspace.bot_token,
            "SLACK_API_URL": _slack_server.url,
            "ZOHO_PEOPLE_URL": sandbox.url,
            "ZOHO_ACCOUNTS_URL": sandbox.url,
            "ZOHO_CLIENT_ID": sandbox.config.zoho_client_id,
            "ZOHO_CLIENT_SECRET": sandbox.config.zoho_client_secret,
            "ZOHO_REFRESH_TOKEN": sandbox.config.zoho_refresh_token,
            "LMS_RATE_LIMIT": "10000",
            "REMINDER_MANAGER_DIGEST": "false",
            "REMINDER_CLAIM_STALE_SECONDS": "2",
        }
        stage = Stage(sandbox, _slack_server.stub, url, env, tmp_path, procs)
        return stage

    yield make
    for proc in procs:
        proc.kill()
        proc.popen.wait(timeout=10)


async def test_worker_killed_mid_sweep_and_restarted_sends_every_reminder_exactly_once(make_stage: MakeStage) -> None:
    stage = await make_stage(latency=0.05)
    expected = await stage.expected()
    assert len(expected) == 8
    worker = stage.start("remind", "--now", REMINDER_CONCURRENCY="1")
    deadline = time.monotonic() + 60
    while sum(stage.posts().values()) < 2:  # some DMs went out…
        assert time.monotonic() < deadline and worker.popen.poll() is None, worker.output
        await asyncio.sleep(0.01)
    stage.slack.fail_next("chat.postMessage", "internal_error", delay=8.0)  # …and the next one hangs, claimed
    while stage.slack.faults.get("chat.postMessage"):
        assert time.monotonic() < deadline, "the worker never reached its next post"
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    worker.kill(signal.SIGKILL)  # between claim and send
    assert await worker.finish() == -signal.SIGKILL
    before = stage.posts()
    assert 2 <= sum(before.values()) < len(expected) and all(n == 1 for n in before.values())
    await backdate_claims(stage.database_url, timedelta(seconds=2.2))  # the dead worker's claim goes stale (2 s)
    stage.sandbox.state.latency = 0.0
    restarted = stage.start("remind", "--now")
    assert await restarted.finish() == 0, restarted.output
    after = stage.posts()
    assert set(after) == expected and all(n == 1 for n in after.values()), after
    assert any(line.startswith("sent: digest") for line in restarted.output)
    again = stage.start("remind", "--now")  # a second run in the same period sends nothing new
    assert await again.finish() == 0 and stage.posts() == after
    assert not any(line.startswith("sent:") for line in again.output)


async def backdate_claims(database_url: str, by: timedelta) -> list[str]:
    """Make every unconfirmed claim look `by` older, as if its worker had died that long ago; whose they are."""
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            rows = (await session.scalars(select(SentReminderRow).where(SentReminderRow.status == "claimed"))).all()
            for row in rows:
                row.claimed_at -= by
            return [row.slack_user_id for row in rows]
    finally:
        await db.dispose()


async def test_worker_killed_after_slack_stored_the_digest_but_before_confirming_never_sends_it_twice(
    make_stage: MakeStage,
) -> None:
    stage = await make_stage(latency=0.02)
    expected = await stage.expected()
    worker = stage.start("remind", "--now", REMINDER_CONCURRENCY="1", REMINDER_CLAIM_STALE_SECONDS="600")
    deadline = time.monotonic() + 60
    while sum(stage.posts().values()) < 2:  # some DMs went out and were confirmed…
        assert time.monotonic() < deadline and worker.popen.poll() is None, worker.output
        await asyncio.sleep(0.01)
    stage.slack.hold_answer("chat.postMessage", 60.0)  # …Slack stores the next one and is slow to say so
    while not stage.slack.held:
        assert time.monotonic() < deadline and worker.popen.poll() is None, worker.output
        await asyncio.sleep(0.01)
    worker.kill(signal.SIGKILL)  # Slack has the message; the worker never learnt its ts, nor confirmed
    assert await worker.finish() == -signal.SIGKILL
    stage.slack.release_holds()
    [crashed] = await backdate_claims(stage.database_url, timedelta(hours=1))  # its claim is stale now
    assert stage.posts()[crashed] == 1 and len(stage.slack.dm_messages(crashed)) == 1  # Slack has it
    stage.sandbox.state.latency = 0.0
    restarted = stage.start("remind", "--now", REMINDER_CLAIM_STALE_SECONDS="600")
    assert await restarted.finish() == 0, restarted.output
    after = stage.posts()
    duplicates = sum(n - 1 for n in after.values())
    print(f"duplicate digests after the crash: {duplicates} (learners: {len(expected)})")
    assert set(after) == expected and duplicates == 0, after
    assert all(len(stage.slack.dm_messages(user)) == 1 for user in expected)  # what each learner sees
    [recovered] = [line for line in restarted.output if line.startswith("already in Slack:")]
    assert recovered.startswith("already in Slack: digest") and crashed in recovered
    [lookup] = stage.slack.calls_for("conversations.history")
    assert lookup.args["channel"] == stage.slack.workspace.dms[crashed] and lookup.args["include_all_metadata"]
    row = await _sent_row(stage.database_url, crashed)
    [message] = stage.slack.dm_messages(crashed)
    assert (row.status, row.channel_id, row.message_ts) == ("sent", message["channel"], message["ts"])


async def _sent_row(database_url: str, user: str) -> SentReminderRow:
    db = Database(database_url)
    try:
        async with db.transaction(write=False) as session:
            return (
                await session.scalars(
                    select(SentReminderRow).where(
                        SentReminderRow.slack_user_id == user, SentReminderRow.item_key == DIGEST_KEY
                    )
                )
            ).one()
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_two_workers_on_one_postgres_database_send_each_reminder_once(
    make_stage: MakeStage, postgres_url: str
) -> None:
    stage = await make_stage(postgres_url, latency=0.02)
    expected = await stage.expected()
    workers = [stage.start("remind", "--now") for _ in range(2)]
    assert [await w.finish() for w in workers] == [0, 0], [w.output for w in workers]
    posts = stage.posts()
    assert set(posts) == expected and all(n == 1 for n in posts.values()), posts
    sent_lines = [line for w in workers for line in w.output if line.startswith("sent: digest")]
    assert len(sent_lines) == len(expected)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_standby_scheduler_takes_over_when_the_active_one_dies(
    make_stage: MakeStage, kind: str, request: pytest.FixtureRequest
) -> None:
    url = None if kind == "sqlite" else str(request.getfixturevalue("postgres_url"))
    stage = await make_stage(url)
    timing = {"REMINDER_LEASE_SECONDS": "1.5", "REMINDER_SWEEP_MINUTES": "60", "REMINDER_SHUTDOWN_GRACE_SECONDS": "2"}
    first = stage.start("scheduler", **timing)
    await first.wait_line(r"^scheduler: active")
    await first.wait_line(r"^sweep: ")  # the first sweep runs at once
    second = stage.start("scheduler", **timing)
    await second.wait_line(r"^scheduler: standby")
    await asyncio.sleep(1.0)
    assert second.popen.poll() is None and not any(line.startswith("scheduler: active") for line in second.output)
    first.kill(signal.SIGKILL)
    took_over = time.monotonic()
    await second.wait_line(r"^scheduler: active", timeout=15)
    assert time.monotonic() - took_over < 5  # within a lease period or so
    await second.wait_line(r"^sweep: ")
    db = Database(stage.database_url)
    try:
        async with db.engine.connect() as conn:
            jobs = (await conn.execute(text("SELECT id FROM apscheduler_jobs ORDER BY id"))).scalars().all()
        assert jobs == ["reminders-prune", "reminders-sweep"]  # explicit ids, replaced, never duplicated
        second.kill(signal.SIGTERM)
        assert await second.finish() == 0
        assert any(line == "scheduler: stopped" for line in second.output)
        assert await LeaseRepository(db).current(LEASE_NAME) is None  # released: a standby would start at once
    finally:
        await db.dispose()


def test_remind_and_scheduler_are_lmsbot_commands() -> None:
    from bot.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["remind", "--now", "--dry-run", "--user", "U1"]).dry_run is True
    assert parser.parse_args(["scheduler"]).command == "scheduler"


async def test_remind_now_dry_run_for_one_user_prints_and_sends_nothing(make_stage: MakeStage) -> None:
    stage = await make_stage()
    dry = stage.start("remind", "--now", "--dry-run", "--user", "U0ADA")
    assert await dry.finish() == 0, dry.output
    [line] = [line for line in dry.output if line.startswith("would send:")]
    assert "→ U0ADA (Ada)" in line
    assert dry.output[-1].startswith("dry run: would send 1")
    assert stage.posts() == Counter()
    db = Database(stage.database_url)
    try:
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM sent_reminders"))).scalar_one() == 0
    finally:
        await db.dispose()


@pytest.fixture
def db_proxy() -> Iterator[TcpProxy]:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    with TcpProxy(5432) as proxy:
        yield proxy


# The outage: 30 s, past the ~24 s after which the old scheduler gave up, and ten times the lease (3 s
# here). LMSBOT_TEST_OUTAGE_SECONDS shortens it for a quick local run.
OUTAGE_SECONDS = float(os.environ.get("LMSBOT_TEST_OUTAGE_SECONDS", "30"))


@pytest.mark.postgres
async def test_scheduler_and_commands_ride_out_a_database_outage(
    make_stage: MakeStage, postgres_url: str, db_proxy: TcpProxy
) -> None:
    """PostgreSQL cut off for OUTAGE_SECONDS behind a TCP proxy: the scheduler stays up, says why, sends nothing
    while it cannot renew its lease and resumes after; a command answers in plain words; /healthz says degraded."""
    stage = await make_stage(postgres_url)
    assert await stage.expected() == set(PEOPLE)
    first, later = sorted(PEOPLE)[:4], sorted(PEOPLE)[4:]
    db = Database(postgres_url)  # the test's own way in, not through the proxy
    prefs = PreferenceRepository(db)
    try:
        for user in PEOPLE:  # due whenever a sweep runs; half of them switched off for now
            await prefs.update(TEAM, user, send_time="00:00", weekdays="mon,tue,wed,thu,fri,sat,sun")
            await prefs.update(TEAM, user, enabled=user in first)
        via_proxy = db_proxy.url_for(postgres_url)
        timing = {"REMINDER_LEASE_SECONDS": "3", "REMINDER_SWEEP_MINUTES": "0.1", "DATABASE_URL": via_proxy}
        worker = stage.start("scheduler", **timing)
        port = free_port()
        web = stage.start("serve", "--host", "127.0.0.1", "--port", str(port), **timing, SLACK_SIGNING_SECRET="s3")
        base = f"http://127.0.0.1:{port}"
        await worker.wait_line(r"^scheduler: active")
        await wait_until(lambda: set(stage.posts()) == set(first), "the first digests")
        await wait_until(lambda: _healthz(base) == (200, "ok"), "the web process")

        db_proxy.cut()
        cut_at = time.monotonic()
        line = await worker.wait_line(r"^scheduler: the database is unavailable", timeout=15)
        assert re.search(r"connection|refused|closed", line, re.IGNORECASE), line  # the real cause
        sent_before = stage.posts()
        for user in later:  # due now, but the worker must not send while it cannot renew its lease
            await prefs.update(TEAM, user, enabled=True)

        driver = SlackDriver(base + "/slack/events", "s3", stage.slack)
        asked = len(stage.slack.ephemerals("U0ADA"))
        assert (await driver.command("U0ADA", "progress")).status_code == 200
        reply = await wait_until(lambda: stage.slack.ephemerals("U0ADA")[asked:], "the answer", timeout=20)
        assert "The bot's database is unavailable — try again in a minute." in text_of(reply[-1])
        assert _healthz(base) == (200, "degraded")

        while time.monotonic() - cut_at < OUTAGE_SECONDS:
            assert worker.popen.poll() is None, worker.output  # alive all along
            assert stage.posts() == sent_before  # and silent
            await asyncio.sleep(0.2)
        db_proxy.restore()

        await worker.wait_line(r"^scheduler: the database is back", timeout=20)
        await worker.wait_line(r"^scheduler: active", timeout=20)
        await wait_until(lambda: set(stage.posts()) == set(PEOPLE), "the digests held back", timeout=30)
        assert all(n == 1 for n in stage.posts().values()), stage.posts()
        await wait_until(lambda: _healthz(base) == (200, "ok"), "healthz to recover")
        assert not any("took over" in line or "lost the lease" in line for line in worker.output), worker.output
        assert worker.popen.poll() is None and web.popen.poll() is None
    finally:
        await db.dispose()


def _healthz(base: str) -> tuple[int, str] | None:
    try:
        response = httpx.get(base + "/healthz", timeout=10)
    except httpx.TransportError:
        return None
    return response.status_code, str(response.json().get("status"))


async def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --- the worker's ops port (`--metrics-port`) and JSON logs -----------------------------------------------------


async def test_worker_serves_metrics_health_and_readiness_and_logs_json(make_stage: MakeStage) -> None:
    stage = await make_stage()
    port = free_port()
    timing = {"REMINDER_SWEEP_MINUTES": "60", "REMINDER_SHUTDOWN_GRACE_SECONDS": "2", "LOG_FORMAT": "json"}
    # The scheduler's first sweep runs at once; whatever it sends (by each learner's real local time) is what the
    # counters must show.
    worker = stage.start("-v", "scheduler", "--metrics-port", str(port), **timing)
    await worker.wait_line(rf"^scheduler: metrics, /healthz and /readyz on http://0\.0\.0\.0:{port}$")
    await worker.wait_line(r"^scheduler: active")
    sweep = await worker.wait_line(r"^sweep: ")
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as client:
        scraped, health, ready = await client.get("/metrics"), await client.get("/healthz"), await client.get("/readyz")
    assert health.status_code == 200 and health.json() == {"ok": True, "status": "ok", "role": "active"}
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = Scrape.parse(scraped.text)
    posts = sum(stage.posts().values())
    assert f"sent {posts}," in sweep  # the sweep's own summary line
    assert metrics.value("lmsbot_sweep_duration_seconds_count") == 1
    assert metrics.total("lmsbot_digests_sent_total") == posts
    assert metrics.value("lmsbot_slack_api_calls_total", method="chat.postMessage", outcome="ok") == posts
    progress = stage.sandbox.state.calls_for("module-progress")
    labels = {"provider": "zoho", "endpoint": "module-progress"}
    assert metrics.total("lmsbot_lms_requests_total", **labels) == len(progress)
    for outcome, status in (("ok", 200), ("client_error", 404)):  # 404: modules a learner is not enrolled in
        sent = sum(1 for c in progress if c.status == status)
        assert metrics.value("lmsbot_lms_requests_total", outcome=outcome, **labels) == sent

    worker.kill(signal.SIGTERM)
    assert await worker.finish() == 0
    logs = [json.loads(line) for line in worker.output if line.startswith("{")]
    assert logs and all({"time", "level", "logger", "message", "context"} <= set(line) for line in logs)
    swept = [line for line in logs if line["logger"] == "bot.lms.transport"]
    assert swept and all(line["context"]["job_id"].startswith("reminders-sweep:") for line in swept)
    assert {line["context"]["workspace"] for line in swept} == {"T0DEMO"}
    assert any(line["context"].get("slack_user", "").startswith("U0") for line in swept)
    assert any(line["logger"].startswith("uvicorn") for line in logs)  # the ops server's own lines, as JSON
