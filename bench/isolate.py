"""Run a benchmark's scheduler alone in a child process, so its peak RSS and CPU are the scheduler's own.

The parent keeps the LMS sandbox and the Slack stand-in (their server threads, seeded data and call logs); the
child is spawned (not forked, so it inherits none of the parent's memory) and runs only the scheduler: the
engine, its database, its HTTP clients. The virtual clock is one shared double: the child's clock moves it, the
sandbox reads it. What the bench reads of the sandbox and the stand-in (the calls made, cleared after each sweep)
the child asks the parent for over a pipe; `RemoteSandbox` and `RemoteSlack` stand in for the servers with the
attributes the bench uses.
"""

from __future__ import annotations

import multiprocessing
import resource
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from bot.devkit.clock import VirtualClock
from bot.devkit.sandbox.config import SandboxConfig
from bot.devkit.sandbox.server import SandboxServer
from bot.devkit.slackstub import SlackStub

SPAWN = multiprocessing.get_context("spawn")


class SharedClock(VirtualClock):
    """A virtual clock whose time lives in shared memory: another process reads it (`reader`)."""

    def __init__(self, value: Synchronized[float]) -> None:
        self._value = value
        super().__init__(value.value)

    @property  # type: ignore[override]
    def _now(self) -> float:
        return self._value.value

    @_now.setter
    def _now(self, moment: float) -> None:
        self._value.value = moment


def shared_time(start: float) -> Synchronized[float]:
    return SPAWN.Value("d", start, lock=False)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Named:
    name: str


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    real_name: str
    tz: str
    is_bot: bool


@dataclass(frozen=True, slots=True)
class SlackCall:
    method: str
    at: float
    status: int


class _Pipe:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ask(self, what: str, payload: Any = None) -> Any:
        self.conn.send((what, payload))
        return self.conn.recv()


class RemoteSandboxState:
    def __init__(self, pipe: _Pipe, learners: dict[int, Named]) -> None:
        self._pipe = pipe
        self.learners = learners

    @property
    def calls(self) -> list[Any]:
        return self._pipe.ask("sandbox.calls")  # type: ignore[no-any-return]

    def clear_calls(self) -> None:
        self._pipe.ask("sandbox.clear_calls")

    def learn(self, until: float) -> int:
        """What the learners do in the LMS up to `until` happens now (the bench's `learn`); how many items."""
        return self._pipe.ask("sandbox.learn", until)  # type: ignore[no-any-return]


class RemoteSandbox:
    def __init__(self, pipe: _Pipe, url: str, config: SandboxConfig, learners: dict[int, Named]) -> None:
        self.url = url
        self.config = config
        self.state = RemoteSandboxState(pipe, learners)


@dataclass(frozen=True, slots=True)
class RemoteWorkspace:
    bot_token: str
    users: dict[str, Person]


class RemoteSlack:
    def __init__(self, pipe: _Pipe, workspace: RemoteWorkspace) -> None:
        self._pipe = pipe
        self.workspace = workspace

    @property
    def calls(self) -> list[SlackCall]:
        return self._pipe.ask("slack.calls")  # type: ignore[no-any-return]

    def clear(self) -> None:
        self._pipe.ask("slack.clear")


# drive(cell, sandbox, slack, slack_url, clock, database_url): the bench's own loop, run in the child.
Drive = Callable[[Any, RemoteSandbox, RemoteSlack, str, VirtualClock, str], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class _Start:
    drive: Drive
    cell: Any
    sandbox_url: str
    sandbox_config: SandboxConfig
    learners: dict[int, Named]
    workspace: RemoteWorkspace
    slack_url: str
    database_url: str


@dataclass(frozen=True)
class Measured:
    results: dict[str, Any]  # the cell's fields as the child's drive() filled them in
    peak_rss_mb: float  # the child's ru_maxrss: the scheduler's own peak
    cpu: float  # the child's CPU seconds (user + system)


def _child(conn: Connection, now: Synchronized[float], start: _Start) -> None:
    import asyncio

    pipe = _Pipe(conn)
    try:
        sandbox = RemoteSandbox(pipe, start.sandbox_url, start.sandbox_config, start.learners)
        slack = RemoteSlack(pipe, start.workspace)
        asyncio.run(start.drive(start.cell, sandbox, slack, start.slack_url, SharedClock(now), start.database_url))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        conn.send(("done", Measured(dict(vars(start.cell)), usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)))
    except BaseException:
        conn.send(("failed", traceback.format_exc()))
        raise
    finally:
        conn.close()


def run_scheduler(
    drive: Drive,
    cell: Any,
    sandbox: SandboxServer,
    slack: SlackStub,
    slack_url: str,
    now: Synchronized[float],
    database_url: str,
    learn: Callable[[float], int] = lambda until: 0,
) -> Measured:
    """Run `drive` in a spawned child against these servers (whose sandbox reads the clock from `now`), serving
    its questions about them until it is done; `cell` then holds the child's results. `learn(until)`: the
    learners' own progress in the sandbox up to then, applied when the child asks (`RemoteSandboxState.learn`)."""
    users = {u.id: Person(u.id, u.real_name, u.tz or "UTC", u.is_bot) for u in slack.workspace.users.values()}
    start = _Start(
        drive,
        cell,
        sandbox.url,
        sandbox.config,
        {lid: Named(learner.name) for lid, learner in sandbox.state.learners.items()},
        RemoteWorkspace(slack.workspace.bot_token, users),
        slack_url,
        database_url,
    )
    ours, theirs = SPAWN.Pipe()
    process = SPAWN.Process(target=_child, args=(theirs, now, start), name="bench-scheduler", daemon=True)
    process.start()
    theirs.close()
    answers: dict[str, Callable[[Any], Any]] = {
        "sandbox.calls": lambda _: sandbox.state.calls,
        "sandbox.clear_calls": lambda _: sandbox.state.clear_calls(),
        "sandbox.learn": learn,
        "slack.calls": lambda _: [SlackCall(c.method, c.at, c.status) for c in slack.calls],
        "slack.clear": lambda _: slack.clear(),
    }
    try:
        while True:
            try:
                what, payload = ours.recv()
            except EOFError:
                raise RuntimeError(
                    f"the scheduler process ended without a result (exit code {process.exitcode})"
                ) from None
            if what == "done":
                measured: Measured = payload
                for name, value in measured.results.items():
                    setattr(cell, name, value)
                return measured
            if what == "failed":
                raise RuntimeError(f"the scheduler process failed:\n{payload}")
            ours.send(answers[what](payload))
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
        ours.close()
