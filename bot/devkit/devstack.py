"""Everything lmsbot needs, running locally: the LMS sandbox, a Slack stand-in, a database and the bot itself.

Used by `make demo`, `lmsbot shell`, the end-to-end tests and the ack benchmark. Slack is played the way Slack
plays it: signed HTTP requests into the bot's real web app, and the bot's Web API calls out to the stand-in.
"""

from __future__ import annotations

import asyncio
import contextvars
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.app import build_app
from bot.config import Settings
from bot.container import Services, build_services
from bot.devkit.sandbox import seed
from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.slackstub.driver import SlackDriver
from bot.devkit.slackstub.server import SlackStubServer, ThreadedServer
from bot.services.types import Provider
from bot.web import ISPRING_WEBHOOK_PATH, build_web
from storage import migrate
from storage.crypto import Keyring

SIGNING_SECRET = "demo-signing-secret"  # the stand-in's and the bot's shared secret; local only
Asgi = Callable[..., Awaitable[None]]
_HANDLING: contextvars.ContextVar[BotWork | None] = contextvars.ContextVar("lmsbot_handling", default=None)


class BotWork:
    """The bot's web app, wrapped to know when it has finished with what Slack sent it.

    Bolt acks first and runs listeners (and lazy listeners) as tasks after the HTTP response: so a request
    counts until its response is sent, and every task started while handling it (and their own tasks) counts
    until it is done. `idle()` is the real signal the console and tests wait for, instead of a quiet spell.
    The inner app is set after the server listens, so the bot's settings can name the real port.
    """

    def __init__(self) -> None:
        self.inner: Asgi | None = None
        self.on_shutdown: Callable[[], Awaitable[None]] | None = None
        self._lock = threading.Lock()
        self._busy = 0
        self._factory_loop: asyncio.AbstractEventLoop | None = None

    @property
    def busy(self) -> int:
        with self._lock:
            return self._busy

    def _add(self, n: int) -> None:
        with self._lock:
            self._busy += n

    def _install_factory(self) -> None:
        loop = asyncio.get_running_loop()
        if self._factory_loop is loop:
            return
        self._factory_loop = loop

        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
            task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
            if _HANDLING.get() is self:  # started (directly or not) while handling a Slack request
                self._add(1)
                task.add_done_callback(lambda _t: self._add(-1))
            return task

        loop.set_task_factory(factory)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self.inner is None:
            raise RuntimeError("the bot's web app is not set yet")
        self._install_factory()
        self._add(1)
        token = _HANDLING.set(self)
        try:
            await self.inner(scope, receive, send)
        finally:
            _HANDLING.reset(token)
            self._add(-1)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.on_shutdown is not None:
                    await self.on_shutdown()  # on the server's own loop, where the pools were opened
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def wait_idle(self, timeout: float = 20.0) -> bool:
        """True once nothing the bot was sent is still being handled (False if `timeout` s pass first)."""
        deadline = time.monotonic() + timeout
        while self.busy:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True


ISPRING_WEBHOOK_SECRET = "demo-ispring-webhook-secret"  # the sandbox signs its iSpring webhooks with it


@dataclass(frozen=True, slots=True)
class TrackPlan:
    course_id: str
    module_id: str
    batch_id: str | None
    alias: str


DEMO_TRACKS = (
    TrackPlan(str(seed.SELF_PACED_COURSE), str(seed.SP_MODULE_1), None, "security-1"),
    TrackPlan(str(seed.SELF_PACED_COURSE), str(seed.SP_MODULE_2), None, "security-2"),
    TrackPlan(str(seed.BLENDED_COURSE), str(seed.BL_KICKOFF), str(seed.BATCH_SPRING), "kickoff"),
    TrackPlan(str(seed.BLENDED_COURSE), str(seed.BL_OFFICE_HOURS), str(seed.BATCH_SPRING), "office-hours"),
)


@dataclass
class DevStack:
    """Start with `with DevStack() as stack:`; `stack.driver` sends Slack requests, `stack.slack` records replies."""

    sandbox_config: SandboxConfig = field(default_factory=SandboxConfig)
    database_url: str | None = None
    seed_demo: bool = True
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    # Installed through Bolt's OAuth flow (SLACK_CLIENT_ID/SECRET) instead of a configured SLACK_BOT_TOKEN.
    multi_workspace: bool = False

    def __post_init__(self) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.sandbox = SandboxServer(self.sandbox_config)
        self.slack_server = SlackStubServer()
        self.web: ThreadedServer | None = None
        self.work = BotWork()
        self.settings: Settings | None = None
        self.services: Services | None = None
        self.driver: SlackDriver | None = None

    @property
    def slack(self) -> Any:
        return self.slack_server.stub

    @property
    def events_url(self) -> str:
        assert self.web is not None
        return self.web.base_url + "/slack/events"

    @property
    def ispring_webhook_url(self) -> str:
        assert self.web is not None
        return f"{self.web.base_url}{ISPRING_WEBHOOK_PATH}/{self.slack.workspace.team_id}"

    def build_settings(self, public_url: str | None = None) -> Settings:
        if self.database_url is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lmsbot-")
            self.database_url = f"sqlite:///{Path(self._tmp.name) / 'lmsbot.db'}"
        cfg = self.sandbox.config
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "lmsbot_env": "development",
            "lmsbot_encryption_keys": Keyring.generate_key(),
            "slack_signing_secret": SIGNING_SECRET,
            "slack_bot_token": self.slack.workspace.bot_token,
            "slack_api_url": self.slack_server.url,
            "zoho_people_url": self.sandbox.url,
            "zoho_accounts_url": self.sandbox.url,
            "zoho_client_id": cfg.zoho_client_id,
            "zoho_client_secret": cfg.zoho_client_secret,
            "zoho_refresh_token": cfg.zoho_refresh_token,
            "ispring_api_url": self.sandbox.url + "/ispring",
            "ispring_client_id": cfg.ispring_client_id,
            "ispring_client_secret": cfg.ispring_client_secret,
            "lmsbot_managers": "U0MARGARET",
            "lmsbot_trainers": "U0ALAN",
            # The web app and a reminder sweep share one LMS budget, as the web and worker processes do.
            "rate_limit_backend": "database",
            "ispring_webhook_secret": ISPRING_WEBHOOK_SECRET,
        }
        if public_url is not None:  # links the bot hands out (Connect Zoho) lead to where it really listens
            values["lmsbot_public_url"] = public_url
        if self.multi_workspace:
            workspace = self.slack.workspace
            values.update(
                slack_bot_token=None,
                slack_client_id=workspace.client_id,
                slack_client_secret=workspace.client_secret,
                slack_authorize_url=self.slack_server.base_url + "/oauth/v2/authorize",
            )
        values.update(self.settings_overrides)
        return Settings(_env_file=None, **values)

    def start(self) -> DevStack:
        self.sandbox.start()
        self.slack_server.start()
        if self.web is None:
            self.web = ThreadedServer(self.work, name="lmsbot-web")
            self.web.start()  # first, so the settings can name its port
        self.settings = self.build_settings(public_url=self.web.base_url)
        migrate.upgrade(self.settings.database_url)
        if self.seed_demo:
            _run_in_thread(seed_demo(self.settings, self.sandbox, self.slack))
            # Tests and the tour start from a clean record of who called what.
            self.sandbox.state.clear_calls()
            self.slack.clear()
        # The bot's services live on the web server's event loop: build them there, lazily, on first request.
        self.services = build_services(self.settings)
        app = build_app(self.services)
        self.work.inner = build_web(app, self.services)
        self.work.on_shutdown = self.services.aclose
        self.driver = SlackDriver(self.events_url, SIGNING_SECRET, self.slack)
        webhook_secret = self.settings.ispring_webhook_secret
        if webhook_secret is not None:
            # As `lmsbot ispring webhooks register` does with iSpring: the sandbox sends its completions here.
            with self.sandbox.state.lock:
                self.sandbox.state.webhooks[self.ispring_webhook_url] = webhook_secret.get_secret_value()
        return self

    def stop(self) -> None:
        servers = [s for s in (self.web, self.slack_server, self.sandbox) if s is not None]
        for server in servers:  # all at once: each takes a uvicorn tick to notice
            server.request_stop()
        for server in servers:
            server.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _run_in_thread(work: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to the end on its own loop (callers may already be inside one, e.g. async tests)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(work)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="lmsbot-seed")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


async def seed_demo(settings: Settings, sandbox: SandboxServer, slack: Any) -> None:
    """Link the demo Slack people to their sandbox learners (by e-mail) and track the demo modules."""
    services = build_services(settings)
    try:
        learners = {learner.email.lower(): str(learner.learner_id) for learner in sandbox.state.learners.values()}
        team = slack.workspace.team_id
        for user in slack.workspace.users.values():
            learner = learners.get((user.email or "").lower())
            if learner:
                await services.links.link(team, user.id, learner, actor="demo", provider=Provider.ZOHO, method="admin")
        await services.links.auto_link(team, actor="demo")
        for plan in DEMO_TRACKS:
            await services.tracking.track(
                team,
                "demo",
                course_id=plan.course_id,
                module_id=plan.module_id,
                batch_id=plan.batch_id,
                alias=plan.alias,
                verify=False,
            )
    finally:
        await services.aclose()
