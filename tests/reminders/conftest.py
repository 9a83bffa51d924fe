"""A reminder world: the LMS sandbox and the Slack stand-in over real HTTP, a migrated database, the demo
people linked to their sandbox learners, tracked modules, and one virtual clock shared by the sandbox, the rate
limiter, the cache and the engine (so a day passes in a line and rate-limit waits cost no real time)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.container import Services, build_services
from bot.devkit.clock import VirtualClock
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.sandbox.state import SandboxState
from bot.devkit.slackstub import SlackDriver, SlackStub, SlackStubServer, ThreadedServer
from bot.devkit.slackstub.state import POST_PER_CHANNEL, SLACK_TIERS
from bot.lms.transport import RetryPolicy
from bot.reminders.engine import ReminderEngine
from bot.reminders.report import SweepReport
from bot.reminders.settings import ReminderConfig
from bot.reminders_root import build_engine
from bot.services.slack_transport import TIER_PER_MINUTE, Pacer
from bot.services.types import Provider, TrackedModuleRef
from bot.web import build_web
from storage.crypto import Keyring
from storage.db import Database
from storage.repositories.cache import LmsCacheRepository
from storage.repositories.reminders import SentReminderRepository
from tests.storage.conftest import (  # noqa: F401 - fixtures shared with the storage tests
    POSTGRES_ADMIN_URL,
    db,
    db_url,
    empty_tables,
    fresh_url,
    keyring,
    postgres_databases,
    postgres_url,
    sqlite_url,
)

TEAM = "T0DEMO"
# Monday 30 March 2026, 06:00 UTC: the day after Europe's switch to summer time.
MONDAY = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
TRACKS = (
    ("security-1", seed.SELF_PACED_COURSE, None, seed.SP_MODULE_1),
    ("security-2", seed.SELF_PACED_COURSE, None, seed.SP_MODULE_2),
    ("kickoff", seed.BLENDED_COURSE, seed.BATCH_SPRING, seed.BL_KICKOFF),
    ("feedback", seed.BLENDED_COURSE, seed.BATCH_SPRING, seed.BL_FEEDBACK),
    ("coaching", seed.BLENDED_COURSE, seed.BATCH_SPRING, seed.BL_COACHING),
)
# Demo Slack people and their sandbox learners (same order as bot.devkit.sandbox.seed.NAMED).
PEOPLE = {
    "U0ADA": seed.NAMED[0][0],
    "U0GRACE": seed.NAMED[1][0],
    "U0ALAN": seed.NAMED[2][0],
    "U0KATHERINE": seed.NAMED[3][0],
    "U0EDSGER": seed.NAMED[4][0],
    "U0MARGARET": seed.NAMED[5][0],
    "U0BARBARA": seed.NAMED[6][0],
    "U0CLAUDE": seed.NAMED[7][0],
}


@pytest.fixture(scope="session")
def _slack_server() -> Iterator[SlackStubServer]:
    # Slack's per-method tiers enforced, as Slack does: a sweep that exceeds one meets `ratelimited`.
    with SlackStubServer(SlackStub(tiers=SLACK_TIERS, post_per_channel=POST_PER_CHANNEL)) as server:
        yield server


@pytest.fixture
def slack(_slack_server: SlackStubServer) -> SlackStub:
    _slack_server.reset()
    return _slack_server.stub


def world_settings(sandbox: SandboxServer, slack_url: str, database_url: str, **extra: Any) -> Settings:
    cfg = sandbox.config
    values: dict[str, Any] = {
        "database_url": database_url,
        "lmsbot_env": "development",
        "lmsbot_encryption_keys": Keyring.generate_key(),
        "slack_bot_token": "xoxb-0000-demo-lmsbot",
        "slack_api_url": slack_url,
        "zoho_people_url": sandbox.url,
        "zoho_accounts_url": sandbox.url,
        "zoho_client_id": cfg.zoho_client_id,
        "zoho_client_secret": cfg.zoho_client_secret,
        "zoho_refresh_token": cfg.zoho_refresh_token,
        "ispring_api_url": sandbox.url + "/ispring",
        "ispring_client_id": cfg.ispring_client_id,
        "ispring_client_secret": cfg.ispring_client_secret,
        "lms_timeout_seconds": 5.0,
        "lmsbot_managers": "U0MARGARET",
        # The engine tests pin the per-module path's economy; tests/reminders/test_bulk_reads.py runs bulk reads.
        "zoho_bulk_reads": "off",
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def quiet_config(**overrides: Any) -> ReminderConfig:
    """Engine settings for tests: no environment, no manager digest unless asked for."""
    values: dict[str, Any] = {"manager_digest": False, "concurrency": 2}
    values.update(overrides)
    return ReminderConfig(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class World:
    clock: VirtualClock
    sandbox: SandboxServer
    slack: SlackStub
    services: Services
    config: ReminderConfig
    tracked: dict[str, TrackedModuleRef] = field(default_factory=dict)
    _engine: ReminderEngine | None = None

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def set_time(self, moment: datetime) -> None:
        assert moment.timestamp() >= self.clock.now(), "the virtual clock only moves forward"
        self.clock.advance(moment.timestamp() - self.clock.now())

    @property
    def engine(self) -> ReminderEngine:
        if self._engine is None:
            self._engine = build_engine(self.services, self.config, clock=self.now)
        return self._engine

    def reconfigure(self, **overrides: Any) -> None:
        self.config = quiet_config(**overrides)
        self._engine = None

    async def sweep(self, **kwargs: Any) -> SweepReport:
        """One sweep; the virtual clock jumps whenever everything waits (rate limits, LMS locks, retries)."""
        [report] = await self.clock.drive([self.engine.sweep(**kwargs)])
        assert isinstance(report, SweepReport)
        return report

    def dms(self, user: str) -> list[dict[str, Any]]:
        return self.slack.dm_messages(user)

    def posts_to(self, user: str) -> int:
        channel = self.slack.workspace.dm_channel(user)
        return sum(1 for c in self.slack.calls_for("chat.postMessage") if c.ok and c.response.get("channel") == channel)

    async def prefs(self, user: str, **changes: Any) -> None:
        await self.services.preferences.update(TEAM, user, **changes)


MakeWorld = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world(sandbox: SandboxServer, _slack_server: SlackStubServer, tmp_path: Any) -> AsyncIterator[MakeWorld]:
    """`await make_world(start=MONDAY, people=[...], database_url=..., **config)`: a fresh world
    (`learners`: that many generated sandbox learners besides the named ones)."""
    made: list[World] = []

    async def make(
        start: datetime = MONDAY,
        *,
        people: dict[str, int] | None = None,
        tracks: tuple[tuple[str, int, int | None, int], ...] = TRACKS,
        database_url: str | None = None,
        ispring: bool = False,
        sandbox_server: SandboxServer | None = None,
        settings: dict[str, Any] | None = None,
        learners: int = 0,
        **config: Any,
    ) -> World:
        from storage import migrate

        clock = VirtualClock(start.timestamp())
        server = sandbox_server or sandbox
        server.reset(seed.build_state("demo", learners, clock=clock))
        _slack_server.reset()
        url = database_url or f"sqlite:///{tmp_path / f'world{len(made)}.db'}"
        if database_url is None:
            migrate.upgrade(url)
        else:
            await empty_tables(Database(url))
        services = build_services(
            world_settings(server, _slack_server.url, url, **(settings or {})),
            clock=clock,
            retry=RetryPolicy(max_retries=1, initial_wait=0.01, max_wait=0.05),
        )
        world = World(clock, server, _slack_server.stub, services, quiet_config(**config))
        # Slack's tiers on the world's clock, on both sides: the stand-in counts calls a virtual minute, and the
        # gateway's pacer waits virtual time (a week of sweeps runs in seconds, which is no burst).
        _slack_server.stub.rate_clock = clock.now
        services.slack.pacer = Pacer(TIER_PER_MINUTE, clock=clock.now, sleep=clock.sleep)
        # build_services gives the clock to the cache's reader but not to the repositories that stamp rows:
        # give them the virtual clock too, so "fetched an hour ago" and "claimed 10 min ago" mean virtual time.
        services.cache.store = LmsCacheRepository(services.db, clock=world.now)
        services.reminders = SentReminderRepository(services.db, clock=world.now)
        for user, learner in (PEOPLE if people is None else people).items():
            await services.links_repo.link(TEAM, user, "zoho", str(learner), email=None, method="admin", linked_by="t")
        if ispring:
            by_email = {u.email: u.user_id for u in server.state.ispring_users.values()}
            for user in PEOPLE if people is None else people:
                person = _slack_server.stub.workspace.users[user]
                if person.email in by_email:
                    await services.links_repo.link(
                        TEAM, user, "ispring", by_email[person.email], email=None, method="admin", linked_by="t"
                    )
        for alias, course, batch, module in tracks:
            row, _ = await services.modules_repo.track(
                TEAM, "zoho", str(course), str(batch) if batch else None, str(module), alias=alias, created_by="t"
            )
            world.tracked[alias] = TrackedModuleRef(
                row.id, Provider.ZOHO, row.course_id, row.batch_id, row.module_id, row.alias
            )
        server.state.clear_calls()
        _slack_server.stub.clear()
        made.append(world)
        return world

    yield make
    for world in made:
        await world.services.aclose()


Register = Callable[[AsyncApp, Services], None]


class ServeListeners(Protocol):
    def __call__(self, world: World, name: str, *registers: Register) -> SlackDriver: ...


@pytest.fixture
def serve_listeners() -> Iterator[ServeListeners]:
    """`serve_listeners(world, name, bot.app.x_listeners, ...)`: those listeners in a Bolt app behind the bot's
    web app, on its own thread and loop; returns a driver that sends it signed Slack requests."""
    servers: list[ThreadedServer] = []

    def serve(world: World, name: str, *registers: Register) -> SlackDriver:
        secret = f"{name}-secret"
        # model_copy does not validate: give the field its real type, as Settings would
        settings = world.services.settings.model_copy(update={"slack_signing_secret": SecretStr(secret)})
        services = build_services(settings)  # its own: it lives on the web server's event loop
        app = AsyncApp(
            signing_secret=secret,
            client=AsyncWebClient(token=world.slack.workspace.bot_token, base_url=settings.slack_api_url),
        )
        for register in registers:
            register(app, services)
        server = ThreadedServer(build_web(app, services), name=name)
        server.start()
        servers.append(server)
        return SlackDriver(server.base_url + "/slack/events", secret, world.slack)

    yield serve
    for server in servers:
        server.stop()
