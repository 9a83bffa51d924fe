"""The daily prune job: old sent-log rows, Slack deliveries and connect links that can never be used again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import scheduler
from bot.reminders_root import build_engine
from bot.scheduler import _Runtime, prune_job
from bot.services.types import Provider
from storage.repositories.connect_states import ConnectStateRepository
from tests.reminders.conftest import MakeWorld


async def test_prune_job_forgets_expired_connect_links(make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    world = await make_world()
    services = world.services
    issued_at = [world.now() - timedelta(days=3)]
    services.connections.states = ConnectStateRepository(services.db, clock=lambda: issued_at[0])
    old = await services.connections.states.issue("T1", "U1", Provider.ZOHO, "eu", timedelta(minutes=10))
    issued_at[0] = world.now()
    fresh = await services.connections.states.issue("T1", "U1", Provider.ZOHO, "eu", timedelta(minutes=10))
    lines: list[str] = []
    runtime = _Runtime(services, build_engine(services, world.config), world.config, lines.append)
    monkeypatch.setattr(scheduler, "_runtime", runtime)
    await prune_job()
    assert "prune: 1 expired connect links removed" in lines
    assert await services.connections.states.consume(old) is None
    assert await services.connections.states.consume(fresh) is not None  # a link still in its 10 minutes works
