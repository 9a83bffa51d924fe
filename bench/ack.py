"""Ack and reply latency of `/lms progress` at 50 concurrent commands while the LMS takes 2 s a call: lmsbot next to
a bare Bolt app, each in its own process, each alone.

How it measures
- Four processes. This one is the driver (Slack's side) and nothing else. A spawned child runs the stand-ins: the
  LMS sandbox (every LMS call answered after `LMS_LATENCY` s) and the Slack stand-in (response URLs, Web API,
  call log), and seeds the demo database. lmsbot runs as `python -m bot serve`, exactly as the Procfile's web
  line runs it (uvicorn, its own settings, its access log to a file). The bare Bolt app (an AsyncApp whose one
  listener only acks, under `uvicorn.run` with the same log level) runs as `python bench/ack.py --bare`.
- Each app is alone in its own phase: the bare app is started, measured and stopped before lmsbot is started;
  nothing else sends it work. Both phases are in the same run, so their ratio compares like with like under the
  same machine load (`uptime` is printed with every phase: the machine may be shared).
- A phase is one warm-up round (first `auth.test`, imports, pools on both sides; not counted) and `BENCH_ROUNDS`
  measured rounds. A round sends `BENCH_REQUESTS` signed slash commands at once and, for lmsbot, waits until
  every reply has reached its response URL before the next round. The driver sends over one aiohttp session
  with keep-alive connections (a pool as large as a round); just before each round it touches every connection
  (a GET that 404s) so uvicorn's 5 s keep-alive timeout has not closed them. Commands are minted (response URL,
  trigger id) in the stand-ins before the round and signed here as they are sent.
- lmsbot runs with LMS_CACHE_SECONDS=0 (every command reads the LMS: the worst case) and a rate limit and daily
  budget no burst reaches (this measures request handling, not the 30-a-minute budget). It is measured once per
  rate-limit backend of BENCH_BACKENDS (default "database"; also "memory", "redis" on BENCH_REDIS_URL, default
  redis://127.0.0.1:6379/0), on each database.
- Ack latency: request sent -> HTTP 200 back, at the driver. Reply latency: the ack's arrival -> the reply's
  arrival at its response URL (stamped by the stand-in, same wall clock), minus one LMS latency: a reply's Zoho
  module calls and its iSpring call run side by side, so one LMS wait is on its critical path; the rest is
  lmsbot's own time (database, rate limiter, HTTP pools, rendering). Target: p50 <= 150 ms.
- CPU/cmd: the app process's user + system CPU over the measured rounds (/proc), per command; "driver": this
  process's. The driver uses aiohttp because httpx cost about 10 ms of CPU a request here, which held every ack
  (and so the start of every reply's clock) back in the driver's own queue.
- "How a round unfolds": in ms after the round's first ack, the last ack, the first and last LMS call to reach
  the sandbox, the first reply (minus the LMS's 2 s), and the time per reply after that (first to last reply
  over their number). A reply waits for its command's last LMS call to go out, then for its own post-LMS work
  and everyone's queued before it on the one event loop.
- Slack calls, their connections and LMS calls are counted at the stand-ins over the measured rounds.
- The stand-ins' own lateness: the sandbox notes when each LMS request came in and when its answer's last byte
  left; past the 2 s, that is the stand-ins' queue (one process, both stand-ins, the same two cores as everything
  else), which the reply latency above counts as lmsbot's. With their CPU per command, it says how much of a
  reply's time is the test rig's.
- On a shared machine every latency is stretched by the other processes (load average 5 on 2 cores doubled
  them here); CPU/cmd moves far less. Compare runs by their `uptime`.
- lmsbot is measured on each database of BENCH_DATABASES (default "sqlite,postgresql"): a fresh SQLite file (the
  default DATABASE_URL), and a throw-away PostgreSQL database (what production uses) created next to
  BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) and dropped after.

Run: `.venv/bin/python bench/ack.py` (also BENCH_REQUESTS, BENCH_ROUNDS; BENCH_LOGS=DIR keeps the apps' output;
BENCH_PROFILE=FILE records lmsbot's measured rounds with py-spy into FILE.<database>, when py-spy is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from slack_sdk.signature import SignatureVerifier

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "50"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
LMS_LATENCY = 2.0
REPLY_TARGET_MS = 150.0
REPLY_TIMEOUT = 60.0
KEEPALIVE_PATH = "/bench/keep-alive"
USERS = ["U0ADA", "U0GRACE", "U0ALAN", "U0KATHERINE", "U0EDSGER", "U0MARGARET", "U0BARBARA", "U0CLAUDE"]
SIGNING_SECRET = "bench-ack-signing-secret"  # local only: the driver's and the apps' shared secret
SPAWN = multiprocessing.get_context("spawn")
ROOT = Path(__file__).resolve().parent.parent


# -- the stand-ins' process ---------------------------------------------------------------------------------------
def _env_of(settings: Any) -> dict[str, str]:
    """The environment an operator would export for these settings (only the ones set explicitly)."""
    env: dict[str, str] = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[name.upper()] = str(getattr(value, "value", value))
    return env


class AnswerTimes:
    """The sandbox's ASGI app, noting each answer's (request in, last byte out) on the wall clock: how long the
    LMS really took, its 2 s and its own queue (the stand-ins share two cores with everything else)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: list[tuple[float, float]] = []

    def __getattr__(self, name: str) -> Any:  # the sandbox server reaches its app's state through it
        return getattr(self.app, name)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.time()

        async def sending(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append((start, time.time()))

        await self.app(scope, receive, sending)


def _standins(conn: Connection, database_url: str | None) -> None:
    """The LMS sandbox and the Slack stand-in in this (spawned) process, answering the driver over `conn`."""
    import resource

    from bot.devkit.devstack import DevStack, seed_demo
    from bot.devkit.sandbox.config import SandboxConfig
    from bot.devkit.slackstub import RESPONSE_URL_METHOD, SlackDriver
    from storage import migrate

    class Minting(SlackDriver):
        """Builds a slash command's form body as the driver would send it, and keeps it instead of sending."""

        body = b""

        async def signed_post(self, body: bytes, content_type: str, *args: Any, **kwargs: Any) -> httpx.Response:
            self.body = body
            return httpx.Response(200)

    # A generous LMS budget on both sides: this measures request handling, not the 30-a-minute limit.
    stack = DevStack(
        database_url=database_url,
        sandbox_config=SandboxConfig(latency=LMS_LATENCY, rate_limit=100_000),
        settings_overrides={
            "lms_rate_limit": 100_000,
            "zoho_daily_call_budget": 10_000_000,  # the phases of one database share its daily count
            "lms_cache_seconds": 0,
            "slack_signing_secret": SIGNING_SECRET,
        },
    )
    timing = AnswerTimes(stack.sandbox.app)
    stack.sandbox.app = timing
    stack.sandbox.start()
    stack.slack_server.start()
    try:
        settings = stack.build_settings()
        migrate.upgrade(settings.database_url)
        asyncio.run(seed_demo(settings, stack.sandbox, stack.slack))
        stub = stack.slack
        conn.send(_env_of(settings))

        async def minted(n: int) -> list[tuple[bytes, str]]:
            out = []
            for i in range(n):
                driver = Minting("", SIGNING_SECRET, stub)
                await driver.command(USERS[i % len(USERS)], "progress")
                assert driver.last_response_url is not None
                out.append((driver.body, driver.last_response_url.split("/response/", 1)[1]))
            return out

        def mint(n: int) -> list[tuple[bytes, str]]:
            return asyncio.run(minted(n))

        def replies() -> dict[str, float]:
            first: dict[str, float] = {}
            for call in stub.calls_for(RESPONSE_URL_METHOD):
                if call.target is not None:
                    first.setdefault(call.target, call.at)
            return first

        def counts() -> dict[str, Any]:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return {
                "slack": Counter(c.method for c in stub.calls),
                "slack_connections": stub.connections,
                "lms": Counter(c.endpoint for c in stack.sandbox.state.calls),
                "lms_at": sorted(c.at for c in stack.sandbox.state.calls),
                "lms_answered": list(timing.times),
                "cpu": usage.ru_utime + usage.ru_stime - cpu_base[0],
            }

        cpu_base = [0.0]

        def clear() -> None:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu_base[0] = usage.ru_utime + usage.ru_stime
            stub.clear()
            stack.sandbox.state.clear_calls()
            timing.times.clear()

        answers: dict[str, Callable[..., Any]] = {"mint": mint, "replies": replies, "counts": counts, "clear": clear}
        while True:
            what, arg = conn.recv()
            if what == "stop":
                return
            conn.send(answers[what](*arg))
    finally:
        stack.stop()
        conn.close()


class Standins:
    """The driver's handle on the stand-ins' process."""

    def __init__(self, database_url: str | None) -> None:
        self._conn, theirs = SPAWN.Pipe()
        self._process = SPAWN.Process(target=_standins, args=(theirs, database_url), name="ack-standins", daemon=True)
        self._process.start()
        theirs.close()
        if not self._conn.poll(120):
            raise RuntimeError("the stand-ins did not start")
        self.env: dict[str, str] = self._conn.recv()

    def ask(self, what: str, *arg: Any) -> Any:
        self._conn.send((what, arg))
        return self._conn.recv()

    def stop(self) -> None:
        with suppress(OSError):
            self._conn.send(("stop", ()))
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.kill()


# -- the bare Bolt app (its own process) --------------------------------------------------------------------------
def run_bare(port: int) -> None:
    import uvicorn
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    app = AsyncApp(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
    )

    @app.command("/lms")
    async def only_ack(ack: Any) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    web = Starlette(routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", healthz)])
    uvicorn.run(web, host="127.0.0.1", port=port, log_level="info")  # as `lmsbot serve` runs uvicorn


# -- the driver ---------------------------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class App:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"


@contextmanager
def started(name: str, argv: list[str], env: dict[str, str], port: int, logdir: Path) -> Iterator[App]:
    log = logdir / f"{name.replace(' ', '-')}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    app = App(name, proc, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(app.url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start serving: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield app
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass(frozen=True)
class Ack:
    ms: float  # request sent -> ack received
    at: float  # when the ack arrived (wall clock, as the stand-in stamps the reply)
    url_id: str  # this command's response URL


async def burst(session: aiohttp.ClientSession, app: App, commands: list[tuple[bytes, str]]) -> list[Ack]:
    # Every kept-alive connection touched just before the round (a path neither app serves: a 404 costs the app
    # next to nothing), so none has hit uvicorn's 5 s keep-alive timeout when the round starts.
    async def touch() -> None:
        async with session.get(app.url + KEEPALIVE_PATH) as response:
            await response.read()

    await asyncio.gather(*(touch() for _ in commands))
    # Signed as Slack signs, all at once just before they go (the same second, well inside Bolt's 5 minutes).
    ts = str(int(time.time()))
    verifier = SignatureVerifier(SIGNING_SECRET)
    signed = [(body, url_id, verifier.generate_signature(timestamp=ts, body=body) or "") for body, url_id in commands]

    async def one(body: bytes, url_id: str, signature: str) -> Ack:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
        }
        start = time.perf_counter()
        async with session.post(app.events_url, data=body, headers=headers) as response:
            text = await response.read()
        acked = time.time()
        assert response.status == 200, text
        return Ack((time.perf_counter() - start) * 1000, acked, url_id)

    return list(await asyncio.gather(*(one(*command) for command in signed)))


@dataclass
class Measured:
    name: str
    acks: list[Ack]
    replies: dict[str, float]  # response URL id -> the first reply's arrival
    cpu: float  # the app process's CPU seconds over the measured rounds
    driver_cpu: float  # this process's (the driver's) over the same rounds
    seconds: float
    counts: dict[str, Any]
    load: str


async def measure(standins: Standins, app: App, *, replies: bool, profile: str | None = None) -> Measured:
    # aiohttp: Slack's side must cost as little CPU as it can (httpx took about 10 ms a request here, which
    # held every ack back behind the driver's own queue); a pool as large as a round, kept alive.
    connector = aiohttp.TCPConnector(limit=REQUESTS, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:

        async def round_() -> list[Ack]:
            acks = await burst(client, app, standins.ask("mint", REQUESTS))
            if replies:
                wanted = {a.url_id for a in acks}
                deadline = time.monotonic() + REPLY_TIMEOUT
                while not wanted <= standins.ask("replies").keys() and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            return acks

        await round_()  # warm-up, not counted
        await asyncio.sleep(0.5 if replies else 0.1)  # stragglers of the warm-up (cache writes) finish first
        standins.ask("clear")
        spy = _py_spy(app, profile) if profile else None
        cpu0, mine0, started_at = cpu_seconds(app.proc.pid), time.process_time(), time.perf_counter()
        acks: list[Ack] = []
        for _ in range(ROUNDS):
            acks += await round_()
        cpu, seconds = cpu_seconds(app.proc.pid) - cpu0, time.perf_counter() - started_at
        mine = time.process_time() - mine0
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=60)
        got = standins.ask("replies") if replies else {}
        return Measured(app.name, acks, got, cpu, mine, seconds, standins.ask("counts"), uptime())


def _py_spy(app: App, out: str) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        print("BENCH_PROFILE: py-spy is not installed; not profiling", file=sys.stderr)
        return None
    argv = [exe, "record", "--pid", str(app.proc.pid), "--output", out, "--format", "raw", "--rate", "250"]
    argv.append("--nonblocking")  # samples without stopping the process (its timing stays its own)
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the first round
    return spy


def quantiles(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return (samples[0], samples[0]) if samples else (float("nan"), float("nan"))
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49], q[98]


def reply_overhead_ms(m: Measured) -> list[float]:
    return [(m.replies[a.url_id] - a.at - LMS_LATENCY) * 1000 for a in m.acks if a.url_id in m.replies]


def spread(m: Measured) -> tuple[float, float, float, float]:
    """Medians over the rounds, in ms from the round's first ack: the last ack, the first and the last LMS call
    to reach the sandbox, and the first reply; and the time per reply (first to last reply over their number)."""
    starts = [min(a.at for a in m.acks[i : i + REQUESTS]) for i in range(0, len(m.acks), REQUESTS)]
    acks, lms_first, lms_last, first_reply, each = [], [], [], [], []
    for k, start in enumerate(starts):
        r = m.acks[k * REQUESTS : (k + 1) * REQUESTS]
        end = starts[k + 1] if k + 1 < len(starts) else float("inf")
        calls = [at for at in m.counts["lms_at"] if start <= at < end]
        at = sorted(m.replies[a.url_id] for a in r if a.url_id in m.replies)
        acks.append((max(a.at for a in r) - start) * 1000)
        if calls:
            lms_first.append((calls[0] - start) * 1000)
            lms_last.append((calls[-1] - start) * 1000)
        if len(at) > 1:
            first_reply.append((at[0] - start - LMS_LATENCY) * 1000)
            each.append((at[-1] - at[0]) * 1000 / (len(at) - 1))
    med = statistics.median
    return med(acks), med(lms_first or [0.0]), med(lms_last or [0.0]), med(first_reply or [0.0]), med(each or [0.0])


def report(bare: Measured, ours: list[Measured], load_at_start: str) -> None:
    print()
    print(f"bench/ack.py: {REQUESTS} concurrent signed `/lms progress` x {ROUNDS} measured rounds per app, the LMS")
    print(f"answering every call after {LMS_LATENCY:.0f} s; each app in its own process, alone in its phase")
    print(f"({os.cpu_count()} CPUs). `uptime` after each phase:")
    print(f"  {'start':30}{load_at_start}")
    for m in (bare, *ours):
        print(f"  {m.name:30}{m.load}")
    print()
    columns = ("ack p50", "ack p99", "ack max", "p50 ratio", "p99 ratio", "CPU/cmd", "driver")
    print(f"  {'':30}" + "".join(f"{c:>10}" for c in columns))
    b50, b99 = quantiles([a.ms for a in bare.acks])
    for m in (bare, *ours):
        ms = [a.ms for a in m.acks]
        p50, p99 = quantiles(ms)
        print(
            f"  {m.name:30}{p50:8.1f}ms{p99:8.1f}ms{max(ms):8.1f}ms{p50 / b50:9.2f}x{p99 / b99:9.2f}x"
            f"{m.cpu / len(m.acks) * 1000:8.1f}ms{m.driver_cpu / len(m.acks) * 1000:8.1f}ms"
        )
    print("  (ratio: to the bare Bolt app; Slack's limit for an ack: 3000 ms)")
    print()
    print(
        f"  reply latency: ack -> reply at the response URL, minus {LMS_LATENCY:.0f} s of LMS (target p50 <= "
        f"{REPLY_TARGET_MS:.0f} ms)"
    )
    print(f"  {'':30}{'p50':>10}{'p99':>10}{'max':>10}{'replies':>10}  target")
    for m in ours:
        overhead = reply_overhead_ms(m)
        r50, r99 = quantiles(overhead)
        verdict = "met" if r50 <= REPLY_TARGET_MS else "missed"
        top = max(overhead, default=float("nan"))
        print(f"  {m.name:30}{r50:8.1f}ms{r99:8.1f}ms{top:8.1f}ms{len(overhead):>6}/{len(m.acks):<3}  {verdict}")
    print()
    print("  how a round unfolds, ms after its first ack (medians over rounds; replies minus the LMS's 2 s):")
    print(f"  {'':30}{'last ack':>10}{'1st LMS':>10}{'last LMS':>10}{'1st reply':>10}{'per reply':>10}")
    for m in ours:
        last_ack, first_lms, last_lms, first_reply, each = spread(m)
        print(f"  {m.name:30}{last_ack:10.0f}{first_lms:10.0f}{last_lms:10.0f}{first_reply:10.0f}{each:10.1f}")
    print()
    print("  the stand-ins (one process: LMS sandbox and Slack stand-in): the LMS's answers, request in -> last")
    print(f"  byte out, minus its {LMS_LATENCY:.0f} s (its own queue, counted above as lmsbot's); CPU per command:")
    print(f"  {'':30}{'p50':>10}{'p99':>10}{'max':>10}{'CPU/cmd':>10}")
    for m in ours:
        answered = m.counts["lms_answered"]
        late = [(end - start - LMS_LATENCY) * 1000 for start, end in answered if end - start >= LMS_LATENCY]
        l50, l99 = quantiles(late)
        top = max(late, default=float("nan"))
        print(f"  {m.name:30}{l50:8.1f}ms{l99:8.1f}ms{top:8.1f}ms{m.counts['cpu'] / len(m.acks) * 1000:8.1f}ms")
    print()
    for m in ours:
        slack, lms = m.counts["slack"], m.counts["lms"]
        print(
            f"  {m.name}: Slack calls {sum(slack.values())} on {m.counts['slack_connections']} connections "
            f"({', '.join(f'{k} {v}' for k, v in sorted(slack.items()))}); LMS calls {sum(lms.values())} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(lms.items()))})"
        )


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """None: a fresh SQLite file (the stand-ins make it); "postgresql": a throw-away database, dropped after."""
    if kind == "sqlite":
        yield None
        return
    import psycopg
    from psycopg import sql

    admin = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"lmsbot_ack_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bare", type=int, metavar="PORT", help="(internal) serve the bare Bolt app on PORT")
    args = parser.parse_args()
    if args.bare is not None:
        run_bare(args.bare)
        return
    kinds = [k.strip() for k in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",") if k.strip()]
    backends = [b.strip() for b in os.environ.get("BENCH_BACKENDS", "database").split(",") if b.strip()]
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    load_at_start = uptime()
    bare: Measured | None = None
    ours: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="lmsbot-ack-") as tmp:
        logdir = Path(os.environ.get("BENCH_LOGS") or tmp)  # the apps' own output (uvicorn, lmsbot's log)
        logdir.mkdir(parents=True, exist_ok=True)
        for kind in kinds:
            with database(kind) as url:
                standins = Standins(url)
                try:
                    env = standins.env
                    if bare is None:
                        bare_env = {k: env[k] for k in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_API_URL")}
                        port = free_port()
                        argv = [sys.executable, __file__, "--bare", str(port)]
                        with started("bare Bolt", argv, bare_env, port, logdir) as app:
                            bare = asyncio.run(measure(standins, app, replies=False))
                    for backend in backends:
                        name = f"lmsbot ({kind}, {backend})"
                        port = free_port()
                        argv = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)]
                        ours_env = {**env, "RATE_LIMIT_BACKEND": backend, "REDIS_URL": redis_url}
                        with started(name, argv, ours_env, port, logdir) as app:
                            profile = os.environ.get("BENCH_PROFILE")
                            profile = f"{profile}.{kind}.{backend}" if profile else None
                            ours.append(asyncio.run(measure(standins, app, replies=True, profile=profile)))
                finally:
                    standins.stop()
    assert bare is not None
    report(bare, ours, load_at_start)


if __name__ == "__main__":
    main()
